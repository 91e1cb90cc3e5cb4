"""Liveness and readiness probes for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, Response
from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors.exceptions import DatabaseError
from api.extensions import db
from api.http import ok
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
    """Readiness: the database answers a query."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise DatabaseError(reason="database.connection.unavailable") from None
    return ok({"status": "ok", "database": "ok"})
