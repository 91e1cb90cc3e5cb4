"""argon2id password hashing, its cost taken from settings.

At most PASSWORD_HASH_CONCURRENCY hashes or verifications run at once in a
worker process; the others wait their turn. Each holds ARGON2_MEMORY_COST
KiB while it runs, so a worker's hashing memory is bounded by
concurrency x memory cost, and a burst of logins leaves the worker's other
threads CPU for the requests that only read. Callers hash with no database
transaction open (api.db.end_read_transaction), so a hash waiting here holds
no connection and no lock.
"""
from __future__ import annotations

import threading
from contextlib import AbstractContextManager

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
        self.slots: AbstractContextManager = threading.BoundedSemaphore(
            app.config["PASSWORD_HASH_CONCURRENCY"])
        # verified against when a login names no account, so that an unknown
        # user costs the same time as a wrong password
        self.dummy_hash = self.hasher.hash("gatehouse-timing-equalizer")

    def hash(self, password: str) -> str:
        with self.slots:
            return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            with self.slots:
                return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def spend_one_verification(self, password: str) -> None:
        self.verify(self.dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def init_passwords(app: Flask) -> None:
    app.extensions[_EXT] = Passwords(app)


def passwords() -> Passwords:
    return current_app.extensions[_EXT]
