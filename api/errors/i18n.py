"""Chinese for every sentence an error can carry besides its catalog text.

An error's title and catalog description are localized in the catalog. What
else a client reads is English text made where the error arises: a
validation description naming the fields ("Missing required parameter:
email"), marshmallow's field messages ("Not a valid string.", "Length must be
between 8 and 128."), our validators' messages, and the few descriptions a
service writes itself. They stay English where they are made (logs, the CLI,
and `Accept-Language: en` see them unchanged) and are translated here, when an
error is rendered for a client asking for Chinese.

The table is keyed by marshmallow's own message templates (read off its
classes, so a reworded message in a later marshmallow keeps its key) and by
our own; values with ``{placeholders}`` are matched as patterns and the
values they held (lengths, field names, choices) carried over. Every
catalog description is included, so a service that writes one out (as the
unique-constraint 88 does) is translated like the catalog's own.
tests/errors/test_i18n.py walks every field of every request schema, and
every message written in api/, so a message without its Chinese fails there.
"""
from __future__ import annotations

import functools
import itertools
import re
from typing import Mapping

from marshmallow import Schema, fields, validate

from api.errors.catalog import REASONS

# validation descriptions (api/errors/exceptions.py: validation_error)
MISSING = "Missing required parameter: {missing}"
INVALID = "Invalid parameter: {invalid}"
MISSING_AND_INVALID = "Missing required parameter: {missing}; invalid parameter: {invalid}"

_RANGE_OPS = {validate.Range.message_gt: "大于", validate.Range.message_gte: "大于等于",
              validate.Range.message_lt: "小于", validate.Range.message_lte: "小于等于"}


def _marshmallow() -> dict[str, str]:
    """marshmallow's messages (fields, schema, validators) and their Chinese."""
    f = fields
    schema = Schema().error_messages  # a schema's own messages (public; merged defaults)
    table = {
        f.Field.default_error_messages["required"]: "缺少必填字段。",
        f.Field.default_error_messages["null"]: "该字段不能为空值。",
        f.Field.default_error_messages["validator_failed"]: "值无效。",
        f.String.default_error_messages["invalid"]: "不是有效的字符串。",
        f.String.default_error_messages["invalid_utf8"]: "不是有效的 UTF-8 字符串。",
        f.Email.default_error_messages["invalid"]: "不是有效的邮箱地址。",
        f.Integer.default_error_messages["invalid"]: "不是有效的整数。",
        f.Number.default_error_messages["invalid"]: "不是有效的数字。",
        f.Number.default_error_messages["too_large"]: "数值过大。",
        f.Boolean.default_error_messages["invalid"]: "不是有效的布尔值。",
        f.List.default_error_messages["invalid"]: "不是有效的列表。",
        f.Nested.default_error_messages["type"]: "类型无效。",
        f.Dict.default_error_messages["invalid"]: "不是有效的对象。",
        f.UUID.default_error_messages["invalid_uuid"]: "不是有效的 UUID。",
        f.Url.default_error_messages["invalid"]: "不是有效的 URL。",
        f.DateTime.default_error_messages["invalid"]: "不是有效的日期时间。",
        schema["type"]: "输入类型无效。",
        schema["unknown"]: "未知字段。",
        validate.Length.message_all: "长度必须在 {min} 到 {max} 之间。",
        validate.Length.message_equal: "长度必须为 {equal}。",
        validate.Length.message_min: "长度不能少于 {min}。",
        validate.Length.message_max: "长度不能超过 {max}。",
        validate.Regexp.default_message: "格式不符合要求。",
        validate.OneOf.default_message: "必须是以下之一:{choices}。",
        validate.Email.default_message: "不是有效的邮箱地址。",
        validate.URL.default_message: "不是有效的 URL。",
        validate.Equal.default_message: "必须等于 {other}。",
        validate.NoneOf.default_message: "输入无效。",
        validate.ContainsOnly.default_message: "所选的一项或多项不在以下范围内:{choices}。",
    }
    # Range's messages are built from an operator and a bound
    for (min_en, min_zh), (max_en, max_zh) in itertools.product(
            list(_RANGE_OPS.items())[:2], list(_RANGE_OPS.items())[2:]):
        en = validate.Range.message_all.format(min_op=min_en, max_op=max_en)
        table[en] = f"必须{min_zh} {{min}} 且{max_zh} {{max}}。"
    for op_en, op_zh in list(_RANGE_OPS.items())[:2]:
        table[validate.Range.message_min.format(min_op=op_en)] = f"必须{op_zh} {{min}}。"
    for op_en, op_zh in list(_RANGE_OPS.items())[2:]:
        table[validate.Range.message_max.format(max_op=op_en)] = f"必须{op_zh} {{max}}。"
    return table


# Our own messages: validators, schema checks, field messages and
# descriptions written by services and views.
OURS: dict[str, str] = {
    MISSING: "缺少必填参数:{missing}",
    INVALID: "参数无效:{invalid}",
    MISSING_AND_INVALID: "缺少必填参数:{missing};参数无效:{invalid}",
    "Use only letters, digits, '_', '.' and '-'.": "只能使用字母、数字、'_'、'.' 和 '-'。",
    "Longer than {max} characters once lower-cased.": "转为小写后超过 {max} 个字符。",
    "Give at least one of: email, display_name, locale.":
        "请至少提供以下之一:email、display_name、locale。",
    "Give either token, or email and code.": "请提供 token,或同时提供 email 和 code。",
    "Use the 6-digit code (0-9) from the mail.": "请使用邮件中的 6 位数字验证码(0-9)。",
    "Use the 6-digit code (0-9) or a recovery code.": "请使用 6 位数字验证码(0-9)或恢复码。",
    "Use the 6-digit code (0-9).": "请使用 6 位数字验证码(0-9)。",
    "Holds a character that cannot be stored: a NUL or an unpaired surrogate.":
        "含有无法存储的字符:NUL 或不成对的代理项。",
    "Invalid cursor.": "分页游标无效。",
    "The pagination cursor is invalid.": "分页游标无效。",
    "This code was already used.": "该验证码已被使用。",
    "The code is incorrect.": "验证码不正确。",
    "The passkey's answer does not verify.": "通行密钥的应答未通过校验。",
    "Not a passkey of this account.": "不是该账户的通行密钥。",
    "Needed to remove the last second factor.": "删除最后一个第二因素时必填。",
    "Give either code or credential.": "请提供 code 或 credential 之一。",
    "id must be a non-negative integer.": "id 必须是非负整数。",
    "Authorization header must be 'Bearer <access_token>'.":
        "Authorization 请求头必须是 'Bearer <access_token>'。",
    "No such error code.": "没有这个错误码。",
    "No user matches {identifier}.": "没有与 {identifier} 匹配的用户。",
    "No live session of yours has this id.": "你没有具有此 id 的有效会话。",
}


_PLACEHOLDER = re.compile(r"\(\?P<\w+>\.\+\?\)")  # a template's {name}, compiled


@functools.cache
def _tables() -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """(exact messages, templates as patterns): built once, on first use."""
    exact: dict[str, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    catalog = {reason.description: reason.description_zh for _, reason in REASONS.values()}
    for en, zh in {**catalog, **_marshmallow(), **OURS}.items():
        names = re.findall(r"(?<!\{)\{(\w+)\}(?!\})", en)
        if not names:
            exact[en] = zh
            continue
        regex = "".join(f"(?P<{part[1:-1]}>.+?)" if re.fullmatch(r"\{\w+\}", part)
                        else re.escape(part) for part in re.split(r"(\{\w+\})", en))
        patterns.append((re.compile(regex + r"\Z", re.S), zh))
    # the most literal text first: "Missing …: {missing}; invalid …: {invalid}"
    # before "Missing …: {missing}", which would take the rest as one value
    patterns.sort(key=lambda item: -len(_PLACEHOLDER.sub("", item[0].pattern)))
    return exact, patterns


def to_chinese(message: str) -> str:
    """The Chinese of an English message; the message itself when unknown."""
    exact, patterns = _tables()
    found = exact.get(message)
    if found is not None:
        return found
    for pattern, zh in patterns:
        match = pattern.match(message)
        if match:
            values = match.groupdict()
            return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), zh)
    return message


def localize_fields(field_messages: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """A new mapping (the error's own is never changed): every message in Chinese."""
    return {name: [to_chinese(m) for m in msgs] for name, msgs in field_messages.items()}
