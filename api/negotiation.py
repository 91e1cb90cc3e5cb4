"""Content negotiation: the response language and problem+json."""
from __future__ import annotations

from flask import Request

from api.requests import current_request

_LANGUAGES = ("en", "zh")


def language(req: Request | None = None) -> str:
    """'zh' when the client prefers Chinese, else 'en'."""
    req = req or current_request()
    if "HTTP_ACCEPT_LANGUAGE" not in req.environ:
        return "en"
    # by quality, matching on the primary subtag: "en-US,zh;q=0.5" is English
    for tag, quality in req.accept_languages:
        primary = tag.split("-", 1)[0].split("_", 1)[0].lower()
        if quality > 0 and primary in _LANGUAGES:
            return primary
    return "en"


def wants_problem_json(req: Request | None = None) -> bool:
    req = req or current_request()
    if "problem" not in req.environ.get("HTTP_ACCEPT", "").lower():
        return False  # cannot name application/problem+json: skip the parse
    accept = req.accept_mimetypes
    problem = accept.quality("application/problem+json")
    return problem > 0 and problem >= accept.quality("application/json") \
        and "application/problem+json" in accept.values()
