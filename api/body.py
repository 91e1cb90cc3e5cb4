"""Request bodies and query strings: parsed, validated, or an 88 naming the field."""
from __future__ import annotations

import json
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import Request, request
from marshmallow import Schema

from api.errors.exceptions import InvalidParameterError, validation_error
from api.loader import Loader
from api.requests import current_request

# Deeper than any body this API takes; JSON nested deeper is an attack on the
# decoder (the C scanner recurses once a level) or on code that walks it.
MAX_DEPTH = 32
_UNSTORABLE = ("Holds a character that cannot be stored: a NUL or an unpaired "
               "surrogate.")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# built once (json.loads with an option builds a decoder on every call)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _raw_body(req: Request) -> bytes:
    coding = req.environ.get("HTTP_TRANSFER_ENCODING")
    if coding is not None and coding.strip().lower() != "chunked":
        # gunicorn refuses such a request before the app (config/gunicorn.conf.py
        # answers it the same way); werkzeug would read no body and carry on
        raise InvalidParameterError(reason="request.header.unsupported_transfer_encoding")
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
        text = data.decode(json.detect_encoding(data), "surrogatepass")
        body = _DECODER.decode(text)
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterError(reason="request.body.invalid_json") from None
    except RecursionError:  # nested past the interpreter's limit
        raise InvalidParameterError(reason="request.body.too_deep") from None
    if not isinstance(body, dict):
        raise InvalidParameterError(reason="request.body.not_object")
    if not _plainly_storable(text):
        check_strings(body)
    return body


def _plainly_storable(text: str) -> bool:
    """What check_strings would pass, read off the JSON text: in ASCII JSON
    (raw control characters refused by the decoder) only a \\u escape makes
    a NUL or a lone surrogate, and nesting needs a bracket per level."""
    return text.isascii() and "\\u" not in text \
        and text.count("{") + text.count("[") <= MAX_DEPTH


def _storable(text: str) -> bool:
    """Text both databases store: no NUL (PostgreSQL refuses it in text) and
    no lone surrogate (JSON's "\\ud800" decodes to one; it has no UTF-8
    form, so neither a database driver nor the response encoder takes it)."""
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _printable(name: str) -> str:
    """A field name fit for the response and logs, whatever its key held."""
    if _storable(name):
        return name
    return name.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _field(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_strings(data: dict[str, Any]) -> None:
    """Every key and string of a decoded body (or query) is storable, and no
    object or array is nested more than MAX_DEPTH deep: else an 88 naming
    each bad string's field ("profile.names[2]"). One walk covers every
    endpoint, so no such string reaches a database, a log or a response."""
    bad: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidParameterError(reason="request.body.too_deep")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            # inline the common case (ASCII without NUL): a body is checked on
            # every request
            if type(key) is str and not (key.isascii() and "\x00" not in key) \
                    and not _storable(key):
                bad[_printable(_field(path, key))] = [_UNSTORABLE]
            elif type(value) is str:
                if not (value.isascii() and "\x00" not in value) and not _storable(value):
                    bad[_printable(_field(path, key))] = [_UNSTORABLE]
            elif isinstance(value, (dict, list)):
                stack.append((value, _field(path, key), depth + 1))
    if bad:
        raise InvalidParameterError(reason="request.param.invalid_character", fields=bad)


F = TypeVar("F", bound=Callable[..., Any])


def input_body(schema: type[Schema]) -> Callable[[F], F]:
    """The view's JSON body, loaded with `schema`, passed as keyword `body`.

    The one place a view names its body schema: the OpenAPI builder reads it
    from the view (`body_schema`). Put it directly above the `def`, below the
    guards and limits, so a caller is authenticated before the body is read.
    """
    loader = Loader(schema())  # once: building a schema copies every field

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs["body"] = _load(loader, json_body())
            return view(*args, **kwargs)

        wrapper.body_schema = schema  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]
    return decorate


def input_query(schema: type[Schema]) -> Callable[[F], F]:
    """The query string, checked as a body is and loaded with `schema`,
    passed as keyword `query` (documented from `query_schema`)."""
    loader = Loader(schema())

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = request.args.to_dict(flat=True)
            check_strings(given)
            kwargs["query"] = _load(loader, given)
            return view(*args, **kwargs)

        wrapper.query_schema = schema  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]
    return decorate


def _load(loader: Loader, data: dict[str, Any]) -> dict[str, Any]:
    """What marshmallow's load returns, or an 88 naming each field."""
    result, errors = loader.attempt(data)
    if errors:
        raise validation_error(errors)
    return result
