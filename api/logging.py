"""Logging: one line per request, 5xx with traceback, never a secret.

Log lines name the request id, method, path (never the query string or
body), status and duration; nothing else from the request is written.
Control characters are escaped in every line (EscapeControlCharacters), so
a path holding "%0d%0a" cannot forge a line, nor "%1b" drive a terminal.
"""
from __future__ import annotations

import logging
import re
import sys
import time

from flask import Flask, Response, g, has_request_context

from api.request_ids import request_id
from api.requests import current_request

access_log = logging.getLogger("api.access")

# C0 and C1 controls (CR, LF, ESC, the one-byte CSI, ...), DEL, and the two
# Unicode line separators some log viewers break lines at
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """The text with every control character written as an escape (\\x0d)."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escaped, text)


class EscapeControlCharacters(logging.Filter):
    """Escapes control characters in a record's message (its traceback, kept
    apart in exc_info, keeps its lines). On a handler, it covers every
    logger that reaches it, whatever client text a line carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 (arguments that do not fit the format:
            return True  # left for the handler, which reports it and carries on)
        record.msg, record.args = escape_control(message), None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id() if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    root = logging.getLogger("api")
    root.setLevel(app.config["LOG_LEVEL"])
    if not any(getattr(h, "_gatehouse", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._gatehouse = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        handler.addFilter(EscapeControlCharacters())
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
        root.addHandler(handler)
        root.propagate = False


def register_request_hooks(app: Flask) -> None:
    """The app's own access line, when it writes one (LOG_ACCESS). It is off
    under gunicorn, whose access log already writes it (request id
    included); then no hook runs before or after the view. (The request id
    header is added where the response starts: Gatehouse.wsgi_app.)"""
    if not app.config["LOG_ACCESS"]:
        return

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        # the line is built only when INFO is on (as logging would drop it anyway)
        if access_log.isEnabledFor(logging.INFO):
            req = current_request()
            started = g.get("started")  # unset when an earlier hook answered (a 429)
            duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
            access_log.info("%s %s %s %.1fms", req.method, req.path,
                            response.status_code, duration_ms)
        return response
