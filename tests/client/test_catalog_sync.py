"""The client's static catalog must say what the server's catalog says, and the client
must stay a package of its own (requests only: nothing from Flask or the server)."""
from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

from api.errors.catalog import CATALOG, ERROR_CODES, REASONS
from gatehouse_client import ERRORS, AuthRequired, GatehouseError
from gatehouse_client import catalog as client_catalog
from tests.client.live import CLIENT_DIR


def test_codes_statuses_titles_and_retry_policies_match() -> None:
    server = {e.code: (e.status, e.title, e.retry) for e in ERROR_CODES}
    client = {code: (c.status, c.title, c.retry) for code, c in client_catalog.CODES.items()}
    assert client == server


def test_retry_policy_names_match() -> None:
    from api.errors import catalog

    assert (client_catalog.NEVER, client_catalog.BACKOFF, client_catalog.RETRY_AFTER,
            client_catalog.ONCE) == (catalog.RETRY_NEVER, catalog.RETRY_BACKOFF,
                                     catalog.RETRY_AFTER, catalog.RETRY_ONCE)


def test_every_server_reason_is_known_to_the_client_with_its_code() -> None:
    assert client_catalog.REASONS == {name: code.code for name, (code, _) in REASONS.items()}


def test_every_99_reason_has_a_client_action() -> None:
    reasons_99 = {r.name for r in CATALOG[99].reasons}
    assert set(client_catalog.AUTH_ACTIONS) == reasons_99
    actions = client_catalog.AUTH_ACTIONS
    # the two the seed and the catalog's 99 hint single out
    assert actions["auth.token.expired"] == client_catalog.REFRESH
    assert actions["auth.account.blocked"] == client_catalog.LOGOUT
    # a hint telling the client to drop its tokens is a logout, and only those are
    for name in reasons_99:
        hint = REASONS[name][1].hint.lower()
        drops = any(w in hint for w in ("clear local tokens", "discard the token", "log out"))
        assert (actions[name] == client_catalog.LOGOUT) == drops, name


def test_one_exception_class_per_code() -> None:
    assert sorted(ERRORS) == sorted(e.code for e in ERROR_CODES)
    for code, cls in ERRORS.items():
        assert cls.code == code and issubclass(cls, GatehouseError)
        assert cls.__name__ == CATALOG[code].title.replace(" ", "")  # "Not Supported"
    assert issubclass(ERRORS[99], AuthRequired)


def test_client_imports_only_the_standard_library_and_requests() -> None:
    for path in (CLIENT_DIR / "gatehouse_client").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            # the resource-server module alone needs PyJWT (the optional "verify" extra)
            allowed = {"requests", "gatehouse_client"} | ({"jwt"} if path.name == "verify.py"
                                                          else set())
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in allowed, \
                    f"{path.name} imports {name}"
    project = tomllib.loads((CLIENT_DIR / "pyproject.toml").read_text())["project"]
    assert project["name"] == "gatehouse-client"
    assert [d.split(">")[0].split("=")[0] for d in project["dependencies"]] == ["requests"]
    assert [d.split(">")[0] for d in project["optional-dependencies"]["verify"]] == \
        ["PyJWT[crypto]"]


def test_importing_the_client_loads_no_flask_and_no_server_code() -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import gatehouse_client; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'flask', 'werkzeug', 'api', 'config', 'sqlalchemy', 'marshmallow', 'jwt'}); "
            "print(','.join(bad))")
    done = subprocess.run([sys.executable, "-I", "-c", code, str(CLIENT_DIR)],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ""
