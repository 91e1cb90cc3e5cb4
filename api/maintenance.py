"""Retention: what is deleted once it can matter to no one, and when.

Each prunable table is one `Prunable` in PRUNABLE: its table, its key
column, and the condition (from now and the settings) under which a row is
dead. A table added later (the mail outbox, one-time tokens) is one line:

    register_prunable("mail_outbox", MailOutbox.__table__, MailOutbox.id,
                      lambda now, cfg: MailOutbox.sent_at < now - timedelta(days=7))

`prune()` deletes in batches of at most PRUNE_BATCH_SIZE rows (fewer
while batches take longer than BATCH_SECONDS), each in its own short
transaction: ``DELETE … WHERE key IN (SELECT key … WHERE dead
LIMIT n)``, found by an index on the condition's column, so no batch holds
SQLite's one write lock (or PostgreSQL's row locks) for long, and a login
waiting behind it waits for that batch, not for the whole prune (on SQLite
the prune leaves the lock free between batches as long as it held it).

The service prunes by itself (`init_pruning`): at most once per
PRUNE_INTERVAL seconds per process, after a response has been sent (a
callback on the response's close, so no client waits for it), a bounded
pass (at most AUTO_PRUNE_MAX_BATCHES batches a table). With several
workers and hosts each process does so on its own schedule, started at a
random point of the interval: the deletes are idempotent (a row two
processes both try to delete is deleted once; the other's batch finds
fewer rows), each batch is short, and a pass over tables with nothing dead
costs one indexed query a table. A claim row or an advisory lock would
save only those empty queries, and would add a table and a failure mode
(a claim held by a dead process).
"""
from __future__ import annotations

import logging
import os
import random
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import Flask, Response
from sqlalchemy import Column, ColumnElement, Table, delete, select

from api.auth.models import AuthSession, LoginChallenge, RecoveryCode
from api.events.models import SecurityEvent
from api.extensions import db
from api.passkeys.models import PasskeyChallenge
from api.users.models import utcnow

log = logging.getLogger("api.maintenance")

# an automatic pass deletes at most this many batches a table; the rest waits
# for the next pass (or `flask maintenance prune`, which goes to the end)
AUTO_PRUNE_MAX_BATCHES = 20

# a batch's transaction aims at this long at most (its size adapts), and
# never shrinks below MIN_BATCH rows
BATCH_SECONDS = 0.1
MIN_BATCH = 50

Condition = Callable[[datetime, dict[str, Any]], ColumnElement[bool]]


@dataclass(frozen=True)
class Prunable:
    name: str
    table: Table
    key: Column[Any]
    dead: Condition


PRUNABLE: list[Prunable] = []


def register_prunable(name: str, table: Table, key: Any, dead: Condition) -> None:
    """Add a table to the prune: rows for which `dead(now, config)` holds are deleted."""
    PRUNABLE.append(Prunable(name, table, key, dead))


def _ended_sessions(now: datetime, config: dict[str, Any]) -> ColumnElement[bool]:
    cutoff = now - timedelta(seconds=config["SESSION_PRUNE_GRACE"])
    return (AuthSession.expires_at < cutoff) | (AuthSession.revoked_at < cutoff)


register_prunable("auth_sessions", AuthSession.__table__, AuthSession.id, _ended_sessions)
# a challenge is spent once used, dead once expired: a token for it answers
# 99 auth.challenge.invalid either way, found or not
register_prunable("login_challenges", LoginChallenge.__table__, LoginChallenge.id,
                  lambda now, _: (LoginChallenge.expires_at < now)
                  | LoginChallenge.consumed_at.is_not(None))
# a used recovery code is refused whether it is found used or not found
register_prunable("recovery_codes", RecoveryCode.__table__, RecoveryCode.id,
                  lambda now, _: RecoveryCode.used_at.is_not(None))
# a passkey challenge is single-use and short-lived: refused found or not
register_prunable("passkey_challenges", PasskeyChallenge.__table__, PasskeyChallenge.id,
                  lambda now, _: (PasskeyChallenge.expires_at < now)
                  | PasskeyChallenge.used_at.is_not(None))
register_prunable("security_events", SecurityEvent.__table__, SecurityEvent.id,
                  lambda now, cfg: SecurityEvent.created_at
                  < now - timedelta(days=cfg["EVENT_RETENTION_DAYS"]))


def prune_table(item: Prunable, config: dict[str, Any], *, batch_size: int,
                max_batches: int | None = None) -> int:
    """Delete `item`'s dead rows, a batch a transaction; how many."""
    now = utcnow()
    dead = item.dead(now, config)
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    size = batch_size
    total = batches = 0
    while max_batches is None or batches < max_batches:
        started = time.monotonic()
        keys = select(item.key).where(dead).limit(size).scalar_subquery()
        deleted = db.session.execute(
            delete(item.table).where(item.key.in_(keys))
            .execution_options(synchronize_session=False)).rowcount or 0
        db.session.commit()
        took = time.monotonic() - started
        total += deleted
        batches += 1
        if deleted < size:
            break
        # a slow batch (a busy disk, a checkpoint) halves the next one, a
        # quick one lets it grow back: each transaction stays near
        # BATCH_SECONDS however fast the machine is
        if took > BATCH_SECONDS:
            size = max(MIN_BATCH, size // 2)
        elif took < BATCH_SECONDS / 4:
            size = min(batch_size, size * 2)
        if sqlite:
            # SQLite has one write lock, and a writer waiting for it sleeps in
            # its busy handler (up to 100 ms a nap): taking the lock straight
            # back would starve it. Leaving it free as long as the batch held
            # it lets every waiter in before the next batch.
            time.sleep(min(max(took, 0.01), 0.25))
    return total


def prune(config: dict[str, Any], *, batch_size: int | None = None,
          max_batches: int | None = None) -> dict[str, int]:
    """Every prunable table pruned; rows deleted by table name."""
    size = batch_size or config["PRUNE_BATCH_SIZE"]
    return {item.name: prune_table(item, config, batch_size=size, max_batches=max_batches)
            for item in PRUNABLE}


class _Schedule:
    """When this process next prunes (a monotonic time)."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.start()
        # gunicorn builds the app in its master and forks the workers from
        # it, a recycled one much later: each child starts a schedule of its
        # own (inherited, every worker would prune at the master's one
        # point, and a recycled worker on its first request once it passed)
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _restart(ref))

    def start(self) -> None:
        """A random point of the first interval from now: processes started
        together do not prune together."""
        self.lock = threading.Lock()  # a lock held at a fork stays held in the child
        self.due = time.monotonic() + random.uniform(0, self.interval)

    def claim(self) -> bool:
        """True once per interval, to one thread (which then prunes); a pass
        is bounded, so it ends long before the next is due."""
        with self.lock:
            now = time.monotonic()
            if now < self.due:
                return False
            self.due = now + self.interval
            return True


def _restart(ref: "weakref.ref[_Schedule]") -> None:
    schedule = ref()
    if schedule is not None:
        schedule.start()


def init_pruning(app: Flask) -> None:
    """Prune after a response at most once per PRUNE_INTERVAL (0: never)."""
    interval = app.config["PRUNE_INTERVAL"]
    if not interval:
        return
    schedule = _Schedule(interval)
    app.extensions["gatehouse.prune"] = schedule

    def run() -> None:
        with app.app_context():
            try:
                counts = prune(app.config, max_batches=AUTO_PRUNE_MAX_BATCHES)
            except Exception as exc:  # never surfaces in a request; next pass retries
                db.session.rollback()
                log.warning("automatic prune failed (%s); next try in %ss",
                            type(exc).__name__, interval)
                return
        if any(counts.values()):
            log.info("pruned %s", ", ".join(f"{k}={v}" for k, v in counts.items() if v))

    @app.after_request
    def _maybe_prune(response: Response) -> Response:
        if time.monotonic() >= schedule.due and schedule.claim():
            response.call_on_close(run)
        return response
