"""flask CLI: `flask errors …` (and the account commands of api/users)."""
from __future__ import annotations

import click

from api.errors import docs
from config import ROOT

DOCS_DIR = ROOT / "docs"


@click.group("errors", help="The error catalog and its generated docs.")
def errors_cli() -> None:
    pass


@errors_cli.command("docs")
@click.option("--lang", type=click.Choice(docs.LANGS), default=None,
              help="Only this language (default: every language).")
@click.option("--check", is_flag=True, help="Exit non-zero if the docs are stale.")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None,
              help="Where the docs live (default: docs/).")
def errors_docs(lang: str | None, check: bool, output_dir: str | None) -> None:
    """Write docs/errors.md and docs/errors.zh.md from the catalog."""
    from pathlib import Path

    langs = (lang,) if lang else docs.LANGS
    target = Path(output_dir) if output_dir else DOCS_DIR
    if check:
        stale = docs.stale(target, langs)
        if stale:
            names = ", ".join(str(p) for p in stale)
            raise click.ClickException(
                f"stale error docs: {names}; run `flask --app wsgi errors docs`")
        click.echo("error docs are up to date")
        return
    for path in docs.write(target, langs):
        click.echo(f"wrote {path}")
