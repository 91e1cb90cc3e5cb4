"""Python client for the Gatehouse API (needs only `requests`)."""
from gatehouse_client.client import GatehouseClient, TwoFactorChallenge
from gatehouse_client.errors import (
    ERRORS, AuthRequired, DatabaseRollback, GatehouseError, InvalidParameter, NotSupported,
    PasswordNotMatch, TooManyRequests, TransportError, UnknownError, UserNotExists)

__all__ = [
    "GatehouseClient", "TwoFactorChallenge", "ERRORS", "GatehouseError", "NotSupported",
    "UserNotExists", "PasswordNotMatch", "DatabaseRollback", "InvalidParameter", "AuthRequired",
    "TooManyRequests", "UnknownError", "TransportError",
]
