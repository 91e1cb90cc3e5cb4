"""The small pages mailed links open (verify, reset, confirm email), when
ACCOUNT_URL does not name a front end of the deployment's own.

Server-rendered HTML, English or Chinese (`?lang=` or Accept-Language), no
script and no external asset: a GET shows a form (a link prefetched by a
mail scanner spends nothing), its POST calls the same service as the API
and shows the outcome. These pages are the one exception to the JSON
envelope. The token is in the URL, so no Referer may carry it on
(Referrer-Policy), and the Content-Security-Policy allows nothing beyond
the page itself.
"""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, make_response, render_template, request
from marshmallow import ValidationError

from api.account import service
from api.account.schemas import ResetPasswordSchema
from api.db import writes
from api.errors.catalog import reason_of
from api.errors.exceptions import AppError, validation_error
from api.errors.i18n import to_chinese
from api.extensions import db
from api.negotiation import language

bp = Blueprint("account_pages", __name__, url_prefix="/account", template_folder="templates")

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

TEXT: dict[str, dict[str, dict[str, str]]] = {
    "verify": {
        "en": {"title": "Confirm your email address",
               "intro": "Press the button to confirm that this address is yours.",
               "button": "Confirm my address", "done": "Your email address is confirmed. "
               "You can close this page."},
        "zh": {"title": "确认你的邮箱地址", "intro": "点击按钮,确认这个邮箱地址属于你。",
               "button": "确认我的邮箱", "done": "你的邮箱地址已确认,可以关闭此页面。"},
    },
    "reset": {
        "en": {"title": "Choose a new password",
               "intro": "Enter a new password for your account. Every device signed in "
                        "will be signed out.",
               "password": "New password (8 to 128 characters)", "button": "Set password",
               "done": "Your password is set. Sign in with it in your app."},
        "zh": {"title": "设置新密码", "intro": "为你的账户输入新密码。所有已登录的设备都将退出登录。",
               "password": "新密码(8 到 128 个字符)", "button": "设置密码",
               "done": "你的密码已设置,请在应用中使用新密码登录。"},
    },
    "confirm-email": {
        "en": {"title": "Confirm your new email address",
               "intro": "Press the button to make this address the one of your account.",
               "button": "Confirm the new address",
               "done": "Your account now uses this email address."},
        "zh": {"title": "确认你的新邮箱地址", "intro": "点击按钮,将此地址设为你账户的邮箱。",
               "button": "确认新邮箱", "done": "你的账户现在使用这个邮箱地址。"},
    },
}
OTHER_LANG = {"en": "中文", "zh": "English"}
MISSING_TOKEN = {"en": "This page needs the link from your mail, whole.",
                 "zh": "此页面需要邮件中的完整链接。"}


def _lang() -> str:
    chosen = request.values.get("lang", "")
    return chosen if chosen in ("en", "zh") else language()


def _message(error: AppError, lang: str) -> str:
    if error.fields:
        text = " ".join(m for msgs in error.fields.values() for m in msgs)
    else:
        entry = reason_of(error.reason)
        text = error.description or entry.description
    return to_chinese(text) if lang == "zh" else text


def _page(page: str, perform: Callable[[dict[str, Any]], None], *,
          password: bool = False) -> Response:
    lang = _lang()
    token = request.values.get("token", "")
    other = "zh" if lang == "en" else "en"
    context: dict[str, Any] = {
        "lang": lang, "t": {**TEXT[page][lang], "other_lang": OTHER_LANG[lang]},
        "token": token, "password": password, "error": None, "done": None,
        "action": f"{request.path}?{urlencode({'lang': lang})}",
        "other_lang_url": f"{request.path}?{urlencode({'token': token, 'lang': other})}",
    }
    status = 200
    if not token or len(token) > 128:
        context["error"], status = MISSING_TOKEN[lang], 400
    elif request.method == "POST":
        try:
            perform(request.form.to_dict())
            context["done"] = TEXT[page][lang]["done"]
        except ValidationError as exc:
            db.session.rollback()
            context["error"], status = _message(validation_error(exc.normalized_messages()),
                                                lang), 400
        except AppError as exc:
            db.session.rollback()
            context["error"], status = _message(exc, lang), exc.status
    response = make_response(render_template("account/page.html", **context), status)
    response.headers.update(HEADERS)
    response.headers["Content-Language"] = lang
    return response


_reset_schema = ResetPasswordSchema()


@bp.route("/verify", methods=["GET", "POST"])
@writes
def verify_page() -> Response:
    return _page("verify", lambda form: service.verify_email(form["token"]))


@bp.route("/reset", methods=["GET", "POST"])
@writes
def reset_page() -> Response:
    def reset(form: dict[str, Any]) -> None:
        body = _reset_schema.load({"token": form.get("token", ""),
                                   "new_password": form.get("new_password", "")})
        service.reset_password(body["token"], body["new_password"])
    return _page("reset", reset, password=True)


@bp.route("/confirm-email", methods=["GET", "POST"])
@writes
def confirm_email_page() -> Response:
    return _page("confirm-email", lambda form: service.confirm_email_change(form["token"]))
