"""A queued message made ready to send: its account resolved, its link's
token issued, its words rendered (text and HTML) in the account's language."""
from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from api.account import tokens
from api.account.models import CHANGE_EMAIL, RESET_PASSWORD, VERIFY_EMAIL, AccountToken
from api.extensions import db
from api.mail.messages import LOCALES, MESSAGES
from api.mail.models import MailMessage
from api.users.models import User, utcnow

# the README's quick-start address: links of a development server without
# PUBLIC_URL or ACCOUNT_URL (production requires one of them)
DEVELOPMENT_URL = "http://127.0.0.1:8000"
# a second "forgot" for one account this soon after a reset mail sends
# nothing: the first link still works, and nobody can flood a mailbox
RESET_RESEND_GAP = timedelta(seconds=60)
FOOTER = {"en": "This message was sent by Gatehouse about your account.",
          "zh": "这封邮件由 Gatehouse 就你的账户发出。"}

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(enabled_extensions=("html",),
                                                default_for_string=False),
                   keep_trailing_newline=True)

# the page each token's link opens, under ACCOUNT_URL
PAGES = {VERIFY_EMAIL: "verify", RESET_PASSWORD: "reset", CHANGE_EMAIL: "confirm-email"}


def account_url(config: dict[str, Any]) -> str:
    """Where mailed links point: ACCOUNT_URL (a deployment's own front end),
    else the pages this service serves under PUBLIC_URL/account."""
    if config.get("ACCOUNT_URL"):
        return config["ACCOUNT_URL"].rstrip("/")
    return (config.get("PUBLIC_URL") or DEVELOPMENT_URL) + "/account"


def link_for(config: dict[str, Any], purpose: str, token: str, locale: str = "en") -> str:
    """The page's link; a Chinese account's page opens in Chinese."""
    lang = "&lang=zh" if locale == "zh" else ""
    return f"{account_url(config)}/{PAGES[purpose]}?token={quote(token)}{lang}"


def _user(row: MailMessage) -> User | None:
    if row.user_id is not None:
        return db.session.get(User, row.user_id)
    if row.to_address:  # a "forgot" or "resend" for an address as typed
        return db.session.execute(select(User).where(
            User.email_key == row.to_address.lower())).scalar_one_or_none()
    return None


def _recent_reset(user: User) -> bool:
    newest = db.session.scalar(
        select(AccountToken.created_at).where(AccountToken.user_id == user.id,
                                              AccountToken.purpose == RESET_PASSWORD,
                                              AccountToken.used_at.is_(None))
        .order_by(AccountToken.created_at.desc()).limit(1))
    return newest is not None and utcnow() - newest < RESET_RESEND_GAP


def prepare(row: MailMessage, config: dict[str, Any]) -> tuple[EmailMessage, str | None] | None:
    """The message and its link, or None when there is nothing to send (no
    such account, already verified, the new address taken meanwhile). May
    issue a token: the caller commits before sending."""
    user = _user(row)
    if user is None or row.template not in MESSAGES:
        return None
    params = dict(row.params or {})
    to = row.to_address or user.email
    link = None
    values: dict[str, Any] = {"name": user.display_name or user.username, **params}
    if row.template == "verify_email":
        if user.email_verified:
            return None
        to = user.email
        issued = tokens.issue(user, VERIFY_EMAIL)
        link = link_for(config, VERIFY_EMAIL, issued.token, user.locale)
        values.update(code=issued.code, hours=48)
    elif row.template == "password_reset":
        if row.attempts <= 1 and _recent_reset(user):  # a retry replaces its own token
            return None
        to = user.email
        issued = tokens.issue(user, RESET_PASSWORD)
        link = link_for(config, RESET_PASSWORD, issued.token, user.locale)
        values.update(minutes=15)
    elif row.template == "confirm_email_change":
        new_email = params.get("new_email")
        taken = db.session.scalar(select(User.id).where(User.email_key == str(new_email).lower(),
                                                        User.id != user.id))
        if not new_email or taken is not None:
            return None
        to = new_email
        issued = tokens.issue(user, CHANGE_EMAIL, new_email=new_email)
        link = link_for(config, CHANGE_EMAIL, issued.token, user.locale)
        values.update(hours=24)
    return build(row.template, user.locale, values, to, config["MAIL_FROM"], link), link


def build(template: str, locale: str, values: dict[str, Any], to: str, sender: str,
          link: str | None) -> EmailMessage:
    """Text and HTML parts of one message in `locale` (English when unknown)."""
    lang = locale if locale in LOCALES else "en"
    words = MESSAGES[template][lang]
    context = {
        "lang": lang, "subject": words.subject, "link": link, "action": words.action,
        "before": [line.format(**values) for line in words.before],
        "after": [line.format(**values) for line in words.after],
        "footer": FOOTER[lang],
    }
    message = EmailMessage()
    message["Subject"] = words.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_env.get_template("message.txt").render(context))
    message.add_alternative(_env.get_template("message.html").render(context), subtype="html")
    # after the parts: making them moves Content-* headers into the first
    message["Content-Language"] = lang
    return message
