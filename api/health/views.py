"""Liveness and readiness probes for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, Response
from marshmallow import Schema, fields
from sqlalchemy.exc import SQLAlchemyError

from api.errors.exceptions import DatabaseRollbackError
from api.schema import SchemaState, schema_state
from api.responses import ok
from api.openapi import documented

bp = Blueprint("health", __name__, url_prefix="/health")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    database = fields.String(metadata={"example": "ok"})


@bp.get("/live")
@documented(response=HealthSchema)
def live() -> Response:
    """Liveness: the process answers."""
    return ok({"status": "ok"})


@bp.get("/ready")
@documented(response=HealthSchema)
def ready() -> Response:
    """Readiness: the database answers, and its schema is at the migration head."""
    try:
        state = schema_state()
    except SQLAlchemyError:
        raise DatabaseRollbackError(reason="database.connection.unavailable") from None
    if state is SchemaState.OUTDATED:
        # every request would fail: keep traffic away until `db upgrade` has run
        raise DatabaseRollbackError(reason="database.schema.outdated")
    return ok({"status": "ok", "database": "ok"})
