"""docs/errors.md and docs/errors.zh.md, generated from the catalog."""
from __future__ import annotations

from pathlib import Path

from api.errors.catalog import ERROR_CODES, RETRY_AFTER, RETRY_BACKOFF, RETRY_NEVER, RETRY_ONCE

LANGS = ("en", "zh")

_TEXT = {
    "en": {
        "file": "errors.md",
        "title": "Gatehouse error codes",
        "generated": "Generated from `api/errors/catalog.py` by `flask errors docs`; "
                     "do not edit by hand.",
        "intro": (
            "Every response is JSON with a `meta` object. On an error, `meta` holds "
            "`code` (branch on it), `message` (the code's title), `description` "
            "(this occurrence), `reason` (a stable machine-readable "
            "`module.resource.reason`; several situations share one legacy code, "
            "and `reason` tells them apart), `request_id` (also the `X-Request-ID` "
            "header; quote it to support) and, for validation errors, `fields`.\n\n"
            "Check the HTTP status first, then branch on `code`, then on `reason`. "
            "Never branch on `message`: it is a title for people and is translated "
            "with `Accept-Language: zh`. Send `Accept: application/problem+json` "
            "to receive RFC 9457 problem details instead."),
        "summary": "Summary",
        "cols": "| code | HTTP | title | retry | client handling |",
        "reasons": "Reasons",
        "rcols": "| reason | description | client handling |",
        "retry": {RETRY_NEVER: "no", RETRY_BACKOFF: "yes, exponential backoff",
                  RETRY_AFTER: "yes, after `Retry-After`", RETRY_ONCE: "once"},
        "http": "HTTP status",
        "retry_label": "Retry",
        "handling": "Client handling",
        "legacy": "The legacy API this convention comes from titled 99 \"Authentication "
                  "Required\" and 77 \"Database Rollback Error\"; branch on `code`.",
    },
    "zh": {
        "file": "errors.zh.md",
        "title": "Gatehouse 错误码",
        "generated": "由 `flask errors docs` 根据 `api/errors/catalog.py` 生成;请勿手工编辑。",
        "intro": (
            "所有响应都是带有 `meta` 对象的 JSON。出错时,`meta` 包含 `code`(据此分支处理)、"
            "`message`(错误码标题)、`description`(本次错误的详情)、`reason`"
            "(稳定的机器可读原因,格式为 `module.resource.reason`;多个场景共用一个旧错误码,"
            "由 `reason` 区分)、`request_id`(同 `X-Request-ID` 响应头,联系技术支持时请提供),"
            "参数校验错误还有 `fields`。\n\n"
            "先检查 HTTP 状态码,再根据 `code`、然后根据 `reason` 分支处理。不要根据 `message` "
            "分支:它是给人看的标题,并会随 `Accept-Language: zh` 翻译。发送 "
            "`Accept: application/problem+json` 可获得 RFC 9457 问题详情格式。"),
        "summary": "总览",
        "cols": "| 错误码 | HTTP | 标题 | 重试 | 客户端处理 |",
        "reasons": "原因",
        "rcols": "| 原因 | 说明 | 客户端处理 |",
        "retry": {RETRY_NEVER: "否", RETRY_BACKOFF: "是,指数退避",
                  RETRY_AFTER: "是,等待 `Retry-After`", RETRY_ONCE: "重试一次"},
        "http": "HTTP 状态码",
        "retry_label": "重试",
        "handling": "客户端处理",
        "legacy": "该约定源自的旧 API 把 99 写作 \"Authentication Required\"、77 写作 "
                  "\"Database Rollback Error\";请根据 `code` 分支。",
    },
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(lang: str) -> str:
    t = _TEXT[lang]
    zh = lang == "zh"
    lines = [f"# {t['title']}", "", f"<!-- {t['generated']} -->", "", t["intro"], "",
             f"## {t['summary']}", "", t["cols"], "|---:|---:|---|---|---|"]
    for e in ERROR_CODES:
        lines.append(f"| [{e.code}](#code-{e.code}) | {e.status} | "
                     f"{_cell(e.title_zh if zh else e.title)} | {t['retry'][e.retry]} | "
                     f"{_cell(e.hint_zh if zh else e.hint)} |")
    lines += ["", t["legacy"], ""]
    for e in ERROR_CODES:
        title = e.title_zh if zh else e.title
        lines += [f'<a id="code-{e.code}"></a>', f"## {e.code} {title}", "",
                  e.description_zh if zh else e.description, "",
                  f"- {t['http']}: {e.status}",
                  f"- {t['retry_label']}: {t['retry'][e.retry]}",
                  f"- {t['handling']}: {e.hint_zh if zh else e.hint}", "",
                  f"### {t['reasons']}", "", t["rcols"], "|---|---|---|"]
        for r in e.reasons:
            lines.append(f"| `{r.name}` | {_cell(r.description_zh if zh else r.description)} | "
                         f"{_cell(r.hint_zh if zh else r.hint)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def doc_path(docs_dir: Path, lang: str) -> Path:
    return docs_dir / _TEXT[lang]["file"]


def stale(docs_dir: Path, langs: tuple[str, ...] = LANGS) -> list[Path]:
    """The generated files that differ from what the catalog gives now."""
    out = []
    for lang in langs:
        path = doc_path(docs_dir, lang)
        if not path.exists() or path.read_text(encoding="utf-8") != render(lang):
            out.append(path)
    return out


def write(docs_dir: Path, langs: tuple[str, ...] = LANGS) -> list[Path]:
    docs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in langs:
        path = doc_path(docs_dir, lang)
        path.write_text(render(lang), encoding="utf-8")
        written.append(path)
    return written
