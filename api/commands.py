"""flask CLI: `flask errors …` and `flask users …`."""
from __future__ import annotations

import functools
from typing import Any, Callable

import click
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.auth import twofactor
from api.auth.totp import SecretKeyMissing
from api.auth.schemas import RegisterSchema
from api.errors import docs
from api.errors.catalog import reason_of
from api.errors.exceptions import AppError, validation_error
from api.extensions import db
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
            raise click.ClickException(
                f"database error ({type(exc).__name__}); nothing was changed") from None
        except SecretKeyMissing as exc:
            db.session.rollback()
            raise click.ClickException(
                f"{exc}: put back the key it was encrypted with") from None

    return wrapper


def _describe(user: User) -> str:
    flags = [f for f, on in (("admin", user.is_admin), ("blocked", user.is_blocked),
                             ("2fa", user.totp_enabled)) if on]
    return (f"{user.id}\t{user.username}\t{user.email}"
            f"\t{','.join(flags) or '-'}")


@click.group("users", cls=AppGroup, help="Manage accounts.")
def users_cli() -> None:
    pass


@users_cli.command("create")
@click.argument("username")
@click.argument("email")
@click.password_option(help="Prompted (hidden, confirmed) when not given.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--display-name", default=None)
@_cli_errors
def users_create(username: str, email: str, password: str, admin: bool,
                 display_name: str | None) -> None:
    """Create a user."""
    data = RegisterSchema().load({"username": username, "email": email,
                                  "password": password})
    user = users.create_user(data["username"], data["email"], data["password"],
                             display_name=display_name, is_admin=admin)
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
    live = sum(1 for s in found.sessions if s.active)
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
def users_block(user: str, reason: str | None) -> None:
    """Block a user: every token is refused at once."""
    found = users.find_user(user)
    revoked = users.block_user(found, reason)
    click.echo(f"blocked {found.username}; revoked {revoked} session(s)")


@users_cli.command("unblock")
@click.argument("user")
@_cli_errors
def users_unblock(user: str) -> None:
    """Unblock a user."""
    found = users.find_user(user)
    users.unblock_user(found)
    click.echo(f"unblocked {found.username}")


@users_cli.command("reset-password")
@click.argument("user")
@click.password_option(help="Prompted (hidden, confirmed) when not given.")
@_cli_errors
def users_reset_password(user: str, password: str) -> None:
    """Set a new password; every session is revoked."""
    NewPasswordSchema().load({"password": password})
    found = users.find_user(user)
    revoked = users.set_password(found, password)
    click.echo(f"password reset for {found.username}; revoked {revoked} session(s)")


@users_cli.command("revoke-sessions")
@click.argument("user")
@_cli_errors
def users_revoke_sessions(user: str) -> None:
    """Log a user out everywhere."""
    found = users.find_user(user)
    revoked = users.revoke_all_sessions(found)
    click.echo(f"revoked {revoked} session(s) of {found.username}")


@users_cli.command("delete")
@click.argument("user")
@click.confirmation_option(prompt="Delete this user and all their sessions?")
@_cli_errors
def users_delete(user: str) -> None:
    """Delete a user and their sessions."""
    found = users.find_user(user)
    name = found.username
    users.delete_user(found)
    click.echo(f"deleted {name}")


@users_cli.command("rotate-2fa-key")
@_cli_errors
def users_rotate_2fa_key() -> None:
    """Re-encrypt every TOTP secret with the first key of TOTP_ENCRYPTION_KEYS."""
    count = twofactor.rotate_secret_keys()
    click.echo(f"re-encrypted {count} TOTP secret(s) with the first key of "
               f"TOTP_ENCRYPTION_KEYS; keys after the first can now be dropped")


@users_cli.command("disable-2fa")
@click.argument("user")
@_cli_errors
def users_disable_2fa(user: str) -> None:
    """Turn a user's 2FA off (lost device); their sessions are revoked."""
    found = users.find_user(user)
    revoked = twofactor.admin_disable(found)
    click.echo(f"2FA disabled for {found.username}; revoked {revoked} session(s)")
