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
            _r("auth.jwks.not_published",
               "This server signs tokens with a shared secret (HS256): it has no "
               "public keys to publish.",
               "该服务器使用共享密钥(HS256)签发令牌:没有可公布的公钥。",
               "Ask the operator to switch to JWT_ALGORITHM=EdDSA or RS256, or "
               "check tokens by calling the API with them.",
               "请运维改用 JWT_ALGORITHM=EdDSA 或 RS256,或通过携带令牌调用 API 来校验。"),
            _r("auth.passkey.not_found",
               "You have no passkey with this id.",
               "你没有此 id 的通行密钥。",
               "List the passkeys again (GET /v1/auth/passkeys).",
               "请重新获取通行密钥列表(GET /v1/auth/passkeys)。"),
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
            _r("user.password.check_unavailable",
               "The breached-password check could not be completed, and this "
               "service requires it (PASSWORD_BREACH_CHECK=strict); nothing was written.",
               "无法完成泄露密码检查,而本服务要求必须检查(PASSWORD_BREACH_CHECK=strict);"
               "未写入任何数据。",
               "Retry with exponential backoff; the password itself may be fine.",
               "使用指数退避重试;密码本身可能并无问题。"),
            _r("database.schema.outdated",
               "The database schema is not at the version this release needs: "
               "run `flask --app wsgi db upgrade`.",
               "数据库结构不是本版本所需的版本:请运行 `flask --app wsgi db upgrade`。",
               "An operator must migrate the database; retry with backoff (a "
               "readiness probe keeps traffic away meanwhile).",
               "需要运维人员迁移数据库;使用退避重试(就绪探针会在此期间挡住流量)。"),
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
            _r("request.read.timeout",
               "The request did not arrive in time: its headers and body must arrive "
               "within the server's read timeout (GUNICORN_REQUEST_READ_TIMEOUT, 10 "
               "seconds by default).",
               "请求未能按时到达:请求头和请求体须在服务器的读取时限内全部到达"
               "(GUNICORN_REQUEST_READ_TIMEOUT,默认 10 秒)。",
               "Send the whole request at once, on a connection fast enough for it.",
               "一次性发送完整请求,并使用足够快的网络连接。"),
            _r("request.body.bad_request",
               "The request could not be understood.",
               "无法理解该请求。",
               "Check the request against the API docs.",
               "对照接口文档检查请求。"),
            _r("request.body.too_deep",
               "The request body is nested more than 32 levels deep.",
               "请求体的嵌套超过 32 层。",
               "Send a flatter JSON object.",
               "发送嵌套更浅的 JSON 对象。"),
            _r("request.param.invalid_character",
               "A string holds a character that cannot be stored: a NUL or an "
               "unpaired surrogate.",
               "字符串含有无法存储的字符:NUL 或不成对的代理项。",
               "`fields` names each string; send valid Unicode text without NUL "
               "characters.",
               "`fields` 列出了每个这样的字符串;发送不含 NUL 字符的合法 Unicode 文本。"),
            _r("request.header.unsupported_transfer_encoding",
               "The request's Transfer-Encoding is not supported.",
               "不支持该请求的 Transfer-Encoding。",
               "Send the body with Content-Length or `Transfer-Encoding: chunked`.",
               "用 Content-Length 或 `Transfer-Encoding: chunked` 发送请求体。"),
            _r("request.query.invalid_cursor",
               "The pagination cursor is invalid or expired.",
               "分页游标无效或已过期。",
               "Restart the listing from the first page.",
               "从第一页重新开始列举。"),
            _r("auth.session.not_found",
               "None of your live sessions has this id (it ended, or is not yours).",
               "你的有效会话中没有这个 ID(它已结束,或不属于你)。",
               "Reload the session list; the session may already have ended.",
               "重新加载会话列表;该会话可能已经结束。"),
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
            _r("user.password.common",
               "This password is one of the most common passwords; choose another.",
               "该密码属于最常见的密码之一,请换一个。",
               "Ask the user for a less predictable password; a phrase of several "
               "unrelated words is easy to remember and hard to guess.",
               "请用户换一个不易被猜中的密码;由几个不相关的词组成的短语既好记又难猜。"),
            _r("user.password.breached",
               "This password appears in a known data breach; choose another.",
               "该密码出现在已知的数据泄露中,请换一个。",
               "Ask the user for another password, and to change it wherever else "
               "they use it.",
               "请用户换一个密码,并在其他使用该密码的地方也一并修改。"),
            _r("account.token.invalid",
               "This link or token is not valid.",
               "该链接或令牌无效。",
               "Check that the whole link was opened (mail programs sometimes break "
               "long links); otherwise ask for a new mail.",
               "检查是否打开了完整的链接(邮件程序有时会截断长链接);否则请重新申请邮件。"),
            _r("account.token.expired",
               "This link has expired.",
               "该链接已过期。",
               "Ask for a new mail (resend the verification, or forgot password again).",
               "请重新申请邮件(重新发送验证邮件,或再次使用忘记密码)。"),
            _r("account.token.spent",
               "This link was already used, or a newer one was sent, or the password "
               "changed since.",
               "该链接已被使用,或已发送了更新的链接,或此后密码已更改。",
               "Use the newest mail's link, or ask for a new one.",
               "请使用最新邮件中的链接,或重新申请。"),
            _r("account.code.invalid",
               "The verification code is incorrect or no longer valid.",
               "验证码不正确或已失效。",
               "Let the user check the code; after a few wrong ones, send a new mail "
               "(POST /v1/auth/email/resend).",
               "请用户核对验证码;多次输错后请重新发送邮件(POST /v1/auth/email/resend)。"),
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
            _r("auth.totp.setup_restarted",
               "Two-factor setup was started again; the code is for an "
               "earlier secret.",
               "两步验证设置已重新开始;该验证码属于之前的密钥。",
               "Have the user add the newest secret to the authenticator app "
               "and enable with a code from it.",
               "请用户将最新的密钥添加到验证器应用,并用其生成的验证码启用。"),
            _r("auth.passkey.invalid",
               "The passkey's answer could not be verified (signature, origin, "
               "relying party or challenge).",
               "通行密钥的应答未通过校验(签名、来源、依赖方或挑战)。",
               "Ask for new options and let the browser answer them on a page of "
               "one of the configured origins (WEBAUTHN_ORIGINS).",
               "请重新获取选项,并在已配置来源(WEBAUTHN_ORIGINS)的页面上由浏览器应答。"),
            _r("auth.passkey.user_verification_required",
               "Signing in with a passkey alone needs user verification (the "
               "device's PIN or biometric).",
               "仅用通行密钥登录需要用户验证(设备的 PIN 或生物识别)。",
               "Use an authenticator that verifies the user, or sign in with the "
               "password and use the passkey as the second factor.",
               "请使用能验证用户的认证器,或用密码登录并以通行密钥作为第二因素。"),
            _r("auth.passkey.challenge_expired",
               "The passkey challenge is unknown or has expired.",
               "通行密钥挑战不存在或已过期。",
               "Ask for new options and answer within 5 minutes.",
               "请重新获取选项,并在 5 分钟内应答。"),
            _r("auth.passkey.challenge_used",
               "The passkey challenge was already answered.",
               "通行密钥挑战已被应答过。",
               "Ask for new options: each challenge is answered once.",
               "请重新获取选项:每个挑战只能应答一次。"),
            _r("auth.passkey.already_registered",
               "This passkey is already registered.",
               "该通行密钥已注册。",
               "Nothing to do: the passkey can be used already.",
               "无需操作:该通行密钥已可使用。"),
            _r("auth.passkey.too_many",
               "The account has the most passkeys allowed (20).",
               "该账户的通行密钥数量已达上限(20 个)。",
               "Remove a passkey no longer used before adding one.",
               "请先删除不再使用的通行密钥再添加。"),
            _r("auth.passkey.none_registered",
               "The account has no usable passkey.",
               "该账户没有可用的通行密钥。",
               "Answer with a two-factor code instead.",
               "请改用两步验证码应答。"),
            _r("auth.passkey.last_factor",
               "Removing the last second factor needs the password and a passkey "
               "answer, as turning two-factor authentication off does.",
               "删除最后一个第二因素需要密码和通行密钥应答,与关闭两步验证相同。",
               "Get options from POST /v1/auth/passkeys/confirm/options, let the "
               "browser answer, and send the answer as credential with the password.",
               "请从 POST /v1/auth/passkeys/confirm/options 获取选项,由浏览器应答,"
               "并将应答作为 credential 与密码一同发送。"),
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
            _r("auth.token.unknown_key",
               "The access token names a signing key (kid) this service does not "
               "know: a retired or foreign key.",
               "访问令牌指明的签名密钥(kid)不为本服务所知:已停用的或外来的密钥。",
               "Refresh the token pair once, then retry the request; log in "
               "again if that fails.",
               "刷新一次令牌后重试请求;若刷新失败则重新登录。"),
            _r("auth.token.wrong_audience",
               "The access token was not issued for this service (its `aud` "
               "does not match).",
               "该访问令牌不是为本服务签发的(`aud` 不匹配)。",
               "Refresh the token pair once, then retry; if it persists, report "
               "it: the service expects another audience.",
               "刷新一次令牌后重试;若仍失败请上报:本服务需要的受众不同。"),
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
            _r("auth.email.unverified",
               "The account's email address is not verified yet; this server requires "
               "that before signing in.",
               "该账户的邮箱地址尚未验证;本服务器要求先验证邮箱才能登录。",
               "Ask the user to open the verification mail, or offer to send it again "
               "(POST /v1/auth/email/resend); then log in again.",
               "请用户打开验证邮件,或提供重新发送(POST /v1/auth/email/resend);然后重新登录。"),
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
            _r("auth.refresh.superseded",
               "This refresh token was just rotated by another request; the "
               "session is kept.",
               "该刷新令牌刚被另一个请求轮换;会话仍然有效。",
               "Keep the session: use the token pair the concurrent refresh "
               "received (serialize refreshes in the client); sign in again "
               "only if there is none.",
               "保留会话:使用并发刷新请求得到的新令牌对(客户端应串行刷新);"
               "若没有,再重新登录。"),
            _r("auth.reauth.required",
               "This change needs the current password: the session's last "
               "sign-in is more than 5 minutes old.",
               "此操作需要当前密码:本会话上次验证身份已超过 5 分钟。",
               "Ask the user for the current password and resend the request "
               "with it in `password`.",
               "请用户输入当前密码,并在 `password` 字段中携带后重新发送请求。"),
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
            _r("auth.passkey.unknown_credential",
               "This passkey is not registered here (removed, or never added).",
               "该通行密钥未在此注册(已删除或从未添加)。",
               "Sign in with the password; the browser may still offer a passkey "
               "removed from the account.",
               "请用密码登录;浏览器可能仍会提供已从账户删除的通行密钥。"),
            _r("auth.passkey.cloned",
               "This passkey's signature counter went backwards: it may have been "
               "copied, so it was disabled.",
               "该通行密钥的签名计数器倒退:它可能已被复制,因此已被停用。",
               "Tell the user to remove this passkey and add a new one; sign in "
               "with another factor meanwhile.",
               "请告知用户删除该通行密钥并添加新的;在此期间请用其他因素登录。"),
            _r("auth.permission.admin_required",
               "This endpoint requires an administrator.",
               "该接口需要管理员权限。",
               "Hide the feature from non-admin users.",
               "对非管理员用户隐藏该功能。"),
            _r("auth.permission.2fa_required",
               "This resource requires a session signed in with two-factor "
               "authentication (sent by resource servers that verify tokens "
               "with the client package).",
               "该资源要求使用两步验证登录的会话(由使用客户端包校验令牌的资源服务器返回)。",
               "Offer the user to turn on two-factor authentication and sign in "
               "with it.",
               "引导用户开启两步验证并用它登录。"),
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
            _r("auth.attempts.too_many",
               "Too many failed password or code checks for this account or from this "
               "address; checks are paused (at most 15 minutes), even for the right "
               "password.",
               "该账户或该地址的密码或验证码校验失败次数过多;校验已暂停(最多 15 分钟),"
               "正确的密码也须等待。",
               "Wait `Retry-After` seconds, then retry once with the right password or "
               "code; each further failure doubles the wait, up to 15 minutes.",
               "等待 `Retry-After` 秒后,用正确的密码或验证码重试一次;每次再失败等待时间"
               "加倍,最长 15 分钟。"),
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
