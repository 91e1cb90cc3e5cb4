"""flask CLI: `flask errors …`, `flask users …` and `flask maintenance …`."""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.auth import twofactor
from api.auth.totp import SecretKeyMissing
from api.auth.schemas import RegisterSchema
from api.errors import docs
from api.errors.catalog import reason_of
from api.errors.exceptions import AppError, validation_error
from api.events.service import list_events
from api.extensions import db
from api.maintenance import prune
from api.schema import schema_problem
from api.users import service as users
from api.users.models import User
from api.users.schemas import NewPasswordSchema
from config import ROOT

DOCS_DIR = ROOT / "docs"


@click.group("errors", cls=AppGroup, help="The error catalog and its generated docs.")
def errors_cli() -> None:
    pass


@errors_cli.command("docs")
@click.option("--lang", type=click.Choice(docs.LANGS), default=None,
              help="Only this language (default: every language).")
@click.option("--check", is_flag=True, help="Exit non-zero if the docs are stale.")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None,
              help="Where the docs live (default: docs/).")
def errors_docs(lang: str | None, check: bool, output_dir: str | None) -> None:
    """Write docs/errors.md and docs/errors.zh.md from the catalog."""
    from pathlib import Path

    langs = (lang,) if lang else docs.LANGS
    target = Path(output_dir) if output_dir else DOCS_DIR
    if check:
        stale = docs.stale(target, langs)
        if stale:
            names = ", ".join(str(p) for p in stale)
            raise click.ClickException(
                f"stale error docs: {names}; run `flask --app wsgi errors docs`")
        click.echo("error docs are up to date")
        return
    for path in docs.write(target, langs):
        click.echo(f"wrote {path}")


@click.command("openapi")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write the document here (default: standard output).")
@click.option("--check", is_flag=True,
              help="Exit non-zero if docs/openapi.json (or --output) is stale.")
@with_appcontext
def openapi_cli(output: str | None, check: bool) -> None:
    """The OpenAPI 3.1 document, generated from the views and schemas."""
    from pathlib import Path

    from flask import current_app

    from api.openapi import render

    text = render(current_app)
    if check:
        path = Path(output) if output else DOCS_DIR / "openapi.json"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            raise click.ClickException(
                f"stale OpenAPI document: {path}; run "
                f"`flask --app wsgi openapi --output {path}`")
        click.echo("OpenAPI document is up to date")
    elif output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


# --- flask users … -------------------------------------------------------------

def _cli_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """One clear line on stderr and a non-zero exit; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            db.session.rollback()
            fields = validation_error(exc.normalized_messages()).fields or {}
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
            raise click.ClickException(f"invalid input: {detail}") from None
        except AppError as exc:
            db.session.rollback()
            text = exc.description or reason_of(exc.reason).description
            raise click.ClickException(f"{text} ({exc.reason})") from None
        except SQLAlchemyError as exc:
            db.session.rollback()
            problem = schema_problem(exc)  # no schema, or an older one: name the fix
            raise click.ClickException(
                problem or f"database error ({type(exc).__name__}); nothing was changed"
            ) from None
        except SecretKeyMissing as exc:
            db.session.rollback()
            raise click.ClickException(
                f"{exc}: put back the key it was encrypted with") from None

    return wrapper


def _writes_database(func: Callable[..., Any]) -> Callable[..., Any]:
    """A command that writes says first which database it acts on (password
    hidden), on standard output: run without the server's environment
    (DATABASE_URL, .env) it would otherwise quietly change the default SQLite
    file. Failures stay one line on stderr."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        click.echo(f"database: {database_url()}")
        return func(*args, **kwargs)

    wrapper.writes_database = True  # type: ignore[attr-defined]
    return wrapper


def database_url() -> str:
    """The URL of the app's database with its password masked."""
    return db.engine.url.render_as_string(hide_password=True)


def _prompt_password() -> str:
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _describe(user: User) -> str:
    flags = [f for f, on in (("admin", user.is_admin), ("blocked", user.is_blocked),
                             ("2fa", user.two_factor_on)) if on]
    return (f"{user.id}\t{user.username}\t{user.email}"
            f"\t{','.join(flags) or '-'}")


@click.group("users", cls=AppGroup, help="Manage accounts.")
def users_cli() -> None:
    pass


@users_cli.command("create")
@click.argument("username")
@click.argument("email")
@click.option("--password", default=None,
              help="Prompted (hidden, confirmed) when not given, once the username "
                   "and email are known to be valid and free.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--display-name", default=None)
@_cli_errors
@_writes_database
def users_create(username: str, email: str, password: str | None, admin: bool,
                 display_name: str | None) -> None:
    """Create a user."""
    names = RegisterSchema(partial=("password",)).load(
        {"username": username, "email": email})
    users.ensure_free(names["username"], names["email"])
    if password is None:
        password = _prompt_password()
    data = RegisterSchema().load({"username": username, "email": email,
                                  "password": password})
    # the owner proves the address as at sign-up (an admin typing it proves nothing)
    user = users.create_user(data["username"], data["email"], data["password"],
                             display_name=display_name, is_admin=admin, verify_email=True)
    click.echo(f"created user {user.id} {user.username}{' (admin)' if admin else ''}")


@users_cli.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=100)
@_cli_errors
def users_list(limit: int) -> None:
    """List users (id, username, email, flags)."""
    found, _ = users.list_users(limit)
    for user in found:
        click.echo(_describe(user))


@users_cli.command("show")
@click.argument("user")
@_cli_errors
def users_show(user: str) -> None:
    """Show one user (by id, username or email)."""
    found = users.find_user(user)
    live = users.count_live_sessions(found.id)
    click.echo(_describe(found))
    click.echo(f"display_name: {found.display_name or '-'}")
    click.echo(f"created_at: {found.created_at.isoformat()}Z")
    if found.is_blocked:
        click.echo(f"blocked: {found.blocked_at.isoformat()}Z "
                   f"reason: {found.blocked_reason or '-'}")
    click.echo(f"active sessions: {live}")


@users_cli.command("block")
@click.argument("user")
@click.option("--reason", default=None, help="Why (kept with the account).")
@_cli_errors
@_writes_database
def users_block(user: str, reason: str | None) -> None:
    """Block a user: every token is refused at once."""
    found = users.find_user(user)
    if found.is_blocked:
        raise click.ClickException(
            f"{found.username} is already blocked (reason: "
            f"{found.blocked_reason or '-'}); nothing was changed")
    revoked = users.block_user(found, reason)
    click.echo(f"blocked {found.username}; revoked {revoked} session(s)")


@users_cli.command("unblock")
@click.argument("user")
@_cli_errors
@_writes_database
def users_unblock(user: str) -> None:
    """Unblock a user."""
    found = users.find_user(user)
    if not found.is_blocked:
        raise click.ClickException(f"{found.username} is not blocked; nothing was changed")
    users.unblock_user(found)
    click.echo(f"unblocked {found.username}")


@users_cli.command("reset-password")
@click.argument("user")
@click.option("--password", default=None,
              help="Prompted (hidden, confirmed) when not given, once the user is found.")
@_cli_errors
@_writes_database
def users_reset_password(user: str, password: str | None) -> None:
    """Set a new password; every session is revoked."""
    found = users.find_user(user)
    if password is None:
        password = _prompt_password()
    NewPasswordSchema().load({"password": password})
    revoked = users.set_password(found, password)
    click.echo(f"password reset for {found.username}; revoked {revoked} session(s)")


@users_cli.command("send-reset")
@click.argument("user")
@_cli_errors
@_writes_database
def users_send_reset(user: str) -> None:
    """Mail the user a password-reset link (nobody but the owner learns the password)."""
    if not current_app.config["MAIL_ENABLED"]:
        raise click.ClickException("mail is turned off (MAIL_ENABLED=false): no link can be sent")
    from api.account.service import send_reset

    found = users.find_user(user)
    send_reset(found)
    click.echo(f"reset link queued for {found.username} (valid 15 minutes once sent)")


@users_cli.command("revoke-sessions")
@click.argument("user")
@_cli_errors
@_writes_database
def users_revoke_sessions(user: str) -> None:
    """Log a user out everywhere (none logged in is nothing to do, not an error)."""
    found = users.find_user(user)
    revoked = users.revoke_all_sessions(found)
    if revoked:
        click.echo(f"revoked {revoked} session(s) of {found.username}")
    else:
        click.echo(f"{found.username} has no active session; nothing to revoke")


@users_cli.command("delete")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_cli_errors
@_writes_database
def users_delete(user: str, yes: bool) -> None:
    """Delete a user and their sessions."""
    found = users.find_user(user)
    name = found.username
    if not yes:
        click.confirm(f"Delete {name} ({found.email}) and all their sessions?",
                      abort=True)
    users.delete_user(found)
    click.echo(f"deleted {name}")


@users_cli.command("rotate-2fa-key")
@_cli_errors
@_writes_database
def users_rotate_2fa_key() -> None:
    """Re-encrypt every TOTP secret with the first key of TOTP_ENCRYPTION_KEYS."""
    count = twofactor.rotate_secret_keys()
    if not count:
        click.echo("no TOTP secret is stored; nothing to re-encrypt")
        return
    click.echo(f"re-encrypted {count} TOTP secret(s) with the first key of "
               f"TOTP_ENCRYPTION_KEYS; keys after the first can now be dropped")


@users_cli.command("disable-2fa")
@click.argument("user")
@_cli_errors
@_writes_database
def users_disable_2fa(user: str) -> None:
    """Turn a user's 2FA off (lost device): TOTP and passkeys; their sessions are revoked."""
    found = users.find_user(user)
    if not found.two_factor_on:
        raise click.ClickException(
            f"{found.username} has no 2FA enabled; nothing was changed")
    revoked = twofactor.admin_disable(found)
    click.echo(f"2FA disabled for {found.username}; revoked {revoked} session(s)")


@users_cli.command("events")
@click.argument("user")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@_cli_errors
def users_events(user: str, limit: int) -> None:
    """A user's security events, newest first (time, kind, address, session, details)."""
    found = users.find_user(user)
    events, _ = list_events(found.id, limit)
    if not events:
        click.echo(f"{found.username} has no recorded event")
    for event in events:
        details = json.dumps(event.details, sort_keys=True) if event.details else "-"
        click.echo(f"{event.created_at.isoformat()}Z\t{event.kind}"
                   f"\t{event.client_address or '-'}\t{event.session_id or '-'}"
                   f"\t{details}\t{event.user_agent or '-'}")


# --- flask maintenance … -------------------------------------------------------

@click.group("maintenance", cls=AppGroup, help="Keep the database's tables bounded.")
def maintenance_cli() -> None:
    pass


@maintenance_cli.command("prune")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None,
              help="Rows deleted per transaction (default: PRUNE_BATCH_SIZE).")
@_cli_errors
@_writes_database
def maintenance_prune(batch_size: int | None) -> None:
    """Delete ended sessions past SESSION_PRUNE_GRACE, spent or expired login
    challenges, used recovery codes and events older than EVENT_RETENTION_DAYS
    (every table in api.maintenance.PRUNABLE), in short batches."""
    counts = prune(current_app.config, batch_size=batch_size)
    for name, count in counts.items():
        click.echo(f"{name}: deleted {count}")
