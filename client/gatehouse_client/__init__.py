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

_VERIFY = ("verify_access_token", "TokenVerifier", "VerifiedToken", "JwksKeys")


def __getattr__(name: str) -> object:
    """verify_access_token & co. for resource servers, imported on first use:
    they need PyJWT (the ``verify`` extra), the rest of the package does not."""
    if name in _VERIFY:
        from gatehouse_client import verify

        return getattr(verify, name)
    raise AttributeError(f"module 'gatehouse_client' has no attribute {name!r}")
