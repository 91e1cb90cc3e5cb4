"""`Accept-Language: zh`: every 88 a request schema can produce is Chinese throughout.

The schemas are found on the app's views (the body and query schemas that
`input_body`/`input_query` load, as the OpenAPI builder finds them), so a
schema added later is walked too. Every field gets no value, then each of a
set of wrong values (wrong types, empty, too long, out of range, bad format,
a choice that is not one), alone and beside an unknown field; every 88
`request.param.invalid` that comes back is checked in both languages: the
Chinese description and field messages hold no English word but the
fields' own names (and the values a message quotes back, such as a OneOf's
choices), the English ones no Chinese, and the description names every field
that `fields` marks.
"""
from __future__ import annotations

import ast
import re
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from marshmallow import Schema, validate

from api.errors.catalog import REASONS
from api.errors.i18n import to_chinese
from config import ROOT
from tests.helpers import PASSWORD, bearer, login, make_account

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,}")  # a word, or a name like display_name
# technical names a Chinese sentence writes as they are
KEPT = {"UTF", "NUL", "URL", "UUID", "TOTP", "Authorization", "Bearer", "access_token"}
WRONG = [None, 12345, True, "", " ", "!", "x" * 300, "!!!!!!!!", [], {"a": 1}, -1, 0,
         10**9, "not-an-email", "nope"]
WRONG_QUERY = ["", "abc", "-1", "0", "100000", "x" * 300, "!"]
UNKNOWN = "zz_unknown"


def request_schemas(app: Flask) -> Iterator[tuple[str, str, str, type[Schema]]]:
    """(method, path, "body" or "query", schema) for every view that loads one."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for kind in ("body", "query"):
                schema = getattr(view, f"{kind}_schema", None)
                if schema is not None:
                    yield method, path, kind, schema


def _choices(schema: Schema) -> set[str]:
    """Values a message may quote back: a OneOf's choices."""
    words: set[str] = set()
    for field in schema.fields.values():
        for validator in field.validators:
            if isinstance(validator, validate.OneOf):
                words |= {str(c) for c in validator.choices}
    return words


def _check(resp: Any, lang: str, allowed: set[str], where: str) -> None:
    meta = resp.get_json()["meta"]
    assert meta["code"] == 88, (where, meta)
    description, fields = meta["description"], meta.get("fields") or {}
    texts = [description] + [m for msgs in fields.values() for m in msgs]
    allowed = allowed | set(fields) | {part for name in fields for part in name.split(".")}
    for text in texts:
        if lang == "zh":
            assert CJK.search(text), (where, text)
            english = set(ASCII_WORD.findall(text)) - allowed - KEPT
            assert not english, (where, text, english)
        else:
            assert not CJK.search(text), (where, text)
            assert ASCII_WORD.search(text), (where, text)
    if meta["reason"] == "request.param.invalid":
        for name in fields:
            assert name in description, (where, description, name)


@pytest.fixture
def tokens(client: FlaskClient, runner: FlaskCliRunner) -> dict[str, str]:
    ada = make_account(client)
    result = runner.invoke(args=["users", "create", "root", "root@example.com",
                                 "--password", PASSWORD, "--admin"])
    assert result.exit_code == 0, result.output
    return {"user": ada.access_token, "admin": login(client, "root")["access_token"]}


def test_the_walk_finds_the_request_schemas(app: Flask) -> None:
    found = {(m, p, k, s.__name__) for m, p, k, s in request_schemas(app)}
    for expected in [("POST", "/v1/auth/register", "body", "RegisterSchema"),
                     ("POST", "/v1/auth/login", "body", "LoginSchema"),
                     ("POST", "/v1/auth/refresh", "body", "RefreshSchema"),
                     ("POST", "/v1/auth/2fa/verify", "body", "TwoFactorVerifySchema"),
                     ("PATCH", "/v1/users/me", "body", "UserUpdateSchema"),
                     ("DELETE", "/v1/users/me", "body", "PasswordSchema"),
                     ("GET", "/v1/users", "query", "UserListQuerySchema")]:
        assert expected in found


def test_every_field_of_every_request_schema_in_both_languages(
        app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    checked = 0
    for method, path, kind, schema_class in request_schemas(app):
        schema = schema_class()
        headers = bearer(tokens["admin" if path == "/v1/users" else "user"])
        allowed = set(schema.fields) | _choices(schema) | {UNKNOWN}
        cases: list[dict[str, Any]] = [{}, {UNKNOWN: 1}]
        for name in schema.fields:
            values = WRONG_QUERY if kind == "query" else WRONG
            cases += [{name: value} for value in values]
            cases.append({name: values[-1], UNKNOWN: 1})
        for case in cases:
            for lang in ("en", "zh"):
                h = {**headers, "Accept-Language": lang}
                if kind == "query":
                    resp = client.open(path, method=method, query_string=case, headers=h)
                else:
                    resp = client.open(path, method=method, json=case, headers=h)
                if resp.get_json()["meta"]["code"] != 88:
                    continue  # a value the schema takes: past validation
                _check(resp, lang, allowed, f"{method} {path} {case} {lang}")
                checked += 1
    assert checked > 300


@pytest.mark.parametrize("body,description", [
    ({"username": "x"}, "Missing required parameter: email, password; "
                        "invalid parameter: username"),
    ({"username": "ada", "email": "ada@example.com"}, "Missing required parameter: password"),
    ({"username": "x", "email": "ada@example.com", "password": PASSWORD},
     "Invalid parameter: username"),
])
def test_the_description_names_every_invalid_field(client: FlaskClient, body: dict,
                                                   description: str) -> None:
    meta = client.post("/v1/auth/register", json=body).get_json()["meta"]
    assert meta["description"] == description
    assert sorted(meta["fields"]) == sorted(re.findall(r"[a-z_]+(?=,|;|$)", description))


def test_register_in_chinese(client: FlaskClient) -> None:
    r = client.post("/v1/auth/register", json={"username": "x"},
                    headers={"Accept-Language": "zh"})
    meta = r.get_json()["meta"]
    assert meta["description"] == "缺少必填参数:email, password;参数无效:username"
    assert meta["fields"] == {"email": ["缺少必填字段。"], "password": ["缺少必填字段。"],
                              "username": ["长度必须在 3 到 32 之间。"]}
    assert r.headers["Content-Language"] == "zh"


def test_problem_json_in_chinese(client: FlaskClient) -> None:
    r = client.post("/v1/auth/login", json={"login": 1},
                    headers={"Accept-Language": "zh", "Accept": "application/problem+json"})
    problem = r.get_json()
    assert problem["detail"] == "缺少必填参数:password;参数无效:login"
    assert problem["errors"] == {"login": ["不是有效的字符串。"], "password": ["缺少必填字段。"]}


def test_a_service_written_description_is_chinese(client: FlaskClient) -> None:
    make_account(client)
    r = client.post("/v1/auth/register", headers={"Accept-Language": "zh"}, json={
        "username": "ADA", "email": "other@example.com", "password": PASSWORD})
    meta = r.get_json()["meta"]
    zh = REASONS["user.username.taken"][1].description_zh
    assert (meta["reason"], meta["description"], meta["fields"]) == \
        ("user.username.taken", zh, {"username": [zh]})


def test_english_is_unchanged(client: FlaskClient) -> None:
    meta = client.post("/v1/auth/login", json={}).get_json()["meta"]
    assert meta["description"] == "Missing required parameter: login, password"
    assert meta["fields"] == {"login": ["Missing data for required field."],
                              "password": ["Missing data for required field."]}


def test_every_catalog_description_has_chinese() -> None:
    for _, reason in REASONS.values():
        assert to_chinese(reason.description) == reason.description_zh


# --- every message written in api/ has its Chinese ----------------------------------

# MailError: the courier's, for its log lines (api/mail/transport.py); no client sees it
_NOT_FOR_CLIENTS = {"ValueError", "RuntimeError", "ConfigError", "TypeError", "MailError"}


def _text(node: ast.AST) -> str | None:
    """A string literal, or an f-string as a template ({v0}, {v1}, ...)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else f"{{v{i}}}"
                       for i, v in enumerate(node.values))
    return None


def _message_nodes(call: ast.Call) -> Iterator[ast.AST]:
    name = getattr(call.func, "id", getattr(call.func, "attr", ""))
    if name.endswith("Error") and name not in _NOT_FOR_CLIENTS and call.args:
        yield call.args[0]
    for keyword in call.keywords:
        if keyword.arg == "error":
            yield keyword.value
        elif keyword.arg == "fields" and isinstance(keyword.value, ast.Dict):
            for value in keyword.value.values:
                if isinstance(value, ast.List):
                    yield from value.elts


def _messages_in_source() -> Iterator[tuple[str, str]]:
    """(where, message) for the English a client can be shown, as written in
    api/: the description given to an AppError subclass, the message of a
    ValidationError, the messages of a `fields=` mapping and a validator's
    `error=`."""
    for path in sorted((ROOT / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for candidate in _message_nodes(node):
                    message = _text(candidate)
                    if message is not None:
                        yield f"{path.relative_to(ROOT)}:{node.lineno}", message


def _as_example(template: str) -> str:
    """A template's placeholders filled with a number, as a message would be."""
    return re.sub(r"\{\w+\}", "7", template)


def test_every_message_written_in_api_has_chinese() -> None:
    found = list(_messages_in_source())
    assert len(found) > 10
    untranslated = [(where, message) for where, message in found
                    if not CJK.search(to_chinese(_as_example(message)))
                    and where.split(":")[0] not in _CLI_ONLY]
    assert not untranslated, untranslated


# messages only the admin CLI shows (it speaks English)
_CLI_ONLY = {"api/commands.py"}


def test_cli_only_messages_exist() -> None:
    """The CLI-only exemption names files that exist (a moved file is noticed)."""
    assert all((ROOT / name).exists() for name in _CLI_ONLY)


@pytest.mark.parametrize("who,path,description", [
    ("user", "/v1/users/abc", "id 必须是非负整数。"),
    ("admin", "/v1/users?cursor=bad", None),
    ("user", "/v1/errors/11", "没有这个错误码。"),
])
def test_descriptions_written_by_views_and_services_in_chinese(
        client: FlaskClient, tokens: dict[str, str], who: str, path: str,
        description: str | None) -> None:
    headers = {**bearer(tokens[who]), "Accept-Language": "zh"}
    meta = client.get(path, headers=headers).get_json()["meta"]
    assert CJK.search(meta["description"]), meta
    assert not set(ASCII_WORD.findall(meta["description"])) - KEPT, meta
    if description is not None:
        assert meta["description"] == description
    for messages in (meta.get("fields") or {}).values():
        assert all(CJK.search(m) for m in messages), meta
