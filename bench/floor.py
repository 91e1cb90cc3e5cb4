"""The floor: the least a Flask app can do for each benchmark scenario.

Flask + Flask-SQLAlchemy + PyJWT with none of Gatehouse's machinery (no
catalog, no request ids, no logging hooks, no schemas): verify the token,
run one query, return JSON. Same database, same gunicorn settings.
"""
import json
import os
import time
import uuid

import jwt
from argon2 import PasswordHasher
from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db = SQLAlchemy(app)
KEY = os.environ.get("JWT_SECRET_KEY") or os.environ["SECRET_KEY"]
hasher = PasswordHasher(time_cost=int(os.environ.get("ARGON2_TIME_COST", 3)),
                        memory_cost=int(os.environ.get("ARGON2_MEMORY_COST", 65536)),
                        parallelism=int(os.environ.get("ARGON2_PARALLELISM", 4)))
ME = text("SELECT u.id, u.username, u.email, u.display_name FROM users u "
          "JOIN auth_sessions s ON s.user_id = u.id WHERE u.id = :uid AND s.id = :sid")


def reply(body, status=200):
    return Response(json.dumps(body), status=status, mimetype="application/json")


def claims():
    token = request.headers.get("Authorization", "")[7:]
    try:
        return jwt.decode(token, KEY, algorithms=["HS256"], issuer="gatehouse")
    except jwt.InvalidTokenError:
        return None


@app.get("/v1/users/me")
def me():
    c = claims()
    if c is None:
        return reply({"error": "unauthorized"}, 401)
    row = db.session.execute(ME, {"uid": int(c["sub"]), "sid": c["sid"]}).first()
    return reply({"id": row.id, "username": row.username, "email": row.email,
                  "display_name": row.display_name})


@app.get("/v1/users/<int:user_id>")
def user(user_id):
    c = claims()
    if c is None:
        return reply({"error": "unauthorized"}, 401)
    # the same work as ours: check the caller's session, then fetch the profile
    if db.session.execute(ME, {"uid": int(c["sub"]), "sid": c["sid"]}).first() is None:
        return reply({"error": "unauthorized"}, 401)
    row = db.session.execute(text("SELECT id, username, display_name, created_at FROM users "
                                  "WHERE id = :id"), {"id": user_id}).first()
    if row is None:
        return reply({"error": "not found"}, 404)
    return reply({"id": row.id, "username": row.username, "display_name": row.display_name,
                  "created_at": str(row.created_at)})


@app.post("/v1/auth/register")
def register():
    body = request.get_json(silent=True) or {}
    if "@" not in str(body.get("email", "")):
        return reply({"error": "invalid email"}, 400)
    return reply({"ok": True})


@app.post("/v1/auth/login")
def login():
    body = request.get_json(silent=True) or {}
    row = db.session.execute(text("SELECT id, password_hash FROM users WHERE username_key = :k"),
                             {"k": str(body.get("login", "")).lower()}).first()
    hasher.verify(row.password_hash, body.get("password", ""))
    sid = uuid.uuid4().hex
    now = int(time.time())
    db.session.execute(text(
        "INSERT INTO auth_sessions (id, user_id, refresh_hash, refresh_generation, two_factor, "
        "created_at, last_used_at, expires_at) VALUES (:id, :uid, :h, 0, false, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
        {"id": sid, "uid": row.id, "h": uuid.uuid4().hex})
    db.session.commit()
    token = jwt.encode({"sub": str(row.id), "sid": sid, "iat": now, "exp": now + 900,
                        "iss": "gatehouse"}, KEY, algorithm="HS256")
    return reply({"access_token": token})


@app.errorhandler(404)
def not_found(_):
    return reply({"error": "not found"}, 404)
