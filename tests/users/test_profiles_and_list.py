"""GET /v1/users/{id} (public profiles) and GET /v1/users (admins, cursor pagination)."""
from __future__ import annotations

import base64

import pytest

from tests.helpers import PASSWORD, assert_error, assert_ok, bearer, login, register

PUBLIC_FIELDS = {"id", "username", "display_name", "created_at"}


# --- GET /v1/users/{id} --------------------------------------------------------------

def test_public_profile_has_public_fields_only(client, runner, ada, bob):
    assert_ok(client.patch("/v1/users/me", headers=bob.headers, json={"display_name": "Bob"}))
    runner.invoke(args=["users", "block", "bob"])  # flags must not show either

    resp = client.get(f"/v1/users/{bob.id}", headers=ada.headers)

    data = assert_ok(resp)
    assert set(data) == PUBLIC_FIELDS
    assert (data["id"], data["username"], data["display_name"]) == (bob.id, "bob", "Bob")
    text = resp.get_data(as_text=True)
    assert "bob@example.com" not in text
    assert "is_blocked" not in text and "is_admin" not in text


def test_own_public_profile(client, ada):
    assert assert_ok(client.get(f"/v1/users/{ada.id}", headers=ada.headers))["id"] == ada.id


@pytest.mark.parametrize("user_id", ["4242", "0", "9" * 18])
def test_unknown_user_is_21(client, ada, user_id):
    meta = assert_error(client.get(f"/v1/users/{user_id}", headers=ada.headers),
                        21, "user.fetch.not_found")
    assert meta["description"] == "No user has this id."


@pytest.mark.parametrize("user_id", ["abc", "-1", "1.5", "1e3", "9" * 19, "%201", "0x1"])
def test_non_integer_id_is_88(client, ada, user_id):
    meta = assert_error(client.get(f"/v1/users/{user_id}", headers=ada.headers),
                        88, "request.param.invalid")
    assert meta["fields"] == {"id": ["Not a valid integer."]}


def test_unicode_digit_id_is_88(client, ada):
    assert_error(client.get("/v1/users/%C2%B2", headers=ada.headers),
                 88, "request.param.invalid")


def test_profile_needs_a_token(client, ada):
    assert_error(client.get(f"/v1/users/{ada.id}"), 99, "auth.token.missing")


# --- GET /v1/users ------------------------------------------------------------------

@pytest.fixture
def root(client, runner):
    result = runner.invoke(args=["users", "create", "root", "root@example.com",
                                 "--password", PASSWORD, "--admin"])
    assert result.exit_code == 0, result.output
    return bearer(login(client, "root")["access_token"])


def test_list_needs_an_admin(client, ada):
    meta = assert_error(client.get("/v1/users", headers=ada.headers),
                        99, "auth.permission.admin_required")
    assert meta["description"] == "This endpoint requires an administrator."


def test_list_needs_a_token(client):
    assert_error(client.get("/v1/users"), 99, "auth.token.missing")


def test_admin_gets_the_list(client, root, ada, bob):
    body = client.get("/v1/users", headers=root).get_json()

    assert body["meta"] == {"code": 200, "message": "OK"}
    assert body["pagination"] == {"limit": 20, "next_cursor": None}
    assert [u["username"] for u in body["data"]] == ["root", "ada", "bob"]
    assert body["data"][0]["is_admin"] is True
    assert body["data"][1]["email"] == "ada@example.com"
    assert "password" not in str(body)


def _walk(client, headers, limit):
    pages, cursor = [], None
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/users", headers=headers, query_string=query).get_json()
        assert body["pagination"]["limit"] == limit
        pages.append([u["id"] for u in body["data"]])
        cursor = body["pagination"]["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10


@pytest.mark.parametrize("extra,shape", [(4, [2, 2, 1]), (3, [2, 2])])
def test_pagination_walks_every_user_once(client, root, extra, shape):
    ids = [register(client, f"user{i}")["id"] for i in range(extra)]

    pages = _walk(client, root, 2)

    assert [len(page) for page in pages] == shape
    flat = [i for page in pages for i in page]
    assert flat == sorted(flat)
    assert set(ids) < set(flat) and len(flat) == extra + 1


def test_limit_100_is_allowed(client, root):
    body = client.get("/v1/users?limit=100", headers=root).get_json()
    assert body["pagination"] == {"limit": 100, "next_cursor": None}


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", ""])
def test_bad_limit_is_88(client, root, limit):
    meta = assert_error(client.get(f"/v1/users?limit={limit}", headers=root),
                        88, "request.param.invalid")
    assert list(meta["fields"]) == ["limit"]


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", ["garbage", "!!!!", _cursor(b"u:abc"), _cursor(b"x:1"),
                                    _cursor(b"u:"), _cursor(b"\xff\xfe"), _cursor(b"u:-1")])
def test_bad_cursor_is_88(client, root, cursor):
    meta = assert_error(client.get("/v1/users", headers=root, query_string={"cursor": cursor}),
                        88, "request.query.invalid_cursor")
    assert meta["fields"] == {"cursor": ["Invalid cursor."]}


def test_cursor_with_an_out_of_range_id_is_88(client, root):
    cursor = _cursor(b"u:" + b"9" * 40)

    assert_error(client.get("/v1/users", headers=root, query_string={"cursor": cursor}),
                 88, "request.query.invalid_cursor")


@pytest.mark.parametrize("query,field", [("cursor=", "cursor"), ("cursor=" + "a" * 65, "cursor"),
                                         ("page=2", "page")])
def test_invalid_query_is_88(client, root, query, field):
    meta = assert_error(client.get(f"/v1/users?{query}", headers=root),
                        88, "request.param.invalid")
    assert list(meta["fields"]) == [field]


def test_a_blocked_admin_cannot_list(client, runner, root):
    runner.invoke(args=["users", "block", "root"])

    assert_error(client.get("/v1/users", headers=root), 99, "auth.account.blocked")


def test_read_queries_select_what_the_schemas_dump():
    """The hot reads select columns, not entities: they must still cover
    every field the response schemas write (and, for profiles, no more)."""
    from api.auth.tokens import CALLER_COLUMNS
    from api.users.schemas import PublicUserSchema, UserSchema
    from api.users.service import PUBLIC_COLUMNS

    # fields computed from several columns: 2FA on is TOTP or a passkey
    computed = {"two_factor_enabled": {"totp_enabled", "has_passkey"}}

    def attributes(schema):
        found = set()
        for name, f in schema().fields.items():
            found |= computed.get(name, {f.attribute or name})
        return found

    assert set(PUBLIC_COLUMNS) == attributes(PublicUserSchema) == PUBLIC_FIELDS
    assert attributes(UserSchema) <= {c.name for c in CALLER_COLUMNS}
