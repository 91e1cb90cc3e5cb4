"""`flask mail …`: the courier on its own, and the outbox at a glance."""
from __future__ import annotations

import signal
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from api.extensions import db
from api.mail.courier import EXTENSION
from api.mail.models import MailMessage


@click.group("mail", cls=AppGroup, help="The outbox and its courier.")
def mail_cli() -> None:
    """Mail commands."""


@mail_cli.command("courier")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@with_appcontext
def mail_courier(once: bool) -> None:
    """Send the outbox's mail until stopped (SIGTERM or Ctrl-C finish the
    message being sent first). Run the service with MAIL_COURIER=off then;
    several couriers may run side by side."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config["MAIL_ENABLED"]:
        raise click.ClickException("mail is turned off (MAIL_ENABLED=false)")
    courier = app.extensions[EXTENSION]
    if once:
        click.echo(f"sent or settled {courier.deliver_due()} message(s)")
        return

    def stop(*_: Any) -> None:
        courier.stop(timeout=0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("mail courier running (Ctrl-C stops it)")
    courier.run()


@mail_cli.command("status")
@with_appcontext
def mail_status() -> None:
    """How many messages are pending, sent, failed or dropped."""
    rows = db.session.execute(select(MailMessage.status, func.count())
                              .group_by(MailMessage.status)).all()
    counts = dict(rows)
    for status in ("pending", "sent", "failed", "dropped"):
        click.echo(f"{status}: {counts.get(status, 0)}")
