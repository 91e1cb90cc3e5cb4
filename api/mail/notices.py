"""Security notices: a mail to the account's owner for each change that an
attacker would make (SPEC §11), queued in the transaction of the change.

They hang off the event log (api.events.service.EVENT_LISTENERS): every
path that records one of these events, the API or the admin CLI, mails
the notice too. The email-change notice goes to the old address, so the
confirm flow queues it itself (api/account/service.py).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from api.auth.models import RecoveryCode
from api.events import kinds
from api.events.service import EVENT_LISTENERS
from api.extensions import db
from api.mail.courier import queue

NOTICES = {
    kinds.PASSWORD_CHANGED: "password_changed",
    kinds.PASSWORD_RESET: "password_reset_done",
    kinds.TWO_FACTOR_ENABLED: "two_factor_enabled",
    kinds.TWO_FACTOR_DISABLED: "two_factor_disabled",
    kinds.RECOVERY_CODE_USED: "recovery_code_used",
    kinds.PASSKEY_ADDED: "passkey_added",
    kinds.PASSKEY_REMOVED: "passkey_removed",
}


def notice_for_event(kind: str, user_id: int, details: dict[str, Any]) -> None:
    template = NOTICES.get(kind)
    if template is None:
        return
    params = None
    if kind == kinds.RECOVERY_CODE_USED:
        params = {"remaining": db.session.scalar(
            select(func.count()).select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)))}
    queue(template, user_id=user_id, params=params)


if notice_for_event not in EVENT_LISTENERS:
    EVENT_LISTENERS.append(notice_for_event)
