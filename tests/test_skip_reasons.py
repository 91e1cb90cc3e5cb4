"""Skip reasons and marker texts say what is actually missing.

A skip that blamed the machine ("no Redis on this machine") while Redis ran
and only the variable was unset sent people looking in the wrong place; a
marker named a variable (TEST_POSTGRES_URL) that nothing reads.
"""
from __future__ import annotations

import configparser
import re

import pytest

from config import ROOT
from tests.helpers import REDIS_SKIP, require_redis

TESTS = ROOT / "tests"
VARIABLE = re.compile(r"\bTEST_[A-Z_]+_URL\b")


def _read_variables() -> set[str]:
    """The TEST_*_URL variables the suite actually reads."""
    found = set()
    for path in TESTS.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"environ(?:\.get)?[(\[]\"(TEST_[A-Z_]+_URL)\"", text))
    return found


def test_redis_skip_names_the_unset_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception) as skipped:
        require_redis()

    assert str(skipped.value.msg) == REDIS_SKIP == "TEST_REDIS_URL is not set (CI sets it)"


def test_every_variable_named_in_markers_skips_and_readme_is_read() -> None:
    read = _read_variables()
    assert {"TEST_DATABASE_URL", "TEST_REDIS_URL"} <= read
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    texts = [cfg["tool:pytest"]["markers"], (ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in TESTS.rglob("*.py")
              if p.name != "test_skip_reasons.py"]
    named = {name for text in texts for name in VARIABLE.findall(text)}
    assert named - read == set(), "named but never read by the suite"
