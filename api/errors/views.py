"""The catalog as JSON: what clients and tools read instead of the source."""
from __future__ import annotations

from flask import Blueprint, Response

from api.errors.catalog import CATALOG, ERROR_CODES, as_dict
from api.errors.exceptions import NotSupportedError
from api.http import language, ok

bp = Blueprint("errors", __name__, url_prefix="/v1/errors")


@bp.get("")
def list_codes() -> Response:
    """The error catalog: every code with its reasons, retry advice and hints."""
    lang = language()
    return ok([as_dict(entry, lang) for entry in ERROR_CODES])


@bp.get("/<int:code>")
def show_code(code: int) -> Response:
    """One catalog entry; problem+json `type` URIs point here."""
    entry = CATALOG.get(code)
    if entry is None or code == 200:
        raise NotSupportedError("No such error code.",
                                reason="request.route.not_found")
    return ok(as_dict(entry, language()))
