"""gunicorn's logger with client text made safe: `logger_class` in gunicorn.conf.py.

gunicorn writes request text as it came: a path holding "%0d%0a" becomes a
second access-log line an attacker wrote, "%1b" a raw escape sequence for
the terminal reading the log. Here every access-log atom and every error-log
message has its control characters escaped (api.logging.escape_control),
through gunicorn's public hooks: the atoms wrapper class and the logger's
`setup`.
"""
from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger, SafeAtoms

from api.logging import EscapeControlCharacters, escape_control


class EscapedAtoms(SafeAtoms):
    """gunicorn's atoms (quotes escaped, "-" for a missing one), with each
    value's control characters escaped as the format reads it: only the
    atoms the format names pay for it, not every environ entry."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        return escape_control(value) if isinstance(value, str) else value


class EscapingLogger(Logger):
    atoms_wrapper_class = EscapedAtoms

    def setup(self, cfg: Any) -> None:
        """gunicorn's setup (run again on a reload), then the error log's
        messages escaped too: "Invalid request from ip=…: <the request line>"
        quotes the client."""
        super().setup(cfg)
        if not any(isinstance(f, EscapeControlCharacters) for f in self.error_log.filters):
            self.error_log.addFilter(EscapeControlCharacters())
