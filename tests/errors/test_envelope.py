"""Every error leaves as the envelope: codes, reasons, request ids, problem+json, Chinese."""
from __future__ import annotations

import gc
import io
from typing import Any, Iterator

import pytest
from flask import Blueprint, Flask, abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api.errors import exceptions as exc
from api.errors.catalog import CATALOG, ERROR_CODES
from api.extensions import db
from api.body import input_body
from api.db import writes
from api.responses import ok
from tests.conftest import make_app
from tests.server import free_port

SECRET = "secret-xyz-do-not-leak"
ENVELOPE_KEYS = {"code", "message", "description", "reason", "request_id"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "reason", "request_id"}


class ThingSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=10))
    size = fields.Integer(required=True)


class CheckedThingSchema(ThingSchema):
    """Has a schema validator (its message is under _schema)."""

    @validates_schema
    def _not_bad(self, data: dict, **_: Any) -> None:
        if data.get("name") == "bad":
            raise ValidationError("No bad things.")


def _probe_blueprint() -> Blueprint:
    """Test-only routes that exercise each path of the error handler."""
    bp = Blueprint("probe", __name__, url_prefix="/probe")

    @bp.post("/body")
    @input_body(ThingSchema)
    def body(body: dict[str, Any]) -> Any:
        return ok(body)

    @bp.post("/checked-body")
    @input_body(CheckedThingSchema)
    def checked_body(body: dict[str, Any]) -> Any:
        return ok(body)

    @bp.get("/raise/<int:code>")
    def raise_code(code: int) -> Any:
        raise exc.ERROR_CLASSES[code]()

    @bp.get("/crash")
    def crash() -> Any:
        raise RuntimeError(SECRET)

    @bp.get("/abort/<int:status>")
    def abort_status(status: int) -> Any:
        abort(status)

    @bp.post("/write-then-fail")
    @writes
    def write_then_fail() -> Any:
        db.session.execute(text("INSERT INTO probe_things (name) VALUES ('half')"))
        db.session.flush()
        raise RuntimeError(SECRET)

    @bp.post("/write-ok")
    @writes
    def write_ok() -> Any:
        db.session.execute(text("INSERT INTO probe_things (name) VALUES ('whole')"))
        db.session.commit()
        return ok({"written": True})

    @bp.post("/duplicate")
    @writes
    def duplicate() -> Any:
        for _ in range(2):
            db.session.execute(text("INSERT INTO probe_users (username) VALUES ('ada')"))
        return ok()

    @bp.get("/bad-sql")
    def bad_sql() -> Any:
        db.session.execute(text(f"SELECT '{SECRET}' FROM no_such_table"))
        return ok()

    return bp


@pytest.fixture
def probe() -> Iterator[Flask]:
    app = make_app()
    app.register_blueprint(_probe_blueprint())
    with app.app_context():
        db.create_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS probe_things"))
            conn.execute(text("DROP TABLE IF EXISTS probe_users"))
            conn.execute(text("CREATE TABLE probe_things (name VARCHAR(20))"))
            conn.execute(text("CREATE TABLE probe_users (username VARCHAR(20) "
                              "CONSTRAINT uq_probe_users_username UNIQUE)"))
    yield app
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE probe_things"))
            conn.execute(text("DROP TABLE probe_users"))
        db.drop_all()


def meta_of(resp: Any) -> dict:
    assert resp.content_type == "application/json"
    body = resp.get_json()
    assert set(body) == {"meta"}
    return body["meta"]


@pytest.mark.parametrize("code", [e.code for e in ERROR_CODES])
def test_every_catalog_code_renders(probe: Flask, code: int) -> None:
    entry = CATALOG[code]
    r = probe.test_client().get(f"/probe/raise/{code}")
    m = meta_of(r)
    assert r.status_code == entry.status
    assert (m["code"], m["message"]) == (code, entry.title)
    assert m["reason"] == entry.reasons[0].name
    assert m["description"] == entry.reasons[0].description
    assert m["request_id"] == r.headers["X-Request-ID"]
    assert set(m) == ENVELOPE_KEYS  # `fields` only on validation errors


@pytest.mark.parametrize("code", [e.code for e in ERROR_CODES])
def test_every_code_as_problem_json(probe: Flask, code: int) -> None:
    entry = CATALOG[code]
    r = probe.test_client().get(f"/probe/raise/{code}",
                                headers={"Accept": "application/problem+json"})
    assert r.status_code == entry.status
    assert r.content_type == "application/problem+json"
    body = r.get_json()
    assert body["type"] == f"/v1/errors/{code}"  # relative: never from the Host header
    assert (body["title"], body["status"], body["code"]) == (entry.title, entry.status, code)
    assert body["detail"] == entry.reasons[0].description
    assert body["instance"] == f"/probe/raise/{code}"
    assert body["request_id"] == r.headers["X-Request-ID"]
    assert set(body) == PROBLEM_KEYS  # `errors` only with fields
    # the type URI resolves to the catalog entry
    doc = probe.test_client().get(f"/v1/errors/{code}").get_json()["data"]
    assert doc["code"] == code and doc["title"] == entry.title


@pytest.mark.parametrize("accept_language", ["zh", "zh-CN", "zh-CN,zh;q=0.9,en;q=0.5"])
@pytest.mark.parametrize("code", [e.code for e in ERROR_CODES])
def test_every_code_in_chinese(probe: Flask, code: int, accept_language: str) -> None:
    entry = CATALOG[code]
    r = probe.test_client().get(f"/probe/raise/{code}",
                                headers={"Accept-Language": accept_language})
    m = meta_of(r)
    assert r.status_code == entry.status
    assert (m["code"], m["message"]) == (code, entry.title_zh)
    assert m["description"] == entry.reasons[0].description_zh
    assert m["reason"] == entry.reasons[0].name  # reasons are never translated
    assert r.headers["Content-Language"] == "zh"


def test_english_is_the_default_and_wins_when_preferred(probe: Flask) -> None:
    c = probe.test_client()
    assert meta_of(c.get("/probe/raise/88"))["message"] == "Invalid Parameter"
    r = c.get("/probe/raise/88", headers={"Accept-Language": "en-US,zh;q=0.5"})
    assert meta_of(r)["message"] == "Invalid Parameter"
    r = c.get("/probe/raise/88", headers={"Accept-Language": "fr"})
    assert meta_of(r)["message"] == "Invalid Parameter"
    assert "Content-Language" not in r.headers


def test_json_preferred_over_problem_when_both_accepted(probe: Flask) -> None:
    r = probe.test_client().get(
        "/probe/raise/99", headers={"Accept": "application/json, application/problem+json;q=0.5"})
    assert r.content_type == "application/json"
    r = probe.test_client().get("/probe/raise/99", headers={"Accept": "*/*"})
    assert r.content_type == "application/json"


def test_unknown_path_is_10(client: Any) -> None:
    for path in ("/nope", "/v1/nope", "/v2/users/me", "/health"):
        r = client.get(path)
        m = meta_of(r)
        assert (r.status_code, m["code"], m["reason"]) == (404, 10, "request.route.not_found")
        assert m["message"] == "Not Supported"


def test_wrong_method_is_10_with_allow(client: Any) -> None:
    r = client.delete("/health/live")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (404, 10, "request.method.not_allowed")
    assert "GET" in r.headers["Allow"]
    r = client.get("/v1/auth/login")
    assert meta_of(r)["reason"] == "request.method.not_allowed"


@pytest.mark.parametrize("status,code,reason", [
    (400, 88, "request.body.bad_request"),
    (401, 99, "auth.token.missing"),
    (403, 99, "auth.permission.admin_required"),
    (409, 88, "request.body.bad_request"),
    (413, 88, "request.body.too_large"),
    (415, 88, "request.body.unsupported_media_type"),
    (429, 429, "request.rate.limited"),
    (501, 500, "server.internal.error"),
    (503, 500, "server.internal.error"),
])
def test_werkzeug_errors_map_to_legacy_codes(probe: Flask, status: int, code: int,
                                             reason: str) -> None:
    r = probe.test_client().get(f"/probe/abort/{status}")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (CATALOG[code].status, code, reason)
    if code == 429:
        assert int(r.headers["Retry-After"]) >= 1
    if code == 99:
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_malformed_json_is_88(probe: Flask) -> None:
    r = probe.test_client().post("/probe/body", data="{bad",
                                 content_type="application/json")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (400, 88, "request.body.invalid_json")
    assert m["description"] == "The request body is not valid JSON."
    for raw in ('{"name": NaN, "size": 1}', b"\xff\xfe{}", '{"a": 1'):
        r = probe.test_client().post("/probe/body", data=raw, content_type="application/json")
        assert meta_of(r)["reason"] == "request.body.invalid_json"


def test_wrong_content_type_is_88(probe: Flask) -> None:
    r = probe.test_client().post("/probe/body", data="name=x&size=1",
                                 content_type="application/x-www-form-urlencoded")
    m = meta_of(r)
    assert (r.status_code, m["reason"]) == (400, "request.body.unsupported_media_type")
    assert "application/json" in m["description"]


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "3", "null"])
def test_body_not_an_object_is_88(probe: Flask, raw: str) -> None:
    r = probe.test_client().post("/probe/body", data=raw, content_type="application/json")
    m = meta_of(r)
    assert (r.status_code, m["reason"]) == (400, "request.body.not_object")
    assert m["description"] == "The request body must be a JSON object."


def test_body_over_64_kib_is_88(probe: Flask) -> None:
    big = '{"name": "' + "a" * (64 * 1024) + '", "size": 1}'
    r = probe.test_client().post("/probe/body", data=big, content_type="application/json")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (400, 88, "request.body.too_large")
    assert "64 KiB" in m["description"]
    just_fits = '{"name": "ok", "size": 1, "pad": "' + "a" * (60 * 1024) + '"}'
    r = probe.test_client().post("/probe/body", data=just_fits, content_type="application/json")
    assert meta_of(r)["reason"] == "request.param.invalid"  # parsed, then validated


def _chunked(probe: Flask, body: bytes) -> Any:
    """A body without Content-Length, as a chunked upload reaches the app."""
    return probe.test_client().post(
        "/probe/body", input_stream=io.BytesIO(body), content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})


def test_chunked_body_over_64_kib_is_88(probe: Flask) -> None:
    # valid JSON padded with spaces: cut at 64 KiB it would still parse
    head = b'{"name": "ok", "size": 1}'
    r = _chunked(probe, head + b" " * (64 * 1024))
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (400, 88, "request.body.too_large")
    r = _chunked(probe, head + b" " * (64 * 1024 - len(head)))  # exactly 64 KiB
    assert r.status_code == 200
    assert r.get_json()["data"] == {"name": "ok", "size": 1}


def test_schema_validator_errors_are_88(probe: Flask) -> None:
    r = probe.test_client().post("/probe/checked-body", json={"name": "bad", "size": 1})
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (400, 88, "request.param.invalid")
    assert m["fields"] == {"_schema": ["No bad things."]}
    ok_r = probe.test_client().post("/probe/checked-body", json={"name": "fine", "size": 1})
    assert ok_r.status_code == 200 and ok_r.get_json()["data"] == {"name": "fine", "size": 1}


def test_body_of_known_length_read_from_a_terminating_server(probe: Flask) -> None:
    """As under gunicorn (wsgi.input_terminated): the server's own stream is
    read when Content-Length is within the limit; over it, still an 88."""
    c = probe.test_client()
    server = {"wsgi.input_terminated": True}
    r = c.post("/probe/body", json={"name": "ok", "size": 1}, environ_overrides=server)
    assert r.status_code == 200 and r.get_json()["data"] == {"name": "ok", "size": 1}
    big = '{"name": "ok", "size": 1, "pad": "' + "a" * (64 * 1024) + '"}'
    r = c.post("/probe/body", data=big, content_type="application/json",
               environ_overrides=server)
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (400, 88, "request.body.too_large")


def test_validation_error_names_fields(probe: Flask) -> None:
    c = probe.test_client()
    r = c.post("/probe/body", json={"size": 1})
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (400, 88, "request.param.invalid")
    assert m["description"] == "Missing required parameter: name"
    assert m["fields"] == {"name": ["Missing data for required field."]}
    r = c.post("/probe/body", json={"name": "x" * 11, "size": "big", "extra": True})
    m = meta_of(r)
    assert m["description"] == "Invalid parameter: extra, name, size"
    assert m["fields"]["extra"] == ["Unknown field."]
    assert m["fields"]["size"] == ["Not a valid integer."]
    r = c.post("/probe/body", data="", content_type="application/json")
    assert meta_of(r)["description"] == "Missing required parameter: name, size"


def test_validation_fields_in_problem_json(probe: Flask) -> None:
    r = probe.test_client().post("/probe/body", json={"size": 1},
                                 headers={"Accept": "application/problem+json"})
    body = r.get_json()
    assert r.content_type == "application/problem+json"
    assert body["errors"] == {"name": ["Missing data for required field."]}
    assert body["detail"] == "Missing required parameter: name"


def test_request_id_reused_when_well_formed(client: Any) -> None:
    for rid in ("abc-123", "A.b_c-9", "x" * 128):
        r = client.get("/nope", headers={"X-Request-ID": rid})
        assert r.headers["X-Request-ID"] == rid
        assert meta_of(r)["request_id"] == rid
    ok_resp = client.get("/health/live", headers={"X-Request-ID": "trace-1"})
    assert ok_resp.headers["X-Request-ID"] == "trace-1"


@pytest.mark.parametrize("rid", ["", "x" * 129, "has space", "semi;colon", "ü", "a/b"])
def test_request_id_replaced_when_malformed(client: Any, rid: str) -> None:
    r = client.get("/nope", headers={"X-Request-ID": rid})
    new = r.headers["X-Request-ID"]
    assert new != rid and len(new) == 32 and new.isalnum()
    assert meta_of(r)["request_id"] == new


def test_every_response_has_a_distinct_request_id(client: Any) -> None:
    ids = {client.get("/health/live").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/docs/", 200),  # Swagger UI's page and files: flask-swagger-ui's views
    ("GET", "/docs/swagger-ui.css", 200),
    ("GET", "/openapi.json", 200),
    ("HEAD", "/health/live", 200),
    ("OPTIONS", "/v1/users/me", 200),  # Flask's own answer, in the envelope
    ("DELETE", "/health/live", 404),  # werkzeug's 405, as a 10
])
def test_every_kind_of_response_carries_the_request_id(client: Any, method: str, path: str,
                                                       status: int) -> None:
    """Added where the response starts, whatever built it: one header, the id."""
    with client.open(path, method=method, headers={"X-Request-ID": "trace-7"}) as r:
        assert r.status_code == status
        assert r.headers.getlist("X-Request-ID") == ["trace-7"]
    with client.open(path, method=method) as fresh:  # a file's response is closed
        assert len(fresh.headers.getlist("X-Request-ID")) == 1
        assert len(fresh.headers["X-Request-ID"]) == 32


def test_no_cookie_session(app: Any, client: Any) -> None:
    """Clients send bearer tokens: a cookie is neither read nor set, and the
    session cannot be written to (a bug, said plainly, not a silent no-op)."""
    from flask import session

    client.set_cookie("session", "eyJ4IjoxfQ.forged.value")
    r = client.get("/health/live")
    assert r.status_code == 200
    assert "Set-Cookie" not in r.headers and "Cookie" not in r.headers.get("Vary", "")
    with app.test_request_context("/", headers={"Cookie": "session=abc"}):
        assert dict(session) == {}
        with pytest.raises(RuntimeError, match="no cookie session"):
            session["user"] = 1


def test_500_hides_the_exception(probe: Flask, api_log: pytest.LogCaptureFixture) -> None:
    r = probe.test_client().get("/probe/crash")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (500, 500, "server.internal.error")
    assert m["description"] == "An unexpected error occurred."
    text_ = r.get_data(as_text=True)
    assert SECRET not in text_ and "Traceback" not in text_ and "RuntimeError" not in text_
    # ... but the log has the traceback under the request id
    record = next(rec for rec in api_log.records if rec.name == "api.errors")
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert record.request_id == m["request_id"]


def test_failing_write_leaves_no_row(probe: Flask) -> None:
    c = probe.test_client()
    r = c.post("/probe/write-then-fail")
    assert r.status_code == 500 and SECRET not in r.get_data(as_text=True)
    assert c.post("/probe/write-ok").status_code == 200
    with probe.app_context():
        rows = db.session.execute(text("SELECT name FROM probe_things")).scalars().all()
    assert rows == ["whole"]  # the half-done insert was rolled back, not committed later


def test_unique_violation_is_88_naming_the_field(probe: Flask) -> None:
    r = probe.test_client().post("/probe/duplicate")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (400, 88, "user.username.taken")
    assert list(m["fields"]) == ["username"]
    with probe.app_context():
        count = db.session.execute(text("SELECT count(*) FROM probe_users")).scalar()
    assert count == 0


def test_database_error_is_77_without_sql(probe: Flask) -> None:
    r = probe.test_client().get("/probe/bad-sql")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (500, 77, "database.transaction.failed")
    assert m["message"] == "Database Rollback"
    body = r.get_data(as_text=True)
    assert SECRET not in body and "no_such_table" not in body and "SELECT" not in body


def test_health(client: Any) -> None:
    live = client.get("/health/live")
    assert live.status_code == 200
    assert live.get_json() == {"meta": {"code": 200, "message": "OK"}, "data": {"status": "ok"}}
    ready = client.get("/health/ready")
    assert ready.get_json()["data"] == {"status": "ok", "database": "ok"}


def test_ready_is_77_when_the_database_is_unreachable(tmp_path: Any) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing-dir/db.sqlite")
    r = app.test_client().get("/health/ready")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (500, 77, "database.connection.unavailable")
    assert "missing-dir" not in r.get_data(as_text=True)
    assert app.test_client().get("/health/live").status_code == 200


def test_ready_is_77_when_postgres_refuses_connections() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://gh_user:pw-xyz@127.0.0.1:{port}/gh"
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    r = app.test_client().get("/health/ready")
    m = meta_of(r)
    assert (r.status_code, m["code"], m["reason"]) == (500, 77, "database.connection.unavailable")
    body = r.get_data(as_text=True)
    assert "gh_user" not in body and "pw-xyz" not in body and str(port) not in body


def test_repeated_slashes_are_not_an_html_redirect(client: Any) -> None:
    r = client.get("/", environ_overrides={"PATH_INFO": "//health//live"})
    assert r.content_type == "application/json"
    assert meta_of(r)["reason"] == "request.route.not_found"


def test_dead_connection_during_a_request_is_77(probe: Flask, monkeypatch: Any) -> None:
    def boom(*_: Any, **__: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"),
                               connection_invalidated=True)

    monkeypatch.setattr(db.session, "execute", boom)
    r = probe.test_client().get("/health/ready")
    assert meta_of(r)["reason"] == "database.connection.unavailable"


def test_catalog_endpoints(client: Any) -> None:
    r = client.get("/v1/errors")
    data = r.get_json()["data"]
    assert [e["code"] for e in data] == [10, 21, 22, 77, 88, 99, 429, 500]
    by_code = {e["code"]: e for e in data}
    assert by_code[77]["retry"] == "backoff" and by_code[77]["retryable"] is True
    assert by_code[88]["retryable"] is False
    assert "auth.token.2fa_mismatch" in [x["reason"] for x in by_code[99]["reasons"]]
    zh = client.get("/v1/errors", headers={"Accept-Language": "zh"}).get_json()["data"]
    assert zh[0]["title"] == "不支持"
    for bad in ("/v1/errors/200", "/v1/errors/11", "/v1/errors/abc"):
        assert meta_of(client.get(bad))["code"] == 10


@pytest.mark.parametrize("on", [True, False])
def test_access_line_only_when_asked(on: bool, api_log: pytest.LogCaptureFixture) -> None:
    app = make_app(LOG_ACCESS=on, LOG_LEVEL="INFO")
    r = app.test_client().get("/v1/nope?token=secret-value")
    lines = [rec.getMessage() for rec in api_log.records if rec.name == "api.access"]
    if on:
        assert len(lines) == 1 and lines[0].startswith("GET /v1/nope 404 ")
        assert "secret-value" not in lines[0]  # never the query string
    else:
        assert lines == []
    # every line of the request names its id (made on first use, either way)
    assert [rec.request_id for rec in api_log.records] == \
        [r.headers["X-Request-ID"]] * (2 if on else 1)


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/v1/nope", None),  # werkzeug keeps its 404 on the request
    ("POST", "/probe/body", {"name": "", "size": "x"}),  # Schema.load's errors
    ("POST", "/probe/checked-body", {"name": "bad", "size": 1}),  # marshmallow's load
    ("GET", "/probe/raise/99", None),
    ("GET", "/probe/crash", None),
])
def test_a_handled_error_leaves_no_reference_cycle(probe: Flask, method: str, path: str,
                                                   body: Any) -> None:
    """Tracebacks of handled errors are dropped: no cycle keeps the request
    (its frames, environ and body) alive until the garbage collector runs."""
    client = probe.test_client()
    client.open(path, method=method, json=body)  # warm: first-use caches are not garbage
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        r = client.open(path, method=method, json=body)
        gc.collect()
        kept = {type(o).__name__ for o in gc.garbage}
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()
    assert r.status_code >= 400
    assert not kept & {"Request", "RequestContext", "frame", "traceback"}, kept


def test_options_answers_in_the_envelope(client) -> None:
    r = client.open("/v1/users/me", method="OPTIONS")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert body["meta"] == {"code": 200, "message": "OK"}
    assert body["data"]["allow"] == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH"]
    assert set(r.headers["Allow"].split(", ")) == set(body["data"]["allow"])
    assert r.headers["X-Request-ID"]
    # an unknown path is still a 10, whatever the method
    missing = client.open("/v1/nope", method="OPTIONS")
    assert missing.status_code == 404 and missing.get_json()["meta"]["code"] == 10
