"""No password, hash or token in any log line or error body."""
from __future__ import annotations

from sqlalchemy import select

from api.extensions import db
from api.users.models import User
from tests.helpers import PASSWORD, bearer, login, refresh, register, tamper


def test_no_secret_in_logs_or_error_bodies(client, app, api_log):
    register(client)
    tokens = login(client)
    rotated = refresh(client, tokens["refresh_token"]).get_json()["data"]
    with app.app_context():
        password_hash = db.session.scalars(select(User.password_hash)).one()

    headers = bearer(rotated["access_token"])
    app.config["REFRESH_REUSE_GRACE_SECONDS"] = 0  # the reuse below revokes at once
    errors = [
        client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD + "x"}),
        client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD,
                                            "echo": PASSWORD}),
        client.post("/v1/auth/login", json={"login": PASSWORD, "password": PASSWORD}),
        client.post("/v1/auth/register", json={"username": "eve", "email": "e@example.com",
                                               "password": PASSWORD * 10}),
        client.post("/v1/auth/register", json={"username": PASSWORD, "email": PASSWORD,
                                               "password": PASSWORD}),
        client.post("/v1/auth/register", data=f'{{"password": "{PASSWORD}"',
                    content_type="application/json"),
        client.post("/v1/auth/password", headers=headers,
                    json={"current_password": PASSWORD + "x", "new_password": PASSWORD}),
        client.post("/v1/auth/password", headers=headers,
                    json={"current_password": PASSWORD, "new_password": "short"}),
        client.delete("/v1/users/me", headers=headers, json={"password": PASSWORD + "x"}),
        client.get("/v1/users/me", headers=bearer(tamper(rotated["access_token"], sub="2"))),
        client.get("/v1/users/me", headers={"Authorization": f"Basic {PASSWORD}"}),
        refresh(client, tokens["refresh_token"] + "x"),
        refresh(client, tokens["refresh_token"]),  # reuse: the session is revoked
        client.get("/v1/users/me", headers=headers),
    ]

    secrets = {"password": PASSWORD, "hash": password_hash,
               "hash digest": password_hash.rsplit("$", 1)[1],
               "refresh token": tokens["refresh_token"],
               "rotated refresh token": rotated["refresh_token"],
               "refresh token random part": tokens["refresh_token"].split(".")[2],
               "access token": tokens["access_token"],
               "rotated access token": rotated["access_token"],
               "access token signature": tokens["access_token"].rsplit(".", 1)[1]}
    assert all(400 <= resp.status_code < 500 for resp in errors)
    bodies = [resp.get_data(as_text=True) for resp in errors]
    lines = [record.getMessage() for record in api_log.records]
    assert any("request rejected" in line for line in lines)
    assert len(lines) >= len(errors)
    for name, secret in secrets.items():
        for body in bodies:
            assert secret not in body, f"{name} in an error body: {body}"
        for line in lines:
            assert secret not in line, f"{name} in a log line: {line}"
