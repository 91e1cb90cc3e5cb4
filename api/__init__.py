"""Gatehouse: accounts and authentication over the legacy meta-code envelope."""
from __future__ import annotations

# the one version: setup.cfg reads it (attr:), the OpenAPI document shows it
__version__ = "1.0.0"

from typing import Any, Callable

from flask import Flask, Response

from api.auth.limits import drop_limiter_hooks, init_limits
from api.auth.passwords import init_passwords
from api.auth.tokens import init_tokens
from api.auth.totp import init_totp
from api.db import end_session, engine_options, register_engine_events
from api.errors.exceptions import AppError
from api.errors.handlers import handle_exception, register_error_handlers
from api.extensions import db, limiter, migrate
from api.request_ids import REQUEST_ID_HEADER, environ_request_id
from api.requests import ApiRequest, NoSessions
from api.responses import ok
from api.maintenance import init_pruning
from api.mail.courier import init_mail
from api.logging import configure_logging, register_request_hooks
from api.proxies import ClientAddressMiddleware
from config import INSTANCE_DIR, ROOT, get_config


# on every response: a browser never guesses a type (a JSON body echoing
# client text must not be sniffed as HTML)
_NOSNIFF = ("X-Content-Type-Options", "nosniff")
_NO_STORE = ("Cache-Control", "no-store")


class Gatehouse(Flask):
    request_class = ApiRequest

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Every response carries its request id (made on first use) in
        X-Request-ID, `X-Content-Type-Options: nosniff`, and
        `Cache-Control: no-store` unless it set its own (SPEC §10),
        appended where the response starts: whatever built the
        response (a view, an error, Flask's OPTIONS, Flask-Limiter's 429, a
        static file). An after_request hook would cost Flask's hook dispatch
        and werkzeug's Headers.set (which scans and checks every header) on
        every request; a list append costs a fraction of that."""
        def start_with_request_id(status: str, headers: list[tuple[str, str]],
                                  exc_info: Any = None) -> Any:
            headers.append((REQUEST_ID_HEADER, environ_request_id(environ)))
            headers.append(_NOSNIFF)
            # no cache may keep an answer (tokens, secrets, accounts) unless
            # the response says otherwise itself (the docs' static files)
            for name, _ in headers:
                if name.lower() == "cache-control":
                    break
            else:
                headers.append(_NO_STORE)
            return start_response(status, headers, exc_info)

        return super().wsgi_app(environ, start_with_request_id)

    def do_teardown_request(self, *args: Any, **kwargs: Any) -> None:
        """The database session ends here, while the request (and its id)
        is current, and never raises: see api.db.end_session."""
        end_session()
        super().do_teardown_request(*args, **kwargs)

    def handle_user_exception(self, e: Exception) -> Any:
        """An AppError goes straight to the one error handler. Flask would
        look for it by blueprint and class on every raise, and find that
        same handler: it is the app's only one (registered for Exception)."""
        if isinstance(e, AppError):
            return handle_exception(e)
        return super().handle_user_exception(e)

    def make_default_options_response(self) -> Response:
        """OPTIONS answers in the envelope too (Flask's own has an empty
        text/html body): 200, the allowed methods in `data` and `Allow`."""
        allowed = sorted(super().make_default_options_response().allow)
        response = ok({"allow": allowed})
        response.allow.update(allowed)
        return response


def create_app(config_name: str | None = None, **overrides: object) -> Flask:
    """Build the app; reads like a table of contents."""
    app = Gatehouse(__name__, instance_path=None)
    configure_app(app, config_name, overrides)
    configure_logging(app)
    register_extensions(app)
    register_request_hooks(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    trust_proxies(app)
    return app


def configure_app(app: Flask, config_name: str | None, overrides: dict) -> None:
    app.config.from_mapping(get_config(config_name))
    app.config.update(overrides)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    app.session_interface = NoSessions()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)


def trust_proxies(app: Flask) -> None:
    """The client address from X-Forwarded-For, through FORWARDED_ALLOW_IPS
    only (api/proxies.py): rate limits and logs see the real client."""
    app.wsgi_app = ClientAddressMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, app.config["FORWARDED_ALLOW_IPS"])


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    limiter.init_app(app)
    init_limits(app)
    if not app.config["RATELIMIT_ENABLED"]:
        drop_limiter_hooks(app)
    init_passwords(app)
    init_tokens(app)
    init_totp(app)
    init_pruning(app)
    init_mail(app)
    with app.app_context():
        register_engine_events(app, db.engine)


def register_blueprints(app: Flask) -> None:
    from api.account.pages import bp as account_pages_bp
    from api.account.views import bp as account_bp
    from api.auth.jwks import bp as jwks_bp
    from api.auth.views import bp as auth_bp
    from api.errors.views import bp as errors_bp
    from api.health.views import bp as health_bp
    from api.openapi import bp as openapi_bp
    from api.openapi import docs_blueprint
    from api.passkeys.pages import bp as passkey_pages_bp
    from api.passkeys.views import bp as passkeys_bp
    from api.users.views import bp as users_bp

    app.url_map.strict_slashes = False  # /docs and /docs/ alike; never an HTML redirect
    app.url_map.merge_slashes = False  # //health//live is a 404 envelope, not an HTML 308
    blueprints = [health_bp, errors_bp, auth_bp, account_bp, users_bp, jwks_bp,
                  passkeys_bp, passkey_pages_bp, account_pages_bp]
    if app.config["DOCS_ENABLED"]:  # off: both answer 10, like any unknown path
        blueprints += [openapi_bp, docs_blueprint()]
    for bp in blueprints:
        app.register_blueprint(bp)


def register_commands(app: Flask) -> None:
    from api.commands import errors_cli, maintenance_cli, openapi_cli, users_cli
    from api.mail.cli import mail_cli

    app.cli.add_command(errors_cli)
    app.cli.add_command(openapi_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(maintenance_cli)
    app.cli.add_command(mail_cli)
