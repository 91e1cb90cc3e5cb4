"""Request ids: a well-formed incoming X-Request-ID, else a new random one."""
from __future__ import annotations

import os
import re
from typing import Any

from flask import Request

from api.requests import current_request

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

_ID_BATCH = 128
_spare_ids: list[str] = []
# a forked worker must not hand out ids its parent (or a sibling) also holds
os.register_at_fork(after_in_child=_spare_ids.clear)


def new_request_id() -> str:
    """What uuid.uuid4().hex returns, without building a UUID object. The
    random bytes are read from the OS for 128 ids at a time: one read per
    id cost as much as the rest of an error's envelope."""
    try:
        return _spare_ids.pop()
    except IndexError:  # list.pop is atomic: threads never share an id
        _spare_ids.extend(_make_ids(_ID_BATCH))
        return _spare_ids.pop()


def _make_ids(count: int) -> list[str]:
    raw = bytearray(os.urandom(16 * count))
    ids = []
    for start in range(0, 16 * count, 16):
        raw[start + 6] = raw[start + 6] & 0x0F | 0x40  # version 4
        raw[start + 8] = raw[start + 8] & 0x3F | 0x80  # RFC 4122 variant
        ids.append(raw[start:start + 16].hex())
    return ids


_REQUEST_ID_KEY = "gatehouse.request_id"


def request_id(req: Request | None = None) -> str:
    """This request's id, made on first use: a well-formed incoming
    X-Request-ID is reused, else a new one. Kept in the WSGI environ."""
    return environ_request_id((req or current_request()).environ)


def environ_request_id(environ: dict[str, Any]) -> str:
    """request_id() for a WSGI environ (where the response starts)."""
    rid = environ.get(_REQUEST_ID_KEY)
    if rid is None:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if _REQUEST_ID_RE.match(incoming) else new_request_id()
        environ[_REQUEST_ID_KEY] = rid
    return rid
