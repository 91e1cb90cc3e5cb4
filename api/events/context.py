"""Where a request comes from, as sessions and events keep it."""
from __future__ import annotations

import re

from flask import has_request_context, request

from api.auth.models import USER_AGENT_MAX

ADDRESS_MAX = 64
# C0 and C1 control characters, DEL, and the line/paragraph separators: a
# header may carry them (werkzeug decodes latin-1), a log or a table cell
# must not show them
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean_text(text: str | None, limit: int) -> str | None:
    """Control characters removed, surrounding blanks trimmed, cut to `limit`
    characters; None for nothing left."""
    if not text:
        return None
    if not (text.isascii() and text.isprintable()):
        text = _CONTROL.sub("", text)
        # a lone surrogate cannot be stored (werkzeug never makes one; be sure)
        text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.strip()[:limit]
    return text or None


def client_address() -> str | None:
    """The client's address (behind trusted proxies, as api/proxies.py set
    REMOTE_ADDR), or None outside a request (the CLI)."""
    if not has_request_context():
        return None
    return clean_text(request.remote_addr, ADDRESS_MAX)


def user_agent() -> str | None:
    """The User-Agent header, storable and cut to the column, or None."""
    if not has_request_context():
        return None
    return clean_text(request.environ.get("HTTP_USER_AGENT"), USER_AGENT_MAX)
