"""`flask errors docs`: generated from the catalog, checked for staleness."""
from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner

from api.errors import docs
from api.errors.catalog import ERROR_CODES
from config import ROOT


def test_check_fails_when_missing_then_passes(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["errors", "docs", "--check", "--output-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "stale error docs" in result.output and "Traceback" not in result.output
    result = runner.invoke(args=["errors", "docs", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert (tmp_path / "errors.md").exists() and (tmp_path / "errors.zh.md").exists()
    result = runner.invoke(args=["errors", "docs", "--check", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0 and "up to date" in result.output


def test_check_fails_when_edited(runner: FlaskCliRunner, tmp_path: Path) -> None:
    runner.invoke(args=["errors", "docs", "--output-dir", str(tmp_path)])
    path = tmp_path / "errors.zh.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nhand edit\n", encoding="utf-8")
    result = runner.invoke(args=["errors", "docs", "--check", "--output-dir", str(tmp_path)])
    assert result.exit_code != 0 and "errors.zh.md" in result.output


def test_lang_option_writes_one_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["errors", "docs", "--lang", "zh", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["errors.zh.md"]
    result = runner.invoke(args=["errors", "docs", "--lang", "fr"])
    assert result.exit_code != 0


def test_docs_carry_every_code_and_reason() -> None:
    for lang in docs.LANGS:
        text = docs.render(lang)
        for entry in ERROR_CODES:
            assert f'<a id="code-{entry.code}"></a>' in text
            assert (entry.title_zh if lang == "zh" else entry.title) in text
            for reason in entry.reasons:
                assert f"`{reason.name}`" in text
    assert "指数退避" in docs.render("zh") and "exponential backoff" in docs.render("en")


def test_committed_docs_are_current() -> None:
    assert docs.stale(ROOT / "docs") == []
