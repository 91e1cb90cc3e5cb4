"""The error system: catalog, exceptions, handlers, catalog views and docs."""
from api.errors.exceptions import (  # noqa: F401
    AppError, DatabaseError, InvalidParameterError, NotSupportedError,
    PasswordNotMatchError, TooManyRequestsError, UnauthorizedError,
    UnknownError, UserNotExistsError)
