"""The event log as its owner reads it."""
from __future__ import annotations

from marshmallow import Schema, fields

from api.events.kinds import KINDS
from api.users.schemas import UserListQuerySchema, UTCDateTime


class EventSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": sorted(KINDS)})
    created_at = UTCDateTime(required=True)
    client_address = fields.String(allow_none=True, required=True)
    user_agent = fields.String(allow_none=True, required=True)
    session_id = fields.String(allow_none=True, required=True,
                               metadata={"description": "the session it happened in"})
    details = fields.Dict(allow_none=True, required=True,
                          metadata={"description": "a few values by kind: reason, "
                                                   "method, scope, by, session, sessions"})


class EventListQuerySchema(UserListQuerySchema):
    """limit and cursor, as GET /v1/users takes them."""
