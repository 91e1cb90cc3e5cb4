"""An app whose courier hands messages to a MemoryTransport; tests run it."""
from __future__ import annotations

from typing import Callable

import pytest
from flask import Flask

from api.extensions import db
from tests.helpers import ada, bob, clock, utc_clock  # noqa: F401
from tests.mail.mailbox import Mail, MemoryTransport


@pytest.fixture
def transport(app: Flask) -> MemoryTransport:
    memory = MemoryTransport()
    app.extensions["gatehouse.courier"].transport = memory
    return memory


@pytest.fixture
def deliver(app: Flask, transport: MemoryTransport) -> Callable[[], list[Mail]]:
    """Run the courier over what is due; the messages it sent this time."""
    def run() -> list[Mail]:
        before = len(transport.sent)
        with app.app_context():
            app.extensions["gatehouse.courier"].deliver_due()
            db.session.remove()
        return transport.sent[before:]
    return run
