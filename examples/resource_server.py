"""An example resource server: a few lines of Flask behind Gatehouse's tokens.

It verifies each request's access token locally, with Gatehouse's public keys
(GET /.well-known/jwks.json, cached), and answers refusals in Gatehouse's own
envelope (99 with the same ``reason``), so a Gatehouse client handles both
services alike: refresh on ``auth.token.expired``, and so on.

    pip install flask "./client[verify]"
    GATEHOUSE_JWKS_URL=https://auth.example.com/.well-known/jwks.json \\
    RESOURCE_AUDIENCE=notes flask --app examples/resource_server.py run

Gatehouse must sign with EdDSA or RS256 and list this service's audience in
JWT_AUDIENCE (e.g. ``JWT_AUDIENCE=gatehouse,notes``).
"""
from __future__ import annotations

import os
from functools import wraps
from typing import Any, Callable

from flask import Flask, Response, g, jsonify, request

from gatehouse_client import AuthRequired, TransportError
from gatehouse_client.verify import TokenVerifier


def create_app(jwks_url: str | None = None, audience: str | None = None,
               **verifier_options: Any) -> Flask:
    app = Flask(__name__)
    verifier = TokenVerifier(jwks_url or os.environ["GATEHOUSE_JWKS_URL"],
                             audience=audience or os.environ.get("RESOURCE_AUDIENCE", "notes"),
                             issuer=os.environ.get("GATEHOUSE_ISSUER", "gatehouse"),
                             **verifier_options)

    def protected(require_two_factor: bool = False) -> Callable:
        def decorate(view: Callable) -> Callable:
            @wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                scheme, _, token = request.headers.get("Authorization", "").partition(" ")
                try:
                    g.token = verifier.verify(token.strip() if scheme.lower() == "bearer"
                                              else "", require_two_factor=require_two_factor)
                except AuthRequired as err:
                    return _error(99, err.message, err.description, err.reason), 401, {
                        "WWW-Authenticate": 'Bearer error="invalid_token"'}
                except TransportError:  # Gatehouse's keys are out of reach
                    return _error(500, "Unknown Error", "Cannot check the token now.",
                                  "server.internal.error"), 500
                return view(*args, **kwargs)
            return guarded
        return decorate

    @app.get("/notes")
    @protected()
    def notes() -> Response:
        return jsonify(meta={"code": 200, "message": "OK"},
                       data={"user_id": g.token.user_id, "notes": []})

    @app.get("/vault")
    @protected(require_two_factor=True)
    def vault() -> Response:
        return jsonify(meta={"code": 200, "message": "OK"},
                       data={"user_id": g.token.user_id, "two_factor": g.token.two_factor})

    return app


def _error(code: int, message: str, description: str, reason: str | None) -> Response:
    return jsonify(meta={"code": code, "message": message, "description": description,
                         "reason": reason})
