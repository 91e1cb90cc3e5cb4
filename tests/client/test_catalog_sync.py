"""The client's static catalog must say what the server's catalog says."""
from __future__ import annotations

import ast
from pathlib import Path

from api.errors.catalog import ERROR_CODES, REASONS
from tests.client.conftest import CLIENT_DIR


def test_codes_statuses_titles_and_retry_match() -> None:
    from gatehouse_client.catalog import CODES

    server = {e.code: (e.status, e.title, e.retry) for e in ERROR_CODES}
    client = {code: (c.status, c.title, c.retry) for code, c in CODES.items()}
    assert client == server


def test_one_exception_class_per_code() -> None:
    from gatehouse_client import ERRORS

    assert sorted(ERRORS) == sorted(e.code for e in ERROR_CODES)
    for code, cls in ERRORS.items():
        assert cls.code == code


def test_reasons_the_client_branches_on_exist() -> None:
    from gatehouse_client.catalog import LOGOUT_REASONS, REFRESH_REASONS

    for reason in LOGOUT_REASONS | REFRESH_REASONS:
        owner, _ = REASONS[reason]
        assert owner.code == 99, reason


def test_client_imports_nothing_from_the_server_or_flask() -> None:
    for path in (CLIENT_DIR / "gatehouse_client").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top in {"__future__", "gatehouse_client", "requests", "random", "time",
                               "dataclasses", "typing"}, f"{path.name} imports {name}"
    assert Path(CLIENT_DIR / "pyproject.toml").read_text().count("requests") == 1
