"""Gatehouse: accounts and authentication over the legacy meta-code envelope."""
from __future__ import annotations

from typing import Any, Callable

from flask import Flask, Response

from api.auth.limits import drop_limiter_hooks
from api.auth.passwords import init_passwords
from api.auth.tokens import init_tokens
from api.auth.totp import init_totp
from api.db import engine_options, register_engine_events
from api.errors.exceptions import AppError
from api.errors.handlers import handle_exception, register_error_handlers
from api.extensions import db, limiter, migrate
from api.http import REQUEST_ID_HEADER, ApiRequest, NoSessions, environ_request_id, ok
from api.logging import configure_logging, register_request_hooks
from config import INSTANCE_DIR, ROOT, get_config


class Gatehouse(Flask):
    request_class = ApiRequest

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_callables: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask asks this of every view, hook and error handler on every
        request, and each answer costs an inspect.iscoroutinefunction call;
        a function's answer never changes, so it is worked out once."""
        try:
            return self._sync_callables[func]
        except KeyError:
            sync = self._sync_callables[func] = super().ensure_sync(func)
            return sync
        except TypeError:  # an unhashable callable object
            return super().ensure_sync(func)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Every response carries its request id (made on first use) in
        X-Request-ID, appended where the response starts: whatever built the
        response (a view, an error, Flask's OPTIONS, Flask-Limiter's 429, a
        static file). An after_request hook setting it cost ~7 µs a request
        in-process (Flask's hook dispatch and werkzeug's Headers.set, which
        scans and checks every header); one list append costs a fraction."""
        def start_with_request_id(status: str, headers: list[tuple[str, str]],
                                  exc_info: Any = None) -> Any:
            headers.append((REQUEST_ID_HEADER, environ_request_id(environ)))
            return start_response(status, headers, exc_info)

        return super().wsgi_app(environ, start_with_request_id)

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
    return app


def configure_app(app: Flask, config_name: str | None, overrides: dict) -> None:
    app.config.from_mapping(get_config(config_name))
    app.config.update(overrides)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = NoSessions()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    limiter.init_app(app)
    if not app.config["RATELIMIT_ENABLED"]:
        drop_limiter_hooks(app)
    init_passwords(app)
    init_tokens(app)
    init_totp(app)
    with app.app_context():
        register_engine_events(app, db.engine)


def register_blueprints(app: Flask) -> None:
    from api.auth.views import bp as auth_bp
    from api.errors.views import bp as errors_bp
    from api.health.views import bp as health_bp
    from api.openapi import bp as openapi_bp
    from api.openapi import docs_blueprint
    from api.users.views import bp as users_bp

    app.url_map.strict_slashes = False  # /docs and /docs/ alike; never an HTML redirect
    app.url_map.merge_slashes = False  # //health//live is a 404 envelope, not an HTML 308
    for bp in (health_bp, errors_bp, auth_bp, users_bp, openapi_bp, docs_blueprint()):
        app.register_blueprint(bp)


def register_commands(app: Flask) -> None:
    from api.commands import errors_cli, openapi_cli, users_cli

    app.cli.add_command(errors_cli)
    app.cli.add_command(openapi_cli)
    app.cli.add_command(users_cli)
