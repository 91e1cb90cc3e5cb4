"""The catalog as JSON: what clients and tools read instead of the source."""
from __future__ import annotations

from flask import Blueprint, Response
from marshmallow import Schema, fields

from api.errors.catalog import CATALOG, ERROR_CODES, as_dict
from api.errors.exceptions import NotSupportedError
from api.negotiation import language
from api.responses import ok
from api.openapi import documented

bp = Blueprint("errors", __name__, url_prefix="/v1/errors")


class ReasonSchema(Schema):
    reason = fields.String(required=True)
    description = fields.String(required=True)
    hint = fields.String(required=True)


class CatalogEntrySchema(Schema):
    code = fields.Integer(required=True)
    status = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    retry = fields.String(required=True,
                          metadata={"enum": ["never", "backoff", "retry_after", "once"]})
    retryable = fields.Boolean(required=True)
    hint = fields.String(required=True)
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)


@bp.get("")
@documented(response=CatalogEntrySchema, many=True)
def list_codes() -> Response:
    """The error catalog: every code with its reasons, retry advice and hints."""
    lang = language()
    return ok([as_dict(entry, lang) for entry in ERROR_CODES])


@bp.get("/<int:code>")
@documented(response=CatalogEntrySchema, path_params={"code": {
    "description": "an error code", "schema": {"enum": [e.code for e in ERROR_CODES]}}})
def show_code(code: int) -> Response:
    """One catalog entry; problem+json `type` URIs point here."""
    entry = CATALOG.get(code)
    if entry is None or code == 200:
        raise NotSupportedError("No such error code.",
                                reason="request.route.not_found")
    return ok(as_dict(entry, language()))
