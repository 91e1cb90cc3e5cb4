"""The words of every message, in English and Chinese.

A message is a subject, paragraphs before and after an optional button
(a link) and an optional code. Paragraphs are plain text with ``{name}``
placeholders filled from the message's values; the HTML template
(templates/message.html) escapes them, so nothing a user chose (a display
name, an address) can become markup.
"""
from __future__ import annotations

from dataclasses import dataclass, field

LOCALES = ("en", "zh")


@dataclass(frozen=True)
class Words:
    subject: str
    before: tuple[str, ...]
    action: str | None = None
    after: tuple[str, ...] = field(default=())


_NOT_YOU_EN = ("If this was not you, reset your password now and check your account's "
               "sessions.")
_NOT_YOU_ZH = "如果这不是你本人的操作,请立即重置密码并检查账户的登录会话。"

MESSAGES: dict[str, dict[str, Words]] = {
    "verify_email": {
        "en": Words("Confirm your email address",
                    ("Hello {name},", "Confirm that this is your address by opening the link "
                     "below, or enter this code: {code}"),
                    "Confirm my address",
                    ("The link and the code expire in {hours} hours. If you did not sign up, "
                     "ignore this message.",)),
        "zh": Words("确认你的邮箱地址",
                    ("{name},你好:", "请打开下面的链接确认这是你的邮箱地址,或输入验证码:{code}"),
                    "确认我的邮箱",
                    ("链接和验证码将在 {hours} 小时后失效。如果你没有注册,请忽略本邮件。",)),
    },
    "password_reset": {
        "en": Words("Reset your password",
                    ("Hello {name},", "Someone asked to reset the password of your account. "
                     "Open the link below to choose a new one."),
                    "Choose a new password",
                    ("The link works once and expires in {minutes} minutes. If you did not "
                     "ask, ignore this message: your password stays as it is.",)),
        "zh": Words("重置你的密码",
                    ("{name},你好:", "有人请求重置你账户的密码。请打开下面的链接设置新密码。"),
                    "设置新密码",
                    ("该链接只能使用一次,{minutes} 分钟后失效。如果不是你本人请求,请忽略本邮件,"
                     "你的密码不会改变。",)),
    },
    "confirm_email_change": {
        "en": Words("Confirm your new email address",
                    ("Hello {name},", "Open the link below to make {new_email} the address "
                     "of your account."),
                    "Confirm the new address",
                    ("The link expires in {hours} hours. Until then your account keeps its "
                     "current address.",)),
        "zh": Words("确认你的新邮箱地址",
                    ("{name},你好:", "请打开下面的链接,将 {new_email} 设为你账户的邮箱地址。"),
                    "确认新邮箱",
                    ("该链接将在 {hours} 小时后失效。在此之前,你的账户仍使用当前邮箱。",)),
    },
    "email_changed": {
        "en": Words("Your account's email address was changed",
                    ("Hello {name},", "The email address of your account was changed to "
                     "{new_email}. Mail about the account now goes there.", _NOT_YOU_EN)),
        "zh": Words("你账户的邮箱地址已更改",
                    ("{name},你好:", "你账户的邮箱地址已更改为 {new_email},今后账户邮件将发往该地址。",
                     _NOT_YOU_ZH)),
    },
    "password_changed": {
        "en": Words("Your password was changed",
                    ("Hello {name},", "The password of your account was changed. Sessions "
                     "signed in before were ended.", _NOT_YOU_EN)),
        "zh": Words("你的密码已更改",
                    ("{name},你好:", "你账户的密码已更改,此前登录的会话已结束。", _NOT_YOU_ZH)),
    },
    "password_reset_done": {
        "en": Words("Your password was reset",
                    ("Hello {name},", "The password of your account was reset and every "
                     "session was signed out. Two-factor authentication stays on if you "
                     "had it.", _NOT_YOU_EN)),
        "zh": Words("你的密码已重置",
                    ("{name},你好:", "你账户的密码已重置,所有会话均已退出登录。若你开启了两步验证,"
                     "它仍然有效。", _NOT_YOU_ZH)),
    },
    "two_factor_enabled": {
        "en": Words("Two-factor authentication is on",
                    ("Hello {name},", "Two-factor authentication was turned on for your "
                     "account: signing in now also asks for a code.", _NOT_YOU_EN)),
        "zh": Words("两步验证已开启",
                    ("{name},你好:", "你的账户已开启两步验证:登录时还需要输入验证码。", _NOT_YOU_ZH)),
    },
    "two_factor_disabled": {
        "en": Words("Two-factor authentication is off",
                    ("Hello {name},", "Two-factor authentication was turned off for your "
                     "account: signing in now needs only the password.", _NOT_YOU_EN)),
        "zh": Words("两步验证已关闭",
                    ("{name},你好:", "你的账户已关闭两步验证:登录时只需要密码。", _NOT_YOU_ZH)),
    },
    "passkey_added": {
        "en": Words("A passkey was added to your account",
                    ("Hello {name},", "A passkey was added to your account: it can now "
                     "sign in.", _NOT_YOU_EN)),
        "zh": Words("你的账户添加了通行密钥",
                    ("{name},你好:", "你的账户添加了一个通行密钥,它现在可以用于登录。", _NOT_YOU_ZH)),
    },
    "passkey_removed": {
        "en": Words("A passkey was removed from your account",
                    ("Hello {name},", "A passkey was removed from your account.",
                     _NOT_YOU_EN)),
        "zh": Words("你的账户移除了通行密钥",
                    ("{name},你好:", "你的账户移除了一个通行密钥。", _NOT_YOU_ZH)),
    },
    "recovery_code_used": {
        "en": Words("A recovery code was used",
                    ("Hello {name},", "A recovery code of your account was used. "
                     "{remaining} unused codes are left.", _NOT_YOU_EN)),
        "zh": Words("恢复码已被使用",
                    ("{name},你好:", "你账户的一个恢复码已被使用,还剩 {remaining} 个未使用的恢复码。",
                     _NOT_YOU_ZH)),
    },
}
