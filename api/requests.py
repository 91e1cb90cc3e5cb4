"""The request side of Flask as Gatehouse uses it: the request class and a
session interface that keeps no cookie session."""
from __future__ import annotations

from typing import IO, Any, NoReturn

from flask import Flask, Request, Response, request
from flask.sessions import NullSession, SessionInterface
from werkzeug.sansio.utils import get_content_length
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream


class _NoSession(NullSession):
    """Always empty and read-only: writing to it raises."""

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError("Gatehouse keeps no cookie session: clients send bearer tokens")

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail  # type: ignore
    del _fail


class NoSessions(SessionInterface):
    """The API keeps no cookie session (clients send bearer tokens), yet
    Flask would open one on every request: build a signing serializer, read
    the Cookie header, and make a session object to save afterwards. Every
    request gets the same empty, read-only session instead; a null session
    is never saved, so no response sets a cookie or varies on one."""

    null_session_class = _NoSession
    _session = _NoSession()  # shared: nothing can be written to it

    def open_session(self, app: Flask, request: Request) -> _NoSession:
        return self._session

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        """Never called: Flask saves no null session."""


class ApiRequest(Request):
    """Flask's request, reading a body of known length straight from the server.

    With MAX_CONTENT_LENGTH set and a server that ends the input itself
    (gunicorn sets wsgi.input_terminated), werkzeug wraps every body in a
    LimitedStream that reads in 64 KiB chunks through a bytearray, which
    costs more than the rest of reading a small JSON body. Such a server
    cannot read past a Content-Length, and werkzeug has already answered a
    length over the limit with 413, so a body with one within the limit is
    read from the server's own stream. A body without one (chunked) keeps
    werkzeug's guard.
    """

    @cached_property
    def content_length(self) -> int | None:
        """werkzeug's answer, from the environ: its headers view raises and
        catches a KeyError for the Transfer-Encoding a request rarely has."""
        environ = self.environ
        return get_content_length(environ.get("CONTENT_LENGTH"),
                                  environ.get("HTTP_TRANSFER_ENCODING"))

    @cached_property
    def stream(self) -> IO[bytes]:
        length, limit = self.content_length, self.max_content_length
        if length is not None and (limit is None or length <= limit) \
                and "wsgi.input_terminated" in self.environ:
            return self.environ["wsgi.input"]  # type: ignore[no-any-return]
        return get_input_stream(self.environ, max_content_length=limit)


def current_request() -> Request:
    """The request itself: every attribute read through Flask's `request`
    proxy looks the request up again, so helpers on every request's path
    read it once."""
    return request._get_current_object()  # type: ignore[attr-defined]
