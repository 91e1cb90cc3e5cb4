"""Python client for the Gatehouse API (needs only `requests`)."""
__version__ = "0.2.0"

from gatehouse_client.client import GatehouseClient, TwoFactorChallenge  # noqa: E402
from gatehouse_client.errors import (  # noqa: E402
    ERRORS, AuthRequired, DatabaseRollback, GatehouseError, InvalidParameter, NotSupported,
    PasswordNotMatch, TooManyRequests, TransportError, UnknownError, UserNotExists)

__all__ = [
    "GatehouseClient", "TwoFactorChallenge", "ERRORS", "GatehouseError", "NotSupported",
    "UserNotExists", "PasswordNotMatch", "DatabaseRollback", "InvalidParameter", "AuthRequired",
    "TooManyRequests", "UnknownError", "TransportError", "__version__",
]
