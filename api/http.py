"""Request and response plumbing shared by every blueprint.

The success envelope, JSON body parsing that can only fail with an 88,
the request id and content negotiation (language, problem+json).
"""
from __future__ import annotations

import json
import os
import re
from typing import IO, Any, Mapping, NoReturn

from flask import Flask, Request, Response, request
from flask.sessions import NullSession, SessionInterface
from marshmallow import Schema
from werkzeug.sansio.utils import get_content_length
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

from api.errors.exceptions import InvalidParameterError, validation_error
from api.loader import Loader

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_LANGUAGES = ("en", "zh")


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


_ID_BATCH = 128
_spare_ids: list[str] = []
# a forked worker must not hand out ids its parent (or a sibling) also holds
os.register_at_fork(after_in_child=_spare_ids.clear)


def new_request_id() -> str:
    """What uuid.uuid4().hex returns, without building a UUID object. The
    random bytes are read from the OS for 128 ids at a time: one read per
    id cost about 1 µs, as much as the rest of an error's envelope."""
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


def current_request() -> Request:
    """The request itself. Each attribute read through Flask's `request`
    proxy costs about 0.6 µs; helpers on every request's path read it once."""
    return request._get_current_object()  # type: ignore[attr-defined]


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


def language(req: Request | None = None) -> str:
    """'zh' when the client prefers Chinese, else 'en'."""
    req = req or current_request()
    if "HTTP_ACCEPT_LANGUAGE" not in req.environ:
        return "en"
    # by quality, matching on the primary subtag: "en-US,zh;q=0.5" is English
    for tag, quality in req.accept_languages:
        primary = tag.split("-", 1)[0].split("_", 1)[0].lower()
        if quality > 0 and primary in _LANGUAGES:
            return primary
    return "en"


def wants_problem_json(req: Request | None = None) -> bool:
    req = req or current_request()
    if "problem" not in req.environ.get("HTTP_ACCEPT", "").lower():
        return False  # cannot name application/problem+json: skip the parse
    accept = req.accept_mimetypes
    problem = accept.quality("application/problem+json")
    return problem > 0 and problem >= accept.quality("application/json") \
        and "application/problem+json" in accept.values()


# built once (json.dumps with any option builds an encoder on every call)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_response(body: Mapping[str, Any], status: int = 200,
                  mimetype: str = "application/json",
                  headers: Mapping[str, str] | None = None) -> Response:
    payload = _ENCODER.encode(body)
    # the type as given (werkzeug adds a charset to text/* only), the headers
    # one by one: both cheaper than Response's own handling of them
    response = Response(payload + "\n", status=status, content_type=mimetype)
    if headers:
        for name, value in headers.items():
            response.headers.add(name, value)
    return response


def ok(data: Any = None, pagination: Mapping[str, Any] | None = None) -> Response:
    """The success envelope: HTTP 200, meta code 200."""
    body: dict[str, Any] = {"meta": {"code": 200, "message": "OK"}, "data": data}
    if pagination is not None:
        body["pagination"] = dict(pagination)
    return json_response(body)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# built once (json.loads with an option builds a decoder on every call)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _raw_body(req: Request) -> bytes:
    data = req.get_data(cache=True)
    # A body without Content-Length (chunked) is cut at the limit by werkzeug,
    # which returns what it read without an error; a byte left unread means
    # the body was larger than the limit. (With a Content-Length, werkzeug
    # itself rejects a body over the limit: a 413, which becomes an 88.)
    if data and req.content_length is None:
        limit = req.max_content_length
        if limit is not None and len(data) >= limit and req.input_stream.read(1):
            raise InvalidParameterError(reason="request.body.too_large")
    return data


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or an 88 saying what is wrong."""
    req = current_request()
    data = _raw_body(req)
    if not data:
        return {}
    if not req.is_json:
        raise InvalidParameterError(reason="request.body.unsupported_media_type")
    try:
        # what json.loads does with bytes: UTF-8, -16 or -32, by their signature
        body = _DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterError(reason="request.body.invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidParameterError(reason="request.body.not_object")
    return body


_LOADERS: dict[type[Schema], Loader] = {}


def _loader(schema: type[Schema]) -> Loader:
    """Built once per schema class (building a schema copies every field)."""
    loader = _LOADERS.get(schema)
    if loader is None:
        loader = _LOADERS[schema] = Loader(schema())
    return loader


def load_body(schema: type[Schema]) -> dict[str, Any]:
    """Parse the JSON body and validate it: the data, or an 88 naming each field."""
    return _load(schema, json_body())


def load_query(schema: type[Schema]) -> dict[str, Any]:
    return _load(schema, request.args.to_dict(flat=True))


def _load(schema: type[Schema], data: dict[str, Any]) -> dict[str, Any]:
    result, errors = _loader(schema).attempt(data)
    if errors:
        raise validation_error(errors)
    return result
