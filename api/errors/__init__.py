"""The error system: catalog, exceptions, handlers, catalog views and docs."""
from api.errors.exceptions import (  # noqa: F401
    AppError, AuthRequiredError, DatabaseRollbackError, InvalidParameterError,
    NotSupportedError, PasswordNotMatchError, TooManyRequestsError, UnknownError,
    UserNotExistsError)
