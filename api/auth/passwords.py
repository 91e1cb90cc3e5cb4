"""argon2id password hashing, its cost taken from settings.

Hashes and verifications run on a small pool of threads of their own: at
most PASSWORD_HASH_CONCURRENCY at once in a worker process, the others wait
their turn. Each holds ARGON2_MEMORY_COST KiB while it runs, so a worker's
hashing memory is bounded by concurrency x memory cost. On Linux the pool's
threads (and the lane threads argon2 starts from them) run at the lower CPU
priority PASSWORD_HASH_NICE: when the cores are busy, requests that only
read go first and a burst of logins waits for what they leave, instead of
every request waiting behind the hashes. Callers hash with no database
transaction open (api.db.end_read_transaction), so a hash waiting here holds
no connection and no lock.
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app

_EXT = "gatehouse.passwords"


class Passwords:
    def __init__(self, app: Flask) -> None:
        self.hasher = PasswordHasher(
            time_cost=app.config["ARGON2_TIME_COST"],
            memory_cost=app.config["ARGON2_MEMORY_COST"],
            parallelism=app.config["ARGON2_PARALLELISM"],
            type=Type.ID)
        self.concurrency = app.config["PASSWORD_HASH_CONCURRENCY"]
        self.nice = app.config["PASSWORD_HASH_NICE"]
        self._pool: tuple[int, ThreadPoolExecutor] | None = None
        self._pool_lock = threading.Lock()
        # verified against when a login names no account, so that an unknown
        # user costs the same time as a wrong password
        self.dummy_hash = self.hasher.hash("gatehouse-timing-equalizer")

    @property
    def pool(self) -> ThreadPoolExecutor:
        """This process's hashing threads. Made on first use in each process:
        gunicorn builds the app before it forks the workers (preload_app),
        and a pool whose threads started in the parent would be a pool
        without threads in a child."""
        made = self._pool
        if made is None or made[0] != os.getpid():
            with self._pool_lock:
                made = self._pool
                if made is None or made[0] != os.getpid():
                    made = (os.getpid(), ThreadPoolExecutor(
                        max_workers=self.concurrency, thread_name_prefix="argon2",
                        initializer=_lower_priority, initargs=(self.nice,)))
                    self._pool = made
        return made[1]

    def hash(self, password: str) -> str:
        return self.pool.submit(self.hasher.hash, password).result()

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.pool.submit(self.hasher.verify, password_hash, password).result()
        except (VerificationError, InvalidHashError):
            return False

    def spend_one_verification(self, password: str) -> None:
        self.verify(self.dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def _lower_priority(nice: int) -> None:
    """Lower this thread's CPU priority by `nice` (Linux: a thread is a task
    of its own there, and the threads it starts inherit its priority)."""
    if nice and sys.platform == "linux":
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread,
                       min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))


def init_passwords(app: Flask) -> None:
    app.extensions[_EXT] = Passwords(app)


def passwords() -> Passwords:
    return current_app.extensions[_EXT]
