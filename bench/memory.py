"""A worker's memory over many requests: it must stay flat.

    .venv/bin/python bench/memory.py              # 100,000 requests
    .venv/bin/python bench/memory.py -n 20000

Requests go straight to the app as WSGI calls, as a gunicorn worker makes
them, in turn through: a class-based view (flask.views.MethodView, whose
dispatch hands Flask a new bound method on every request), a view that
registers an after_this_request callback (a new function every request),
GET /v1/users/me, GET /v1/users/{id}, an unknown path (10), a bad token (99)
and an invalid body (88). RSS and the number of objects the garbage
collector tracks are printed every tenth of the run; both must end where
they were after the warm-up. tests/test_memory.py runs a short version.
"""
from __future__ import annotations

import argparse
import gc
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from flask import Blueprint, Flask, after_this_request
from flask.views import MethodView
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "memory-bench-password"


class ProbeView(MethodView):
    def get(self) -> Any:
        from api.responses import ok
        return ok({"class_based": True})


def _probe_blueprint() -> Blueprint:
    from api.responses import ok

    bp = Blueprint("memory_probe", __name__, url_prefix="/memory")
    bp.add_url_rule("/class-based", view_func=ProbeView.as_view("class_based"))

    @bp.get("/after")
    def after() -> Any:
        @after_this_request
        def tag(response: Any) -> Any:
            response.headers["X-After"] = "1"
            return response
        return ok({"after": True})

    return bp


def build_app(database: Path, **overrides: Any) -> Flask:
    """A testing app (cheap argon2) on a SQLite file, with the probe views."""
    from api import create_app
    from api.extensions import db

    settings: dict[str, Any] = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                                "RATELIMIT_ENABLED": False, "LOG_ACCESS": False,
                                "LOG_LEVEL": "WARNING", **overrides}
    app = create_app("testing", **settings)
    app.register_blueprint(_probe_blueprint())
    with app.app_context():
        db.create_all()
    return app


def _sign_in(app: Flask) -> tuple[str, int]:
    client = app.test_client()
    r = client.post("/v1/auth/register", json={
        "username": "memory", "email": "memory@example.com", "password": PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)
    user_id = r.get_json()["data"]["id"]
    r = client.post("/v1/auth/login", json={"login": "memory", "password": PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["data"]["access_token"], user_id


def requests_for(app: Flask) -> list[tuple[dict[str, Any], bytes]]:
    """(environ, body) for each kind of request, built once."""
    token, user_id = _sign_in(app)
    bearer = {"Authorization": f"Bearer {token}"}
    specs: list[tuple[str, str, dict[str, str], bytes]] = [
        ("GET", "/memory/class-based", {}, b""),
        ("GET", "/memory/after", {}, b""),
        ("GET", "/v1/users/me", bearer, b""),
        ("GET", f"/v1/users/{user_id}", bearer, b""),
        ("GET", "/v1/no-such-path", {}, b""),
        ("GET", "/v1/users/me", {"Authorization": "Bearer not-a-token"}, b""),
        ("POST", "/v1/auth/login", {"Content-Type": "application/json"}, b'{"login": 1}'),
    ]
    out = []
    for method, path, headers, body in specs:
        environ = EnvironBuilder(method=method, path=path, headers=headers,
                                 data=body).get_environ()
        out.append((environ, body))
    return out


def _call(app: Flask, environ: dict[str, Any], body: bytes) -> str:
    status: list[str] = []

    def start_response(s: str, _headers: Any, _exc: Any = None) -> Callable[[bytes], None]:
        status.append(s)
        return lambda _data: None

    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    result = app(env, start_response)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return status[0]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def drive(app: Flask, count: int, every: int) -> Iterator[tuple[int, int, int]]:
    """Make `count` requests, cycling through every kind; yield (done, RSS,
    tracked objects) every `every` requests."""
    kinds = requests_for(app)
    expected = {}
    for environ, body in kinds:  # each kind answers as it should
        expected[id(environ)] = _call(app, environ, body)
    assert [expected[id(e)][:3] for e, _ in kinds] == \
        ["200", "200", "200", "200", "404", "401", "400"], expected
    for done in range(1, count + 1):
        environ, body = kinds[done % len(kinds)]
        _call(app, environ, body)
        if done % every == 0:
            gc.collect()
            yield done, rss_bytes(), len(gc.get_objects())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "memory.db")
        print(f"{'requests':>9} {'RSS MiB':>8} {'objects':>8}")
        first: tuple[int, int, int] | None = None
        last = None
        for point in drive(app, args.n, max(args.n // 10, 1)):
            first = first or point
            last = point
            print(f"{point[0]:>9} {point[1] / 2**20:>8.1f} {point[2]:>8}")
        if first and last:
            print(f"after the first tenth: RSS {(last[1] - first[1]) / 2**20:+.1f} MiB, "
                  f"objects {last[2] - first[2]:+d}")


if __name__ == "__main__":
    main()
