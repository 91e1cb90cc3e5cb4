"""GET /account/passkeys: a small page that registers a passkey and signs in
with one through the API. Its script and style are files of its own, served
from here (a Content-Security-Policy allows nothing else: no inline script,
no other origin)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response

bp = Blueprint("passkey_pages", __name__, url_prefix="/account")
PAGE_DIR = Path(__file__).resolve().parent / "page"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
TYPES = {"passkeys.html": "text/html; charset=utf-8",
         "passkeys.js": "text/javascript; charset=utf-8",
         "passkeys.css": "text/css; charset=utf-8"}


@lru_cache(maxsize=None)
def _read(name: str) -> bytes:
    return (PAGE_DIR / name).read_bytes()


def _serve(name: str) -> Response:
    response = Response(_read(name), content_type=TYPES[name])
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/passkeys")
def page() -> Response:
    return _serve("passkeys.html")


@bp.get("/passkeys.js")
def script() -> Response:
    return _serve("passkeys.js")


@bp.get("/passkeys.css")
def style() -> Response:
    return _serve("passkeys.css")
