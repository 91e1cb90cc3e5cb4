"""JSON responses and the success envelope."""
from __future__ import annotations

import json
from typing import Any, Mapping

from flask import Response

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
