"""Liveness and readiness probes for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors.exceptions import DatabaseError
from api.extensions import db
from api.http import ok

bp = Blueprint("health", __name__, url_prefix="/health")


@bp.get("/live")
def live() -> Response:
    """Liveness: the process answers."""
    return ok({"status": "ok"})


@bp.get("/ready")
def ready() -> Response:
    """Readiness: the database answers a query."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise DatabaseError(reason="database.connection.unavailable") from None
    return ok({"status": "ok", "database": "ok"})
