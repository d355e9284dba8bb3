"""`mediamon claims PATH... [--format json]` (issue 6)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import typer

from pipeline.commands.common import EXIT_USER_ERROR, OutputFormat

HTML_SUFFIXES = (".html", ".htm")


def read_input(path: Path) -> tuple[str, date | None]:
    """Text and publication date of one input: .txt as is, .html/.htm through extraction."""
    if path.suffix.lower() not in HTML_SUFFIXES:
        return path.read_text(encoding="utf-8"), None
    from pipeline.extract import extract

    result = extract(
        path.read_bytes(),
        url=path.resolve().as_uri(),
        content_type="text/html",
        fetched_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
    )
    if result.article is None:
        raise ValueError(f"{path}: no article text ({result.reason}: {result.detail or ''})")
    published = result.article.published_at
    return result.article.text, published.date() if published else None


def _table(path: str, claims: list[dict[str, object]]) -> str:
    lines = [f"{path}: {len(claims)} claims"]
    for c in claims:
        if c["kind"] == "numeric":
            lo, hi = c["value_low"], c["value_high"]
            fig = f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"
            rate = f"per {c['rate_per']}" if c["rate_per"] else ""
            what = f"{c['qualifier']} {fig} {c['unit'] or ''} {rate}"
            what += f" [{c['period']}]" if c["period"] else ""
        else:
            what = str(c["quote"] or c["text"])[:70]
        extra = f" via {', '.join(c['via'])}" if c["via"] else ""  # type: ignore[arg-type]
        extra += " (hedged)" if c["hedged"] else ""
        lines.append(
            f"  {c['kind']:<9} {str(c['speaker'] or '-')[:30]:<30} {c['cue'] or '-':<12} "
            f"{' '.join(what.split())}{extra}"
        )
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the ``mediamon`` app."""

    @app.command("claims")
    def claims(
        paths: list[Path] = typer.Argument(
            ..., exists=True, dir_okay=False, help="Article files: .txt, or .html/.htm."
        ),
        output: OutputFormat = typer.Option(
            OutputFormat.text, "--format", help="text (a table) or json (JSON lines)."
        ),
    ) -> None:
        """Extract numeric claims, quotes and statements with attribution from article files.

        A file that cannot be read is named on stderr, the others are still analysed, and the
        exit status is then 2."""
        from pipeline.config import get_settings
        from pipeline.nlp.stage import extractor_for

        extractor = extractor_for(get_settings())
        failed = False
        inputs: list[tuple[Path, str, date | None]] = []
        for path in paths:
            try:
                text, published = read_input(path)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                typer.echo(f"error: claims: {' '.join(str(exc).split())}", err=True)
                failed = True
                continue
            inputs.append((path, text, published))
        analyses = extractor.analyse_many([(t, p) for _, t, p in inputs])
        for (path, _, _), analysis in zip(inputs, analyses, strict=True):
            found = [c.to_json() for c in analysis.claims]
            if output is OutputFormat.json:
                typer.echo(json.dumps({"input": str(path), "claims": found}, ensure_ascii=False))
            else:
                typer.echo(_table(str(path), found))
        if failed:
            raise typer.Exit(EXIT_USER_ERROR)
