"""The OpenAPI document: complete, generated from views/schemas/catalog, and current."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from api.errors.catalog import CATALOG
from api.openapi import build_spec, render
from config import ROOT
from tests.conftest import make_app

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# the HTML pages mailed links open (api/account/pages.py) are not API operations
UNDOCUMENTED = {"openapi.openapi_json", "docs.show", "static", "account_pages.verify_page",
                "account_pages.reset_page", "account_pages.confirm_email_page",
                # the passkeys page and its files (api/passkeys/pages.py)
                "passkey_pages.page", "passkey_pages.script", "passkey_pages.style"}


def spec(client: Any) -> dict:
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.content_type == "application/json"
    return r.get_json()


def test_every_route_is_documented(app: Flask, client: Any) -> None:
    doc = spec(client)
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
    assert len(documented) == 36  # 27, and the 9 passkey operations (issue 22)


def test_operations_carry_summary_security_and_bodies(client: Any) -> None:
    paths = spec(client)["paths"]
    me = paths["/v1/users/me"]["get"]
    assert me["summary"] == "Your own account."
    assert me["security"] == [{"bearer": []}]
    assert "security" not in paths["/v1/auth/login"]["post"]
    body = paths["/v1/auth/register"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Register"}
    names = [p["name"] for p in paths["/v1/users"]["get"]["parameters"]]
    assert names == ["limit", "cursor"]
    assert "pagination" in paths["/v1/users"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["required"]


def test_error_responses_come_from_the_catalog(client: Any) -> None:
    doc = spec(client)
    responses = doc["paths"]["/v1/users/{user_id}"]["get"]["responses"]
    assert set(responses) == {"200", "400", "401", "404", "500"}
    refs = [r["$ref"] for r in responses["404"]["content"]["application/json"]["schema"]["oneOf"]]
    assert refs == ["#/components/schemas/Error10", "#/components/schemas/Error21"]
    problem = responses["404"]["content"]["application/problem+json"]["schema"]
    assert problem == {"oneOf": [{"$ref": "#/components/schemas/Problem10"},
                                 {"$ref": "#/components/schemas/Problem21"}]}
    assert responses["404"]["headers"]["X-Request-ID"] == {
        "$ref": "#/components/headers/RequestId"}
    assert doc["components"]["headers"]["RequestId"]["required"] is True
    login = doc["paths"]["/v1/auth/login"]["post"]["responses"]
    assert "Retry-After" in login["429"]["headers"]
    assert set(login) == {"200", "400", "401", "404", "429", "500"}
    for code, entry in CATALOG.items():
        if code == 200:
            continue
        meta = doc["components"]["schemas"][f"Error{code}"]["properties"]["meta"]
        assert meta["properties"]["code"]["const"] == code
        assert meta["properties"]["reason"]["enum"] == [r.name for r in entry.reasons]
        assert meta["properties"]["message"]["enum"] == [entry.title, entry.title_zh]
        base, narrowed = doc["components"]["schemas"][f"Problem{code}"]["allOf"]
        assert base == {"$ref": "#/components/schemas/Problem"}
        assert narrowed["properties"]["status"]["const"] == entry.status
        assert narrowed["properties"]["code"]["const"] == code
        assert narrowed["properties"]["reason"]["enum"] == [r.name for r in entry.reasons]
        # only 88 names fields (as `fields`, and `errors` in problem details)
        assert ("fields" in meta["properties"]) is (code == 88)
        assert ("errors" in narrowed["properties"]) is (code == 88)


def test_request_rules_are_documented(client: Any) -> None:
    doc = spec(client)
    username = doc["components"]["schemas"]["Register"]["properties"]["username"]
    assert (username["minLength"], username["maxLength"]) == (3, 32)
    assert username["pattern"] == r"^[A-Za-z0-9_.-]+$(?!\n)"
    code = doc["paths"]["/v1/errors/{code}"]["get"]["parameters"][0]["schema"]
    assert code["type"] == "integer"
    assert code["enum"] == [c for c in CATALOG if c != 200]
    user_id = doc["paths"]["/v1/users/{user_id}"]["get"]["parameters"][0]["schema"]
    assert user_id == {"type": "string", "pattern": "^[0-9]+$"}
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert bearer["scheme"] == "bearer" and "2f." in bearer["description"]


def test_docs_page_is_served_locally(client: Any) -> None:
    for path in ("/docs", "/docs/"):
        r = client.get(path)
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "text/html" in r.content_type
        assert 'src="/docs/swagger-ui-bundle.js"' in html and "/openapi.json" in html
        assert "https://" not in html.split("<body>")[1].split("</body>")[0]
        assert '"validatorUrl": null' in html  # no badge from validator.swagger.io
    with client.get("/docs/swagger-ui-bundle.js") as js:
        assert js.status_code == 200 and "javascript" in js.content_type
    missing = client.get("/docs/no-such-file.js")
    assert missing.status_code == 404 and missing.get_json()["meta"]["code"] == 10


def test_cli_writes_and_checks(runner: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = runner.invoke(args=["openapi", "--check", "--output", str(out)])
    assert result.exit_code != 0 and "stale OpenAPI document" in result.output
    assert runner.invoke(args=["openapi", "--output", str(out)]).exit_code == 0
    result = runner.invoke(args=["openapi", "--check", "--output", str(out)])
    assert result.exit_code == 0, result.output
    printed = runner.invoke(args=["openapi"])
    assert printed.output == out.read_text(encoding="utf-8")


def test_committed_document_is_current(app: Flask) -> None:
    assert (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8") == render(app)


def test_document_is_valid_openapi_31(app: Flask) -> None:
    doc = build_spec(app)
    OPENAPI_31_VALIDATOR.validate(doc)  # the OAS 3.1 schema, as bundled by schemathesis
    for name, schema in doc["components"]["schemas"].items():
        jsonschema_rs.meta.validate({"$schema": DRAFT_2020_12, **schema})


def test_document_is_deterministic(app: Flask) -> None:
    assert build_spec(app) == build_spec(app)


# --- one version; the docs can be turned off -------------------------------------------

def test_one_version_for_the_package_and_the_document(client: Any) -> None:
    import configparser

    from setuptools.config.setupcfg import read_configuration

    import api

    raw = configparser.ConfigParser()
    raw.read(ROOT / "setup.cfg")
    assert raw["metadata"]["version"] == "attr: api.__version__"  # not a second copy
    assert read_configuration(ROOT / "setup.cfg")["metadata"]["version"] == api.__version__
    assert spec(client)["info"]["version"] == api.__version__


@pytest.mark.parametrize("path", ["/docs", "/docs/", "/docs/swagger-ui.css", "/openapi.json"])
def test_docs_turned_off_answer_like_an_unknown_path(path: str) -> None:
    app = make_app(DOCS_ENABLED=False)

    r = app.test_client().get(path)

    assert r.status_code == 404
    assert (r.get_json()["meta"]["code"], r.get_json()["meta"]["reason"]) == \
        (10, "request.route.not_found")


def test_docs_turned_off_keep_the_committed_document(app: Flask) -> None:
    """`flask openapi` documents the API, not the docs routes: the same text."""
    assert render(make_app(DOCS_ENABLED=False)) == render(app)


@pytest.mark.parametrize("env,value,expected", [
    ("development", None, True), ("testing", None, True), ("production", None, False),
    ("production", "true", True), ("development", "false", False)])
def test_docs_enabled_defaults(monkeypatch: pytest.MonkeyPatch, env: str,
                               value: str | None, expected: bool) -> None:
    from cryptography.fernet import Fernet

    from config import get_config

    monkeypatch.setenv("SECRET_KEY", "Zq8L0vN3-rT6yWc1_HbK9sPdF4mXgJ7e")  # random enough
    monkeypatch.setenv("TOTP_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("MAIL_ENABLED", "false")
    if value is None:
        monkeypatch.delenv("DOCS_ENABLED", raising=False)
    else:
        monkeypatch.setenv("DOCS_ENABLED", value)
    assert get_config(env)["DOCS_ENABLED"] is expected
