"""Two-factor login through the HTTP surface, with real pyotp codes and a frozen clock."""
from __future__ import annotations

from typing import Any

import jwt
import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from api.auth import totp
from api.auth.models import AuthSession, RecoveryCode
from api.extensions import db
from api.users.models import User
from tests.helpers import Clock

PASSWORD = "correct horse battery"


def meta(resp: Any) -> dict:
    return resp.get_json()["meta"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_and_login(client: FlaskClient, name: str = "ada") -> dict:
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    r = client.post("/v1/auth/register", json=body)
    assert r.status_code == 200, r.get_json()
    r = client.post("/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert r.status_code == 200
    return r.get_json()["data"]


def enable_2fa(client: FlaskClient, clock: Clock, name: str = "ada") -> dict:
    tokens = register_and_login(client, name)
    setup = client.post("/v1/auth/2fa/setup", headers=bearer(tokens["access_token"]))
    assert setup.status_code == 200
    secret = setup.get_json()["data"]["secret"]
    code = pyotp.TOTP(secret).at(clock.now)
    r = client.post("/v1/auth/2fa/enable", headers=bearer(tokens["access_token"]),
                    json={"code": code})
    assert r.status_code == 200, r.get_json()
    return {"secret": secret, "plain": tokens, **r.get_json()["data"]}


def challenge(client: FlaskClient, name: str = "ada") -> str:
    r = client.post("/v1/auth/login", json={"login": name, "password": PASSWORD})
    assert r.status_code == 200
    data = r.get_json()["data"]
    assert data["two_factor_required"] is True
    assert set(data) == {"two_factor_required", "challenge_token", "expires_in"}
    return data["challenge_token"]


def verify(client: FlaskClient, token: str, code: str) -> Any:
    return client.post("/v1/auth/2fa/verify", json={"challenge_token": token, "code": code})


def test_setup_returns_pending_secret_and_uri(client: FlaskClient, app: Flask) -> None:
    tokens = register_and_login(client)
    r = client.post("/v1/auth/2fa/setup", headers=bearer(tokens["access_token"]))
    data = r.get_json()["data"]
    assert r.status_code == 200
    assert data["otpauth_uri"].startswith("otpauth://totp/Gatehouse:ada%40example.com?")
    assert f"secret={data['secret']}" in data["otpauth_uri"]
    assert "issuer=Gatehouse" in data["otpauth_uri"]
    with app.app_context():
        user = db.session.get(User, 1)
        # kept encrypted, never as the secret itself
        assert data["secret"] not in user.totp_pending_secret
        assert totp.unseal(user.totp_pending_secret) == data["secret"]
        assert user.totp_enabled is False
    # still a plain account: the plain token keeps working
    assert client.get("/v1/users/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_enable_needs_setup_and_a_right_code(client: FlaskClient, clock: Clock) -> None:
    tokens = register_and_login(client)
    h = bearer(tokens["access_token"])
    r = client.post("/v1/auth/2fa/enable", headers=h, json={"code": "123456"})
    assert (r.status_code, meta(r)["code"]) == (400, 88)
    assert meta(r)["reason"] == "auth.totp.not_pending"
    secret = client.post("/v1/auth/2fa/setup", headers=h).get_json()["data"]["secret"]
    wrong = f"{(int(pyotp.TOTP(secret).at(clock.now)) + 1) % 1000000:06d}"
    r = client.post("/v1/auth/2fa/enable", headers=h, json={"code": wrong})
    assert (r.status_code, meta(r)["reason"]) == (400, "auth.totp.invalid")
    assert meta(r)["fields"] == {"code": ["The code is incorrect."]}
    r = client.post("/v1/auth/2fa/enable", headers=h, json={})
    assert meta(r)["fields"] == {"code": ["Missing data for required field."]}


def test_enable_returns_recovery_codes_and_a_2f_pair(client: FlaskClient, clock: Clock,
                                                     app: Flask) -> None:
    state = enable_2fa(client, clock)
    assert state["access_token"].startswith("2f.")
    assert state["token_type"] == "Bearer"
    codes = state["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    claims = jwt.decode(state["access_token"][3:], options={"verify_signature": False})
    assert claims["tfa"] is True
    me = client.get("/v1/users/me", headers=bearer(state["access_token"]))
    assert me.status_code == 200 and me.get_json()["data"]["two_factor_enabled"] is True
    with app.app_context():
        stored = [rc.code_hash for rc in db.session.query(RecoveryCode).all()]
        assert len(stored) == 10
        assert not set(codes) & set(stored)  # only hashes are kept
        assert all(len(h) == 64 for h in stored)


def test_token_issued_before_enable_stops_working(client: FlaskClient, clock: Clock) -> None:
    state = enable_2fa(client, clock)
    r = client.get("/v1/users/me", headers=bearer(state["plain"]["access_token"]))
    assert (r.status_code, meta(r)["code"]) == (401, 99)
    assert meta(r)["reason"] == "auth.token.2fa_mismatch"
    assert "2FA" in meta(r)["description"] or "Two-factor" in meta(r)["description"]
    r = client.post("/v1/auth/refresh", json={"refresh_token": state["plain"]["refresh_token"]})
    assert (r.status_code, meta(r)["code"]) == (401, 99)


def test_enable_twice_is_88(client: FlaskClient, clock: Clock) -> None:
    state = enable_2fa(client, clock)
    h = bearer(state["access_token"])
    r = client.post("/v1/auth/2fa/setup", headers=h)
    assert meta(r)["reason"] == "auth.totp.already_enabled"
    r = client.post("/v1/auth/2fa/enable", headers=h, json={"code": "123456"})
    assert meta(r)["reason"] == "auth.totp.already_enabled"


def test_prefix_spoofing_both_ways(client: FlaskClient, clock: Clock, app: Flask) -> None:
    plain = register_and_login(client, "bob")
    r = client.get("/v1/users/me", headers=bearer("2f." + plain["access_token"]))
    assert (r.status_code, meta(r)["reason"]) == (401, "auth.token.2fa_mismatch")
    state = enable_2fa(client, clock)
    r = client.get("/v1/users/me", headers=bearer(state["access_token"][3:]))
    assert (r.status_code, meta(r)["reason"]) == (401, "auth.token.2fa_mismatch")
    # a forged token claiming tfa=false for the 2FA user, signed with the real key
    claims = jwt.decode(state["access_token"][3:], options={"verify_signature": False})
    claims["tfa"] = False
    forged = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256",
                        headers=jwt.get_unverified_header(state["access_token"][3:]))
    r = client.get("/v1/users/me", headers=bearer(forged))
    assert meta(r)["reason"] == "auth.token.2fa_mismatch"


def test_login_with_totp_code(client: FlaskClient, clock: Clock) -> None:
    state = enable_2fa(client, clock)
    token = challenge(client)
    # the challenge token is useless as an access token
    r = client.get("/v1/users/me", headers=bearer(token))
    assert (r.status_code, meta(r)["reason"]) == (401, "auth.token.wrong_type")
    r = client.get("/v1/users/me", headers=bearer("2f." + token))
    assert r.status_code == 401
    clock.step()
    r = verify(client, token, pyotp.TOTP(state["secret"]).at(clock.now))
    assert r.status_code == 200, r.get_json()
    pair = r.get_json()["data"]
    assert pair["access_token"].startswith("2f.")
    assert client.get("/v1/users/me", headers=bearer(pair["access_token"])).status_code == 200
    # the challenge is spent
    clock.step()
    r = verify(client, token, pyotp.TOTP(state["secret"]).at(clock.now))
    assert (r.status_code, meta(r)["reason"]) == (401, "auth.challenge.invalid")


def test_totp_tolerance_is_one_step(client: FlaskClient, clock: Clock) -> None:
    state = enable_2fa(client, clock)
    totp_ = pyotp.TOTP(state["secret"])
    clock.step(5)
    token = challenge(client)
    assert meta(verify(client, token, totp_.at(clock.now - 60)))["reason"] == "auth.totp.invalid"
    assert meta(verify(client, token, totp_.at(clock.now + 60)))["reason"] == "auth.totp.invalid"
    assert verify(client, token, totp_.at(clock.now - 30)).status_code == 200


def test_totp_replay_is_rejected(client: FlaskClient, clock: Clock) -> None:
    state = enable_2fa(client, clock)
    # the code that enabled 2FA cannot log in
    r = verify(client, challenge(client), pyotp.TOTP(state["secret"]).at(clock.now))
    assert (r.status_code, meta(r)["code"]) == (400, 88)
    assert meta(r)["reason"] == "auth.totp.replayed"
    clock.step()
    code = pyotp.TOTP(state["secret"]).at(clock.now)
    assert verify(client, challenge(client), code).status_code == 200
    r = verify(client, challenge(client), code)
    assert meta(r)["reason"] == "auth.totp.replayed"
    # an older step than the last accepted one is a replay too
    r = verify(client, challenge(client), pyotp.TOTP(state["secret"]).at(clock.now - 30))
    assert meta(r)["reason"] == "auth.totp.replayed"


def test_recovery_code_works_once(client: FlaskClient, clock: Clock, app: Flask) -> None:
    state = enable_2fa(client, clock)
    code = state["recovery_codes"][3]
    r = verify(client, challenge(client), code.lower().replace("-", " "))
    assert r.status_code == 200
    assert r.get_json()["data"]["access_token"].startswith("2f.")
    r = verify(client, challenge(client), code)
    assert (r.status_code, meta(r)["reason"]) == (400, "auth.totp.invalid")
    with app.app_context():
        used = db.session.query(RecoveryCode).filter(RecoveryCode.used_at.isnot(None)).count()
        assert used == 1


def test_challenge_allows_five_wrong_codes(client: FlaskClient, clock: Clock) -> None:
    state = enable_2fa(client, clock)
    token = challenge(client)
    for _ in range(5):
        r = verify(client, token, "000000")
        assert (r.status_code, meta(r)["reason"]) == (400, "auth.totp.invalid")
    clock.step()
    r = verify(client, token, pyotp.TOTP(state["secret"]).at(clock.now))
    assert (r.status_code, meta(r)["code"]) == (401, 99)
    assert meta(r)["reason"] == "auth.challenge.exhausted"
    # a fresh challenge still works
    fresh = verify(client, challenge(client), pyotp.TOTP(state["secret"]).at(clock.now))
    assert fresh.status_code == 200


def test_challenge_token_attacks(client: FlaskClient, clock: Clock, app: Flask) -> None:
    state = enable_2fa(client, clock)
    code = state["recovery_codes"][0]
    for bad in ("garbage", state["access_token"], state["access_token"][3:]):
        r = verify(client, bad, code)
        assert (r.status_code, meta(r)["reason"]) == (401, "auth.challenge.invalid")
    token = challenge(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["exp"] = claims["iat"] - 1
    header = jwt.get_unverified_header(token)  # the real key id: only the claims differ
    expired = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256",
                         headers=header)
    assert meta(verify(client, expired, code))["reason"] == "auth.challenge.invalid"
    forged = jwt.encode(claims | {"exp": claims["iat"] + 60}, "another-key-" * 4,
                        algorithm="HS256", headers=header)
    assert meta(verify(client, forged, code))["reason"] == "auth.challenge.invalid"


def test_verify_validates_body(client: FlaskClient) -> None:
    r = client.post("/v1/auth/2fa/verify", json={"code": "123456", "extra": 1})
    m = meta(r)
    assert (r.status_code, m["code"]) == (400, 88)
    assert set(m["fields"]) == {"challenge_token", "extra"}


def test_blocked_user_cannot_complete_challenge(client: FlaskClient, clock: Clock,
                                                runner: FlaskCliRunner) -> None:
    state = enable_2fa(client, clock)
    token = challenge(client)
    assert runner.invoke(args=["users", "block", "ada"]).exit_code == 0
    r = verify(client, token, state["recovery_codes"][0])
    assert (r.status_code, meta(r)["reason"]) == (401, "auth.account.blocked")


def test_refresh_keeps_the_prefix(client: FlaskClient, clock: Clock) -> None:
    state = enable_2fa(client, clock)
    r = client.post("/v1/auth/refresh", json={"refresh_token": state["refresh_token"]})
    assert r.status_code == 200
    assert r.get_json()["data"]["access_token"].startswith("2f.")
    plain = register_and_login(client, "bob")
    r = client.post("/v1/auth/refresh", json={"refresh_token": plain["refresh_token"]})
    assert not r.get_json()["data"]["access_token"].startswith("2f.")


def test_disable(client: FlaskClient, clock: Clock, app: Flask) -> None:
    state = enable_2fa(client, clock)
    h = bearer(state["access_token"])
    clock.step()
    code = pyotp.TOTP(state["secret"]).at(clock.now)
    r = client.post("/v1/auth/2fa/disable", headers=h, json={"password": "wrong-password",
                                                             "code": code})
    assert (r.status_code, meta(r)["code"]) == (400, 22)
    r = client.post("/v1/auth/2fa/disable", headers=h, json={"password": PASSWORD,
                                                             "code": "000000"})
    assert meta(r)["reason"] == "auth.totp.invalid"
    r = client.post("/v1/auth/2fa/disable", headers=h, json={"password": PASSWORD, "code": code})
    assert r.status_code == 200
    pair = r.get_json()["data"]
    assert not pair["access_token"].startswith("2f.")
    assert client.get("/v1/users/me", headers=bearer(pair["access_token"])).status_code == 200
    # the 2f. token from before stops working
    r = client.get("/v1/users/me", headers=h)
    assert meta(r)["reason"] == "auth.token.2fa_mismatch"
    r = client.post("/v1/auth/2fa/disable", headers=bearer(pair["access_token"]),
                    json={"password": PASSWORD, "code": code})
    assert meta(r)["reason"] == "auth.totp.not_enabled"
    # plain login again, no challenge
    r = client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD})
    assert "access_token" in r.get_json()["data"]
    with app.app_context():
        assert db.session.query(RecoveryCode).count() == 0
        user = db.session.get(User, 1)
        assert (user.totp_secret, user.totp_last_step) == (None, None)


def test_enable_and_disable_revoke_other_sessions(client: FlaskClient, clock: Clock,
                                                  app: Flask) -> None:
    other = register_and_login(client)  # a second session of the same user
    tokens = client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}
                         ).get_json()["data"]
    h = bearer(tokens["access_token"])
    secret = client.post("/v1/auth/2fa/setup", headers=h).get_json()["data"]["secret"]
    client.post("/v1/auth/2fa/enable", headers=h, json={"code": pyotp.TOTP(secret).at(clock.now)})
    r = client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert (r.status_code, meta(r)["code"]) == (401, 99)
    with app.app_context():
        live = db.session.query(AuthSession).filter(AuthSession.revoked_at.is_(None)).all()
        assert len(live) == 1 and live[0].two_factor is True


def test_admin_cli_disable_2fa(client: FlaskClient, clock: Clock, runner: FlaskCliRunner) -> None:
    state = enable_2fa(client, clock)
    result = runner.invoke(args=["users", "disable-2fa", "ada"])
    assert result.exit_code == 0, result.output
    assert "2FA disabled for ada" in result.output
    r = client.get("/v1/users/me", headers=bearer(state["access_token"]))
    assert meta(r)["reason"] == "auth.token.2fa_mismatch"
    r = client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD})
    assert "access_token" in r.get_json()["data"]
    result = runner.invoke(args=["users", "disable-2fa", "nobody"])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_no_secret_in_logs(client: FlaskClient, clock: Clock,
                           api_log: pytest.LogCaptureFixture) -> None:
    state = enable_2fa(client, clock)
    clock.step()
    code = pyotp.TOTP(state["secret"]).at(clock.now)
    verify(client, challenge(client), code)
    verify(client, challenge(client), code)  # replay: an error path
    text = api_log.text
    assert "request rejected" in text  # the logs were captured
    for secret in (state["secret"], code, PASSWORD, state["recovery_codes"][0],
                   state["access_token"], state["refresh_token"]):
        assert secret not in text
