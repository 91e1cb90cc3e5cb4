"""The catalog table: legacy codes frozen, reasons well-formed, classes bound to it."""
from __future__ import annotations

import re

import pytest

from api.errors import exceptions as exc
from api.errors.catalog import CATALOG, ERROR_CODES, REASONS, as_dict

LEGACY = {  # SPEC §3, seed 003: number, HTTP status, title
    200: (200, "OK"), 10: (404, "Not Supported"), 21: (404, "User Not Exists"),
    22: (400, "Password Not Match"), 77: (500, "Database Rollback"),
    88: (400, "Invalid Parameter"), 99: (401, "Auth Required"), 500: (500, "Unknown Error"),
}


@pytest.mark.parametrize("code", sorted(LEGACY))
def test_legacy_codes_are_frozen(code: int) -> None:
    entry = CATALOG[code]
    assert (entry.status, entry.title) == LEGACY[code]


def test_429_is_added() -> None:
    assert (CATALOG[429].status, CATALOG[429].title, CATALOG[429].retry) == (
        429, "Too Many Requests", "retry_after")


def test_reasons_are_module_resource_reason_and_unique() -> None:
    names = [r.name for e in ERROR_CODES for r in e.reasons]
    assert len(names) == len(set(names)) == len(REASONS)
    for name in names:
        assert re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+", name), name


def test_every_entry_is_documented_in_both_languages() -> None:
    for e in ERROR_CODES:
        assert e.reasons, e.code
        for text in (e.title_zh, e.description, e.description_zh, e.hint, e.hint_zh):
            assert text.strip()
        for r in e.reasons:
            assert all(t.strip() for t in (r.description, r.description_zh, r.hint, r.hint_zh))


def test_retry_advice_follows_the_seed() -> None:
    retryable = {e.code for e in ERROR_CODES if e.retryable}
    assert retryable == {77, 429, 500}


@pytest.mark.parametrize("code,cls", sorted(exc.ERROR_CLASSES.items()))
def test_exception_classes_read_the_catalog(code: int, cls: type) -> None:
    assert cls.code == code
    assert (cls.status, cls.message) == (CATALOG[code].status, CATALOG[code].title)
    assert cls.reason == CATALOG[code].reasons[0].name
    assert issubclass(cls, exc.AppError)


def test_app_error_instances_share_nothing() -> None:
    a = exc.InvalidParameterError("first", fields={"x": ["bad"]})
    b = exc.InvalidParameterError()
    assert (a.description, b.description) == ("first", None)
    assert b.fields is None and b.headers == {} and a.headers is not b.headers


def test_reason_must_belong_to_the_code() -> None:
    with pytest.raises(ValueError):
        exc.AuthRequiredError(reason="user.fetch.not_found")
    with pytest.raises(KeyError):
        exc.AuthRequiredError(reason="auth.token.not_in_catalog")
    assert exc.AuthRequiredError(reason="auth.token.expired").reason == "auth.token.expired"


def test_as_dict_localizes() -> None:
    en, zh = as_dict(CATALOG[99]), as_dict(CATALOG[99], "zh")
    assert (en["title"], zh["title"]) == ("Auth Required", "需要认证")
    assert [r["reason"] for r in en["reasons"]] == [r["reason"] for r in zh["reasons"]]
