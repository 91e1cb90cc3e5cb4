"""argon2id password hashing, its cost taken from settings."""
from __future__ import annotations

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
        # verified against when a login names no account, so that an unknown
        # user costs the same time as a wrong password
        self.dummy_hash = self.hasher.hash("gatehouse-timing-equalizer")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
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
