"""The error catalog: the one table every error fact comes from.

Codes, HTTP statuses, titles (English and Chinese), default descriptions,
machine-readable reasons, retry advice and client hints all live here.
The exception classes, the global handler, ``GET /v1/errors``, the generated
docs and the OpenAPI error responses read this table; nothing else states
these facts. Legacy codes (10, 21, 22, 77, 88, 99, 500) are frozen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# Retry policies a client may follow.
RETRY_NEVER = "never"            # fix the request or ask the user; do not resend
RETRY_BACKOFF = "backoff"        # resend with exponential backoff and jitter
RETRY_AFTER = "retry_after"      # resend after the Retry-After header's seconds
RETRY_ONCE = "once"              # resend once; report if it persists


@dataclass(frozen=True)
class Reason:
    """One situation a legacy code covers, told apart by ``name``."""

    name: str
    description: str
    description_zh: str
    hint: str
    hint_zh: str


@dataclass(frozen=True)
class ErrorCode:
    code: int
    status: int
    title: str
    title_zh: str
    description: str
    description_zh: str
    retry: str
    hint: str
    hint_zh: str
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def retryable(self) -> bool:
        return self.retry != RETRY_NEVER

    @property
    def default_reason(self) -> str | None:
        return self.reasons[0].name if self.reasons else None

    def localized_title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title


def _r(name: str, description: str, description_zh: str, hint: str,
       hint_zh: str) -> Reason:
    return Reason(name, description, description_zh, hint, hint_zh)


_CODES: tuple[ErrorCode, ...] = (
    ErrorCode(
        200, 200, "OK", "成功",
        "The request succeeded.", "请求成功。",
        RETRY_NEVER,
        "Read `data` (and `pagination` for lists).",
        "读取 `data`(列表另有 `pagination`)。",
    ),
    ErrorCode(
        10, 404, "Not Supported", "不支持",
        "The method or endpoint is not supported.", "不支持该方法或接口。",
        RETRY_NEVER,
        "Check the method and path against the API docs; do not retry.",
        "对照接口文档检查请求方法和路径;不要重试。",
        (
            _r("request.route.not_found",
               "The requested endpoint does not exist.",
               "请求的接口不存在。",
               "Fix the path; it is not part of the API.",
               "修正路径;该路径不属于本 API。"),
            _r("request.method.not_allowed",
               "The endpoint does not support this method.",
               "该接口不支持此请求方法。",
               "Use one of the methods the endpoint documents.",
               "改用接口文档列出的请求方法。"),
        ),
    ),
    ErrorCode(
        21, 404, "User Not Exists", "用户不存在",
        "User account not found.", "未找到用户账户。",
        RETRY_NEVER,
        "Tell the user the account was not found; do not retry.",
        "提示用户账户不存在;不要重试。",
        (
            _r("user.fetch.not_found",
               "No user has this id.",
               "不存在该 ID 的用户。",
               "Show a not-found message; the user may have been deleted.",
               "显示“未找到”;该用户可能已被删除。"),
            _r("auth.login.unknown_user",
               "No account has this username or email.",
               "没有使用该用户名或邮箱的账户。",
               "Let the user re-check the username or email, or sign up.",
               "请用户核对用户名或邮箱,或先注册。"),
        ),
    ),
    ErrorCode(
        22, 400, "Password Not Match", "密码不匹配",
        "The password does not match.", "密码不正确。",
        RETRY_NEVER,
        "Ask the user to re-enter the password; never resend it automatically.",
        "请用户重新输入密码;不要自动重发。",
        (
            _r("auth.password.mismatch",
               "The password does not match.",
               "密码不正确。",
               "Ask the user to re-enter the password.",
               "请用户重新输入密码。"),
            _r("auth.login.invalid_credentials",
               "The login or password is incorrect.",
               "账号或密码不正确。",
               "Ask the user to re-check both the login and the password.",
               "请用户同时核对账号和密码。"),
        ),
    ),
    ErrorCode(
        77, 500, "Database Rollback", "数据库回滚",
        "A database operation failed and the transaction was rolled back.",
        "数据库操作失败,事务已回滚。",
        RETRY_BACKOFF,
        "Nothing was written. Retry with exponential backoff; show a generic "
        "message if it persists.",
        "未写入任何数据。使用指数退避重试;若持续失败,显示通用错误提示。",
        (
            _r("database.transaction.failed",
               "A database operation failed; the transaction was rolled back.",
               "数据库操作失败,事务已回滚。",
               "Retry with exponential backoff.",
               "使用指数退避重试。"),
            _r("database.query.timeout",
               "The database did not answer in time (busy or locked); nothing was "
               "written.",
               "数据库未能及时响应(繁忙或被锁定);未写入任何数据。",
               "Retry with exponential backoff.",
               "使用指数退避重试。"),
            _r("database.connection.unavailable",
               "The database is unavailable.",
               "数据库不可用。",
               "Retry with exponential backoff; the service recovers by itself.",
               "使用指数退避重试;服务会自行恢复。"),
        ),
    ),
    ErrorCode(
        88, 400, "Invalid Parameter", "参数无效",
        "Request parameter validation failed.", "请求参数校验失败。",
        RETRY_NEVER,
        "Fix the request: `fields` names each invalid field. Do not resend "
        "it unchanged.",
        "修正请求:`fields` 列出了每个无效字段。不要原样重发。",
        (
            _r("request.param.invalid",
               "One or more parameters are missing or invalid.",
               "一个或多个参数缺失或无效。",
               "Show each message in `fields` beside its input.",
               "在对应输入框旁显示 `fields` 中的每条消息。"),
            _r("request.body.invalid_json",
               "The request body is not valid JSON.",
               "请求体不是合法的 JSON。",
               "Send a well-formed JSON object.",
               "发送格式正确的 JSON 对象。"),
            _r("request.body.not_object",
               "The request body must be a JSON object.",
               "请求体必须是 JSON 对象。",
               "Wrap the parameters in a JSON object.",
               "把参数放进一个 JSON 对象中。"),
            _r("request.body.unsupported_media_type",
               "The request body must be sent as application/json.",
               "请求体必须以 application/json 发送。",
               "Set `Content-Type: application/json`.",
               "设置 `Content-Type: application/json`。"),
            _r("request.body.too_large",
               "The request body is larger than the 64 KiB limit.",
               "请求体超过 64 KiB 的上限。",
               "Send a smaller body.",
               "缩小请求体。"),
            _r("request.body.bad_request",
               "The request could not be understood.",
               "无法理解该请求。",
               "Check the request against the API docs.",
               "对照接口文档检查请求。"),
            _r("request.query.invalid_cursor",
               "The pagination cursor is invalid or expired.",
               "分页游标无效或已过期。",
               "Restart the listing from the first page.",
               "从第一页重新开始列举。"),
            _r("user.username.taken",
               "This username is already taken.",
               "该用户名已被占用。",
               "Ask the user to choose another username.",
               "请用户换一个用户名。"),
            _r("user.email.taken",
               "This email is already registered.",
               "该邮箱已被注册。",
               "Ask the user to log in or use another email.",
               "请用户直接登录或换一个邮箱。"),
            _r("auth.totp.invalid",
               "The two-factor code is incorrect.",
               "两步验证码不正确。",
               "Ask the user for a fresh code from the authenticator app.",
               "请用户从验证器应用获取新的验证码。"),
            _r("auth.totp.replayed",
               "This two-factor code was already used.",
               "该两步验证码已被使用。",
               "Ask the user to wait for the next code.",
               "请用户等待下一个验证码。"),
            _r("auth.totp.not_pending",
               "Two-factor setup has not been started.",
               "尚未开始两步验证设置。",
               "Call 2FA setup first, then enable with a code.",
               "先调用两步验证设置接口,再用验证码启用。"),
            _r("auth.totp.already_enabled",
               "Two-factor authentication is already enabled.",
               "两步验证已启用。",
               "Nothing to do; disable it first to set it up again.",
               "无需操作;如需重新设置,请先停用。"),
            _r("auth.totp.not_enabled",
               "Two-factor authentication is not enabled.",
               "两步验证未启用。",
               "Nothing to disable.",
               "无需停用。"),
        ),
    ),
    ErrorCode(
        99, 401, "Auth Required", "需要认证",
        "Authentication token required or invalid.", "需要认证令牌,或令牌无效。",
        RETRY_NEVER,
        "Branch on `reason`: refresh on `auth.token.expired`, log out on "
        "`auth.account.blocked`, log in again otherwise.",
        "根据 `reason` 处理:`auth.token.expired` 时刷新令牌,"
        "`auth.account.blocked` 时立即登出,其他情况重新登录。",
        (
            _r("auth.token.missing",
               "An access token is required.",
               "需要访问令牌。",
               "Send `Authorization: Bearer <access_token>`; log in first.",
               "发送 `Authorization: Bearer <access_token>`;请先登录。"),
            _r("auth.token.malformed",
               "The access token is malformed.",
               "访问令牌格式错误。",
               "Discard the token and log in again.",
               "丢弃该令牌并重新登录。"),
            _r("auth.token.invalid",
               "The access token is invalid.",
               "访问令牌无效。",
               "Discard the token and log in again.",
               "丢弃该令牌并重新登录。"),
            _r("auth.token.expired",
               "The access token has expired.",
               "访问令牌已过期。",
               "Refresh the token pair once, then retry the request.",
               "刷新一次令牌,然后重试请求。"),
            _r("auth.token.revoked",
               "The session of this token has been revoked.",
               "该令牌所属的会话已被撤销。",
               "Clear local tokens and log in again.",
               "清除本地令牌并重新登录。"),
            _r("auth.token.wrong_type",
               "This token cannot be used here.",
               "此处不能使用该令牌。",
               "Use the access token for requests and the refresh token "
               "only for refresh.",
               "请求使用访问令牌,刷新时才使用刷新令牌。"),
            _r("auth.token.2fa_mismatch",
               "Two-factor authentication mismatch: the token does not match "
               "the account's 2FA status.",
               "两步验证不匹配:令牌与账户的两步验证状态不一致。",
               "Clear local tokens and log in again (with 2FA if enabled).",
               "清除本地令牌并重新登录(如已启用两步验证则需验证)。"),
            _r("auth.account.blocked",
               "Account is blocked.",
               "账户已被封禁。",
               "Log out immediately, stop sending requests and show support "
               "contact details.",
               "立即登出,停止发送请求,并显示客服联系方式。"),
            _r("auth.account.deleted",
               "The account of this token no longer exists.",
               "该令牌对应的账户已不存在。",
               "Clear local tokens and return to sign-up or login.",
               "清除本地令牌,返回注册或登录页。"),
            _r("auth.refresh.invalid",
               "The refresh token is invalid, expired or revoked.",
               "刷新令牌无效、已过期或已撤销。",
               "Clear local tokens and log in again.",
               "清除本地令牌并重新登录。"),
            _r("auth.refresh.reused",
               "The refresh token was already used; the session has been "
               "revoked.",
               "刷新令牌已被使用过;该会话已被撤销。",
               "Clear local tokens and log in again; the token may have leaked.",
               "清除本地令牌并重新登录;令牌可能已泄露。"),
            _r("auth.challenge.invalid",
               "The login challenge is invalid or expired.",
               "登录验证挑战无效或已过期。",
               "Start the login again.",
               "重新开始登录。"),
            _r("auth.challenge.exhausted",
               "Too many wrong codes; the login challenge is void.",
               "错误验证码次数过多;登录验证挑战已作废。",
               "Start the login again.",
               "重新开始登录。"),
            _r("auth.permission.admin_required",
               "This endpoint requires an administrator.",
               "该接口需要管理员权限。",
               "Hide the feature from non-admin users.",
               "对非管理员用户隐藏该功能。"),
        ),
    ),
    ErrorCode(
        429, 429, "Too Many Requests", "请求过多",
        "Too many requests; slow down.", "请求过于频繁,请稍后再试。",
        RETRY_AFTER,
        "Wait the seconds given in the `Retry-After` header, then retry.",
        "等待 `Retry-After` 响应头给出的秒数后再重试。",
        (
            _r("request.rate.limited",
               "Rate limit exceeded; retry after the time in Retry-After.",
               "超出请求频率限制;请在 Retry-After 指定的时间后重试。",
               "Wait `Retry-After` seconds before retrying.",
               "等待 `Retry-After` 秒后再重试。"),
        ),
    ),
    ErrorCode(
        500, 500, "Unknown Error", "未知错误",
        "An unexpected error occurred.", "发生了意外错误。",
        RETRY_ONCE,
        "Retry once; if it persists, report the `request_id` to support.",
        "重试一次;若仍失败,请将 `request_id` 提供给技术支持。",
        (
            _r("server.internal.error",
               "An unexpected error occurred.",
               "发生了意外错误。",
               "Retry once, then report the request id.",
               "重试一次,然后上报请求 ID。"),
        ),
    ),
)

CATALOG: Mapping[int, ErrorCode] = MappingProxyType({c.code: c for c in _CODES})
REASONS: Mapping[str, tuple[ErrorCode, Reason]] = MappingProxyType(
    {r.name: (c, r) for c in _CODES for r in c.reasons})
ERROR_CODES: tuple[ErrorCode, ...] = tuple(c for c in _CODES if c.code != 200)


def reason_of(name: str) -> Reason:
    """The catalog's entry for a reason name (KeyError for an unknown one)."""
    return REASONS[name][1]


def as_dict(entry: ErrorCode, lang: str = "en") -> dict:
    """The public, JSON-ready form of one code (for /v1/errors and docs)."""
    zh = lang == "zh"
    return {
        "code": entry.code,
        "status": entry.status,
        "title": entry.title_zh if zh else entry.title,
        "description": entry.description_zh if zh else entry.description,
        "retry": entry.retry,
        "retryable": entry.retryable,
        "hint": entry.hint_zh if zh else entry.hint,
        "reasons": [
            {"reason": r.name,
             "description": r.description_zh if zh else r.description,
             "hint": r.hint_zh if zh else r.hint}
            for r in entry.reasons
        ],
    }
