"""The floor: the least a Flask app can do for each benchmark scenario.

Flask + Flask-SQLAlchemy + PyJWT with none of Gatehouse's machinery (no
error catalog, no request ids, no logging hooks, no marshmallow, no ORM
entities): verify the token, run one query, return the JSON. The same work
as Gatehouse for each scenario, so the ratio measures only our machinery:

- the same token checks (key id, signature, algorithm, issuer, audience,
  required claims, type; a header this server does not write is parsed to
  tell a malformed token from another key's) and the same session checks
  (live, unexpired, 2FA (TOTP or a passkey) agreeing, user not blocked), in
  one query for an authenticated read;
- the same response bodies: the `meta` envelope with the same fields, the
  same timestamps, the same error texts (without a request id);
- the same body validation for a registration (username, email, password),
  and the same checks part two added to every body and password (no NUL,
  lone surrogate or nesting past 32 levels anywhere; no unknown field; not
  one of the 100,000 common passwords, from the same list);
- the same security headers on every response (nosniff, no-store);
- login: the same lookup, argon2id verification, session row and tokens.

Same database (a copy), same gunicorn settings (config/gunicorn.conf.py).
"""
import base64
import gzip
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, DateTime, text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db = SQLAlchemy(app)
KEY = os.environ.get("JWT_SECRET_KEY") or os.environ["SECRET_KEY"]
MAC_KEY = hashlib.sha256(b"gatehouse-refresh:" + os.environ["SECRET_KEY"].encode()).digest()
TTL = 900
hasher = PasswordHasher(time_cost=int(os.environ.get("ARGON2_TIME_COST", 3)),
                        memory_cost=int(os.environ.get("ARGON2_MEMORY_COST", 65536)),
                        parallelism=int(os.environ.get("ARGON2_PARALLELISM", 4)))
REQUIRED = ["sub", "sid", "jti", "iat", "nbf", "exp", "iss", "aud", "typ", "tfa"]
AUD = "gatehouse"
# the key id Gatehouse gives an HS256 secret, and the header it writes with it:
# the key is found by the header, as Gatehouse finds it
KID = "hs-" + base64.urlsafe_b64encode(hmac.new(KEY.encode(), b"gatehouse key id",
                                                hashlib.sha256).digest()[:12]).decode().rstrip("=")
KEY_BY_HEADER = {base64.urlsafe_b64encode(json.dumps(
    {"alg": "HS256", "kid": KID, "typ": "JWT"}, separators=(",", ":")).encode())
    .decode().rstrip("="): KEY}

# the caller and their session, checked in one query
ME = text("SELECT u.id, u.username, u.display_name, u.created_at, u.email, u.is_admin, "
          "u.is_blocked, u.totp_enabled, u.has_passkey, u.email_verified, u.locale, "
          "u.updated_at, s.two_factor FROM users u "
          "JOIN auth_sessions s ON s.user_id = u.id AND s.id = :sid "
          "WHERE u.id = :uid AND s.revoked_at IS NULL AND s.expires_at > :now").columns(
    created_at=DateTime, updated_at=DateTime, is_admin=Boolean, is_blocked=Boolean,
    totp_enabled=Boolean, has_passkey=Boolean, email_verified=Boolean, two_factor=Boolean)
PROFILE = text("SELECT id, username, display_name, created_at FROM users "
               "WHERE id = :id").columns(created_at=DateTime)
BY_LOGIN = text("SELECT id, password_hash, totp_enabled, is_blocked FROM users "
                "WHERE username_key = :k OR email_key = :k LIMIT 1")
NEW_SESSION = text("INSERT INTO auth_sessions (id, user_id, refresh_hash, refresh_generation, "
                   "two_factor, created_at, last_used_at, expires_at) "
                   "VALUES (:id, :uid, :h, 0, false, :now, :now, :exp)")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REGISTER_FIELDS = frozenset(("username", "email", "password"))
with gzip.open(Path(__file__).resolve().parent.parent / "api" / "auth" / "data"
               / "common-passwords.txt.gz", "rt", encoding="utf-8") as _file:
    COMMON = frozenset(line for line in _file.read().split("\n") if line)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def reply(body, status=200, headers=None):
    return Response(json.dumps(body, separators=(",", ":")) + "\n", status=status,
                    mimetype="application/json",
                    headers={**SECURITY_HEADERS, **headers} if headers else SECURITY_HEADERS)


def storable(text):
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")  # a lone surrogate has no UTF-8 form
    except UnicodeEncodeError:
        return False
    return True


def storable_body(body):
    """Every key and string storable, nested at most 32 deep."""
    stack = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > 32:
            return False
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            if isinstance(key, str) and not storable(key):
                return False
            if isinstance(value, str):
                if not storable(value):
                    return False
            elif isinstance(value, (dict, list)):
                stack.append((value, depth + 1))
    return True


def ok(data):
    return reply({"meta": {"code": 200, "message": "OK"}, "data": data})


def error(status, code, message, description, reason, fields=None, headers=None):
    meta = {"code": code, "message": message, "description": description, "reason": reason}
    if fields:
        meta["fields"] = fields
    return reply({"meta": meta}, status, headers)


def unauthorized(description, reason):
    return error(401, 99, "Auth Required", description, reason,
                 headers={"WWW-Authenticate": 'Bearer realm="gatehouse"'})


def iso(value):
    return value.replace(tzinfo=timezone.utc).isoformat()


def now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def caller():
    """The caller's row, or a 401 response."""
    token = request.headers.get("Authorization", "")[7:]
    key = KEY_BY_HEADER.get(token.partition(".")[0])
    try:
        if key is None:  # not a header this server writes: malformed, or another key's
            jwt.get_unverified_header(token)
            return None, unauthorized("The access token names a signing key (kid) this "
                                      "service does not know: a retired or foreign key.",
                                      "auth.token.unknown_key")
        c = jwt.decode(token, key, algorithms=["HS256"], issuer="gatehouse", audience=AUD,
                       options={"require": REQUIRED})
    except jwt.InvalidTokenError:
        return None, unauthorized("The access token is malformed.", "auth.token.malformed")
    row = None
    if c["typ"] == "access":
        row = db.session.execute(ME, {"uid": int(c["sub"]), "sid": c["sid"],
                                      "now": now()}).first()
    if row is None or row.is_blocked or (row.totp_enabled or row.has_passkey) != c["tfa"] \
            or row.two_factor != c["tfa"]:
        return None, unauthorized("The access token is no longer valid.", "auth.token.revoked")
    return row, None


@app.get("/v1/users/me")
def me():
    row, denied = caller()
    if denied:
        return denied
    return ok({"id": row.id, "username": row.username, "display_name": row.display_name,
               "created_at": iso(row.created_at), "email": row.email,
               "is_admin": row.is_admin, "is_blocked": row.is_blocked,
               "two_factor_enabled": row.totp_enabled or row.has_passkey,
               "email_verified": row.email_verified, "locale": row.locale,
               "updated_at": iso(row.updated_at)})


@app.get("/v1/users/<int:user_id>")
def user(user_id):
    _, denied = caller()
    if denied:
        return denied
    row = db.session.execute(PROFILE, {"id": user_id}).first()
    if row is None:
        return error(404, 21, "User Not Exists", "No user has this id.", "user.fetch.not_found")
    return ok({"id": row.id, "username": row.username, "display_name": row.display_name,
               "created_at": iso(row.created_at)})


def invalid(fields):
    return error(400, 88, "Invalid Parameter", "Invalid parameter: " + ", ".join(sorted(fields)),
                 "request.param.invalid", fields)


@app.post("/v1/auth/register")
def register():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not storable_body(body):
        return invalid({"_schema": ["Invalid input type."]})
    fields = {key: ["Unknown field."] for key in body if key not in REGISTER_FIELDS}
    if not isinstance(body.get("username"), str) or not USERNAME.match(body["username"]):
        fields["username"] = ["Use only letters, digits, '_', '.' and '-'."]
    if not isinstance(body.get("email"), str) or not EMAIL.match(body["email"]) \
            or len(body["email"]) > 254:
        fields["email"] = ["Not a valid email address."]
    if not isinstance(body.get("password"), str) or not 8 <= len(body["password"]) <= 128:
        fields["password"] = ["Length must be between 8 and 128."]
    elif body["password"].lower() in COMMON:
        fields["password"] = ["This password is one of the most common passwords."]
    if fields:
        return invalid(fields)
    return ok({"registered": True})  # the bench never registers anyone


@app.post("/v1/auth/login")
def login():
    body = request.get_json(silent=True) or {}
    row = db.session.execute(BY_LOGIN, {"k": str(body.get("login", "")).lower()}).first()
    try:
        hasher.verify(row.password_hash, str(body.get("password", "")))
    except VerifyMismatchError:
        return error(400, 22, "Password Not Match", "The password is wrong.",
                     "auth.password.mismatch")
    sid = uuid.uuid4().hex
    refresh_body = f"{sid}.0.{secrets.token_urlsafe(32)}"
    refresh = refresh_body + "." + hmac.new(MAC_KEY, refresh_body.encode(),
                                            hashlib.sha256).hexdigest()[:24]
    issued = now()
    db.session.execute(NEW_SESSION, {"id": sid, "uid": row.id, "now": issued,
                                     "h": hashlib.sha256(refresh.encode()).hexdigest(),
                                     "exp": issued + timedelta(days=30)})
    db.session.commit()
    t = int(time.time())
    token = jwt.encode({"sub": str(row.id), "sid": sid, "jti": uuid.uuid4().hex, "iat": t,
                        "nbf": t, "exp": t + TTL, "iss": "gatehouse", "typ": "access",
                        "tfa": False, "aud": AUD}, KEY, algorithm="HS256",
                       headers={"kid": KID})
    return ok({"access_token": token, "refresh_token": refresh, "token_type": "Bearer",
               "expires_in": TTL})


@app.errorhandler(404)
def not_found(_):
    return error(404, 10, "Not Supported", "The requested endpoint does not exist.",
                 "request.route.not_found")
