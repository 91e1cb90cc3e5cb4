"""The OpenAPI 3.1 document, generated from the views, their schemas and the catalog.

Views say what they return with ``@documented(...)``; what they read
(``input_body``/``input_query``), the guards (``auth_required``,
``admin_required``) and rate limits are read off the view itself; every
error response is built from ``api/errors/catalog.py``.
Nothing here restates an error fact or an endpoint by hand.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app
from marshmallow import Schema

from api import __version__
from api.errors.catalog import CATALOG, ERROR_CODES, ErrorCode
from api.errors.exceptions import InvalidParameterError
from api.responses import json_response

OPENAPI_VERSION = "3.1.0"
API_VERSION = __version__
_ATTR = "_openapi"
_PATH_PARAM = re.compile(r"<(?:([^:<>(]+)(?:\([^<>]*\))?:)?([^<>]+)>")  # <converter(args):name>
# every operation can answer these: unknown method (10), a database failure
# (77) and an unexpected one (500)
_ALWAYS = (10, 77, 500)
_REQUEST_ID = {"$ref": "#/components/headers/RequestId"}


def documented(*, response: type[Schema] | tuple[type[Schema], ...] | None = None,
               many: bool = False,
               paginated: bool = False, errors: Iterable[int] = (),
               path_params: dict[str, str | dict[str, Any]] | None = None,
               top_level: dict[str, dict[str, Any]] | None = None,
               headers: dict[str, dict[str, Any]] | None = None) -> Callable:
    """Record what a view returns (the schemas it already uses); what it
    reads comes from its `input_body`/`input_query` (api/body.py).

    ``errors`` are the codes the view's own logic raises; 10, 77 and 500 (any
    operation), 99 (guarded views), 88 (bodies, queries, path parameters) and
    429 (rate-limited views) are added by the builder. ``path_params`` maps a
    parameter to its description, or to ``{"description": …, "schema": …}``.
    ``top_level`` documents body members beside ``meta`` and ``data`` (JSON
    Schema by name: a JWK Set's ``keys``), ``headers`` the 200 answer's own
    headers (name -> OpenAPI header object).
    """
    def decorate(view: Callable) -> Callable:
        setattr(view, _ATTR, {"response": response,
                              "many": many, "paginated": paginated,
                              "errors": tuple(errors), "path_params": path_params or {},
                              "top_level": top_level or {}, "headers": headers or {}})
        return view
    return decorate


def _schema_name(schema: type[Schema]) -> str:
    name = schema.__name__
    return name[:-6] if name.endswith("Schema") else name


def _component(spec: APISpec, schema: type[Schema]) -> dict[str, str]:
    name = _schema_name(schema)
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=schema)
    return {"$ref": f"#/components/schemas/{name}"}


_FIELDS = {"type": "object", "description": "field name -> messages",
           "additionalProperties": {"type": "array", "items": {"type": "string"}}}


def _error_components(spec: APISpec) -> None:
    for entry in ERROR_CODES:
        meta = {
            "type": "object",
            "required": ["code", "message", "description", "reason", "request_id"],
            "properties": {
                "code": {"type": "integer", "const": entry.code},
                "message": {"type": "string", "enum": [entry.title, entry.title_zh]},
                "description": {"type": "string"},
                "reason": {"type": "string", "enum": [r.name for r in entry.reasons]},
                "request_id": {"type": "string"},
            },
        }
        problem = {"status": {"const": entry.status}, "code": {"const": entry.code},
                   "title": {"enum": [entry.title, entry.title_zh]},
                   "reason": {"enum": [r.name for r in entry.reasons]}}
        if entry.code == InvalidParameterError.code:  # the one error that names fields
            meta["properties"]["fields"] = problem["errors"] = _FIELDS
        spec.components.schema(f"Error{entry.code}", {
            "type": "object", "required": ["meta"],
            "description": f"{entry.code} {entry.title}: {entry.description} "
                           f"Client handling: {entry.hint}",
            "properties": {"meta": meta}})
        spec.components.schema(f"Problem{entry.code}", {"allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {"type": "object", "description": f"{entry.code} {entry.title} as problem details.",
             "properties": problem}]})
    spec.components.schema("Problem", {
        "type": "object",
        "description": "RFC 9457 problem details, sent for "
                       "`Accept: application/problem+json`.",
        "required": ["type", "title", "status", "detail", "instance", "code"],
        "properties": {
            # under PUBLIC_URL when set, else relative: never from the Host header
            "type": {"type": "string", "format": "uri-reference",
                     "description": "The code's documentation: `GET` it for the "
                                    "catalog entry (relative unless PUBLIC_URL is set)."},
            "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "instance": {"type": "string"},
            "code": {"type": "integer"}, "reason": {"type": "string"},
            "request_id": {"type": "string"},
        }})
    spec.components.schema("OkMeta", {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "integer", "const": 200},
                       "message": {"type": "string", "const": "OK"}}})
    spec.components.schema("Pagination", {
        "type": "object", "required": ["limit", "next_cursor"],
        "properties": {"limit": {"type": "integer"},
                       "next_cursor": {"type": ["string", "null"]}}})


def _error_responses(codes: Iterable[int]) -> dict[str, Any]:
    by_status: dict[int, list[ErrorCode]] = {}
    for code in sorted(set(codes)):
        entry = CATALOG[code]
        by_status.setdefault(entry.status, []).append(entry)
    responses: dict[str, Any] = {}
    for status, entries in sorted(by_status.items()):
        refs = [{"$ref": f"#/components/schemas/Error{e.code}"} for e in entries]
        schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
        headers = {"X-Request-ID": _REQUEST_ID}
        if status == 429:
            headers["Retry-After"] = {"required": True, "description": "seconds to wait",
                                      "schema": {"type": "integer", "minimum": 1}}
        if status == 401:
            headers["WWW-Authenticate"] = {"required": True, "schema": {"type": "string"}}
        problems = [{"$ref": f"#/components/schemas/Problem{e.code}"} for e in entries]
        problem = problems[0] if len(problems) == 1 else {"oneOf": problems}
        responses[str(status)] = {
            "description": "; ".join(f"{e.code} {e.title}" for e in entries),
            "headers": headers,
            "content": {"application/json": {"schema": schema},
                        "application/problem+json": {"schema": problem}},
        }
    return responses


def _success(spec: APISpec, doc: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "object"}
    if doc["response"] is not None:
        schemas = doc["response"] if isinstance(doc["response"], tuple) else (doc["response"],)
        refs = [_component(spec, s) for s in schemas]
        ref = refs[0] if len(refs) == 1 else {"oneOf": refs}
        data = {"type": "array", "items": ref} if doc["many"] else ref
    properties = {"meta": {"$ref": "#/components/schemas/OkMeta"}, "data": data}
    required = ["meta", "data"]
    if doc["paginated"]:
        properties["pagination"] = {"$ref": "#/components/schemas/Pagination"}
        required.append("pagination")
    for name, schema in doc.get("top_level", {}).items():
        properties[name] = schema
        required.append(name)
    return {"description": "OK",
            "headers": {"X-Request-ID": _REQUEST_ID, **doc.get("headers", {})},
            "content": {"application/json": {"schema": {
                "type": "object", "required": required, "properties": properties}}}}


def _path_param(converter: str, name: str, doc: str | dict[str, Any]) -> dict[str, Any]:
    """A path parameter typed by its URL converter (ids are digit strings)."""
    if converter == "int":
        schema: dict[str, Any] = {"type": "integer", "minimum": 0}
    else:
        schema = {"type": "string", "pattern": r"^[0-9]+$"}
    extra = {"description": doc} if isinstance(doc, str) else dict(doc)
    schema.update(extra.pop("schema", {}))
    return {"in": "path", "name": name, "required": True, "schema": schema, **extra}


def _operation(spec: APISpec, view: Callable, doc: dict[str, Any], rule: Any) -> dict:
    summary = (view.__doc__ or "").strip().splitlines()[0] if view.__doc__ else ""
    codes = set(_ALWAYS) | set(doc["errors"])
    op: dict[str, Any] = {"summary": summary, "operationId": rule.endpoint.replace(".", "_"),
                          "tags": [rule.endpoint.split(".")[0]]}
    if getattr(view, "auth_required", False):
        op["security"] = [{"bearer": []}]
        codes.add(99)
    if getattr(view, "rate_limited", False):
        codes.add(429)
    params = []
    for converter, name in _PATH_PARAM.findall(rule.rule):
        params.append(_path_param(converter, name, doc["path_params"].get(name, "")))
        codes.add(88)
    query = getattr(view, "query_schema", None)
    if query is not None:
        params.append({"in": "query", "schema": query})
        codes.add(88)
    if params:
        op["parameters"] = params
    body = getattr(view, "body_schema", None)
    if body is not None:
        # a schema marked body_optional (every field optional) may take no body
        op["requestBody"] = {
            "required": not getattr(body, "body_optional", False),
            "content": {"application/json": {"schema": _component(spec, body)}}}
        codes.add(88)
    op["responses"] = {"200": _success(spec, doc), **_error_responses(codes)}
    return op


def build_spec(app: Flask) -> dict[str, Any]:
    """The document for this app's routes (deterministic: sorted paths)."""
    spec = APISpec(title="Gatehouse", version=API_VERSION,
                   openapi_version=OPENAPI_VERSION, plugins=[MarshmallowPlugin()],
                   info={"description": "Accounts and authentication over the legacy "
                                        "meta-code envelope. Every error is "
                                        "`{meta: {code, message, description, reason, "
                                        "request_id}}`; see GET /v1/errors."})
    spec.components.security_scheme("bearer", {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "`Authorization: Bearer <access_token>`. Accounts with 2FA get "
                       "access tokens written `2f.<jwt>`; send them unchanged."})
    spec.components.header("RequestId", {
        "required": True, "description": "On every response: the client's X-Request-ID "
                                         "when well-formed, else a new one.",
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,128}$"}})
    _error_components(spec)
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    paths: dict[str, dict[str, Any]] = {}
    for rule in rules:
        view = app.view_functions.get(rule.endpoint)
        doc = getattr(view, _ATTR, None)
        if doc is None:
            continue
        path = _PATH_PARAM.sub(r"{\2}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(spec, view, doc, rule)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def spec_of(app: Flask) -> dict[str, Any]:
    """Built once per app, on first use."""
    cache = app.extensions.setdefault("gatehouse.openapi", {})
    if "spec" not in cache:
        cache["spec"] = build_spec(app)
    return cache["spec"]


bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document."""
    return json_response(spec_of(current_app._get_current_object()))  # type: ignore[attr-defined]


def render(app: Flask) -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(build_spec(app), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def docs_blueprint() -> Blueprint:
    """Swagger UI, served from the flask-swagger-ui package's own files (no CDN)."""
    from flask_swagger_ui import get_swaggerui_blueprint

    # validatorUrl: Swagger UI would otherwise show a badge fetched from
    # validator.swagger.io (leaking the document's URL) on any non-loopback host
    return get_swaggerui_blueprint("/docs", "/openapi.json", blueprint_name="docs",
                                   config={"app_name": "Gatehouse API", "validatorUrl": None})
