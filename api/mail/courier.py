"""The courier: sends what the outbox holds, after the commit that wrote it.

Claiming: one row at a time, by an UPDATE that sets this courier's name and
a lease on a due, unclaimed (or lease-expired) pending row and RETURNs its
id. On PostgreSQL the row is picked with ``FOR UPDATE SKIP LOCKED``, and
the UPDATE re-checks the claim condition after any wait, so two couriers
(workers, hosts) never take the same row; on SQLite the UPDATE runs under
the database's one write lock (BEGIN IMMEDIATE), which serializes claims.
The lease outlasts a send (MAIL_TIMEOUT for each SMTP step), so a row is
only taken again when its courier died mid-send; it is marked sent only
under its own claim.

Retries: a failed send is tried again after MAIL_RETRY_BASE · 2^(n-1)
seconds (at most MAIL_RETRY_MAX), the time kept in the row, so a restart
loses nothing and waits no less; after MAIL_MAX_ATTEMPTS it is given up
with an error logged (the template and row id, never an address, token or
credential).

Where it runs: in each service process (MAIL_COURIER=embedded, the
default), a daemon thread started after gunicorn forks (post_fork) or when
a request first queues mail (other servers), woken at once by a commit that queued mail and polling
every MAIL_POLL_INTERVAL seconds otherwise; or on its own with
`flask --app wsgi mail courier` (then MAIL_COURIER=off in the service).
"""
from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from api.account.models import AccountToken
from api.extensions import db
from api.mail import render
from api.mail.models import DROPPED, FAILED, PENDING, SENT, MailMessage
from api.mail.transport import MailError, Transport, transport_for
from api.maintenance import register_prunable
from api.users.models import utcnow

log = logging.getLogger("api.mail")
EXTENSION = "gatehouse.courier"

register_prunable("mail_outbox", MailMessage.__table__, MailMessage.id,
                  lambda now, cfg: MailMessage.finished_at
                  < now - timedelta(days=cfg["MAIL_RETENTION_DAYS"]))
# a token is refused whether found spent or expired or not found at all
register_prunable("account_tokens", AccountToken.__table__, AccountToken.id,
                  lambda now, _: AccountToken.expires_at < now - timedelta(days=1))


def queue(template: str, *, user_id: int | None = None, to_address: str | None = None,
          params: dict[str, Any] | None = None) -> None:
    """Add a message to the outbox in the caller's transaction: it is sent
    once (and only if) the caller commits. Nothing when MAIL_ENABLED is off."""
    if not current_app.config["MAIL_ENABLED"]:
        return
    db.session.add(MailMessage(template=template, user_id=user_id, to_address=to_address,
                               params=params or None, status=PENDING, attempts=0,
                               next_attempt_at=utcnow(), created_at=utcnow()))
    db.session.info["mail_queued"] = True


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    """A request that queued mail wakes its process's courier (starting it,
    embedded, the first time: servers other than gunicorn have no post_fork)."""
    if session.info.pop("mail_queued", False) and has_app_context():
        courier = current_app.extensions.get(EXTENSION)
        if courier is not None:
            if courier.embedded and courier._pid != os.getpid() and has_request_context():
                courier.start()
            courier.wake()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop("mail_queued", None)


class Courier:
    def __init__(self, app: Flask, transport: Transport | None = None) -> None:
        self.app = app
        # runs as a thread of each serving process (MAIL_COURIER=embedded)
        self.embedded = bool(app.config["MAIL_ENABLED"]
                             and app.config["MAIL_COURIER"] == "embedded")
        self.name = uuid.uuid4().hex
        self.transport = transport or transport_for(app.config)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    # -- the thread ------------------------------------------------------
    def running(self) -> bool:
        return self._pid == os.getpid() and self._thread is not None \
            and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread in this process (again after a fork: a thread
        does not survive one)."""
        with self._lock:
            if self.running():
                return
            self._pid = os.getpid()
            self.name = uuid.uuid4().hex  # a forked copy claims under its own name
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="gatehouse-courier",
                                            daemon=True)
            self._thread.start()
        atexit.register(self.stop)

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the message being sent (waits for it)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() \
                and self._pid == os.getpid():
            thread.join(timeout if timeout is not None
                        else self.app.config["MAIL_TIMEOUT"] * 3 + 5)

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        """Deliver until stopped: at once when woken, else every poll interval."""
        interval = self.app.config["MAIL_POLL_INTERVAL"]
        while not self._stop.is_set():
            self._wake.clear()
            with self.app.app_context():
                try:
                    self.deliver_due()
                except Exception as exc:  # the database away: try again later
                    db.session.rollback()
                    log.warning("mail courier pass failed (%s); next try in %ss",
                                type(exc).__name__, interval)
                finally:
                    db.session.remove()
            self._wake.wait(interval)

    # -- one pass --------------------------------------------------------
    def deliver_due(self, limit: int | None = None) -> int:
        """Send every due message (at most `limit`); how many were handled.
        Needs an app context."""
        done = 0
        while (limit is None or done < limit) and not self._stop.is_set():
            row_id = self.claim()
            if row_id is None:
                break
            self.deliver(row_id)
            done += 1
        return done

    def claim(self) -> int | None:
        """The id of one due message, now leased to this courier (committed), or None."""
        config = current_app.config
        now = utcnow()
        lease = timedelta(seconds=config["MAIL_TIMEOUT"] * 4 + 30)
        free = or_(MailMessage.lease_until.is_(None), MailMessage.lease_until < now)
        due = (select(MailMessage.id)
               .where(MailMessage.status == PENDING, MailMessage.next_attempt_at <= now, free)
               .order_by(MailMessage.next_attempt_at, MailMessage.id).limit(1)
               .with_for_update(skip_locked=True))
        claimed = db.session.execute(
            update(MailMessage)
            # "= (scalar subquery)": PostgreSQL runs it once; with "IN (…)" it
            # may rerun it per scanned row and claim several rows at once
            .where(MailMessage.id == due.scalar_subquery(), MailMessage.status == PENDING,
                   free)
            .values(claimed_by=self.name, lease_until=now + lease,
                    attempts=MailMessage.attempts + 1)
            .returning(MailMessage.id)
            .execution_options(synchronize_session=False)).scalar()
        db.session.commit()
        return claimed

    def deliver(self, row_id: int) -> None:
        """Render and send a claimed message; mark it sent, dropped, or due again later."""
        config = current_app.config
        row = db.session.get(MailMessage, row_id)
        if row is None:  # its account was deleted meanwhile
            db.session.commit()
            return
        template = row.template
        try:
            prepared = render.prepare(row, config)
        except Exception as exc:
            db.session.rollback()
            log.exception("mail %s (%s) could not be rendered", row_id, template)
            self._failed(row_id, template, f"render failed ({type(exc).__name__})")
            return
        if prepared is None:
            self._finish(row_id, DROPPED)
            log.info("mail %s (%s): nothing to send", row_id, template)
            return
        message, link = prepared
        db.session.commit()  # the link's token exists before the link leaves
        try:
            self.transport.send(message, link)
        except MailError as exc:
            self._failed(row_id, template, str(exc))
            return
        except Exception as exc:
            log.exception("mail %s (%s): unexpected error while sending", row_id, template)
            self._failed(row_id, template, f"unexpected error ({type(exc).__name__})")
            return
        self._finish(row_id, SENT)
        log.info("mail %s (%s) sent", row_id, template)

    def _mine(self, row_id: int) -> Any:
        return update(MailMessage).where(MailMessage.id == row_id,
                                         MailMessage.claimed_by == self.name,
                                         MailMessage.status == PENDING)

    def _finish(self, row_id: int, status: str) -> None:
        db.session.execute(self._mine(row_id).values(
            status=status, finished_at=utcnow(), claimed_by=None, lease_until=None,
            params=None, to_address=None).execution_options(synchronize_session=False))
        db.session.commit()

    def _failed(self, row_id: int, template: str, error: str) -> None:
        config = current_app.config
        attempts = db.session.scalar(select(MailMessage.attempts)
                                     .where(MailMessage.id == row_id)) or 0
        if attempts >= config["MAIL_MAX_ATTEMPTS"]:
            db.session.execute(self._mine(row_id).values(
                status=FAILED, finished_at=utcnow(), claimed_by=None, lease_until=None,
                last_error=error[:200]).execution_options(synchronize_session=False))
            db.session.commit()
            log.error("mail %s (%s) given up after %d attempts: %s", row_id, template,
                      attempts, error)
            return
        delay = min(config["MAIL_RETRY_MAX"],
                    config["MAIL_RETRY_BASE"] * 2 ** (attempts - 1))
        delay *= random.uniform(0.9, 1.0)  # couriers that failed together retry apart
        db.session.execute(self._mine(row_id).values(
            next_attempt_at=utcnow() + timedelta(seconds=delay), claimed_by=None,
            lease_until=None, last_error=error[:200])
            .execution_options(synchronize_session=False))
        db.session.commit()
        log.warning("mail %s (%s) attempt %d failed: %s; next in %.0fs", row_id, template,
                    attempts, error, delay)


def init_mail(app: Flask) -> None:
    """A courier per app. Embedded, it starts in each gunicorn worker after
    the fork (config/gunicorn.conf.py: post_fork), or under another server
    when a request first queues mail; never in a CLI process (the service's
    couriers send what a command queued) nor in gunicorn's master."""
    from api.mail import notices  # noqa: F401  (security notices follow the event log)

    app.extensions[EXTENSION] = Courier(app)


def start_embedded(app: Flask) -> None:
    """gunicorn's post_fork: start this worker's courier now."""
    courier = app.extensions.get(EXTENSION)
    if courier is not None and courier.embedded:
        courier.start()
