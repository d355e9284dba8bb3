"""`mediamon ledger` (issue 15): the claim ledger of the warehouse, or of files given on the
command line (built in a throwaway warehouse)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import typer

from pipeline.commands.common import EXIT_USER_ERROR, OutputFormat, UserError


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"ledger: {option} {value!r} is not a date; use YYYY-MM-DD") from None


def _json_default(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _files(paths: list[Path], published: date | None, output: OutputFormat) -> None:
    from pipeline.commands.claims import read_input
    from pipeline.config import get_settings
    from pipeline.ledger.files import build_file_ledger
    from pipeline.nlp.stage import extractor_for

    inputs: list[tuple[str, str, date | None]] = []
    failed = False
    for path in paths:
        try:
            text, day = read_input(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            typer.echo(f"error: ledger: {' '.join(str(exc).split())}", err=True)
            failed = True
            continue
        # --published is the files' date; a page's own date is used when none is given.
        inputs.append((str(path), text, published or day))
    settings = get_settings()
    result = build_file_ledger(
        inputs, extractor_for(settings), published=published, window=settings.ledger_window
    )
    for record in result.records():
        if output is OutputFormat.json:
            typer.echo(json.dumps(record, ensure_ascii=False))
        else:
            typer.echo(f"Measure: {record['measure']}")
            for c in record["claims"]:
                typer.echo(
                    f"  {c['input']}:{c['start']}  {c['value_low']:,.10g}"
                    + (f"-{c['value_high']:,.10g}" if c["value_high"] != c["value_low"] else "")
                    + f"  {c['speaker'] or '-'}"
                )
            for r in record["relations"]:
                ratio = f" (ratio {r['ratio']:.2f})" if r["ratio"] else ""
                typer.echo(
                    f"    {r['a']['input']}:{r['a']['start']} {r['relation']} "
                    f"{r['b']['input']}:{r['b']['start']}{ratio}"
                )
    if failed:
        raise typer.Exit(EXIT_USER_ERROR)


def register(app: typer.Typer) -> None:
    """Add the ledger command to the ``mediamon`` app."""

    @app.command("ledger")
    def ledger(
        paths: list[Path] = typer.Argument(
            None,
            exists=True,
            dir_okay=False,
            help="Article files (.txt, .html): build the ledger of these files alone.",
        ),
        measure: str = typer.Option(None, "--measure", help="Only measures whose label has TEXT."),
        conflicts: bool = typer.Option(False, "--conflicts", help="Only diverging pairs."),
        since: str = typer.Option(None, "--since", help="Only claims seen on or after DATE."),
        published: str = typer.Option(
            None, "--published", help="With files: their publication date (default: today)."
        ),
        output: OutputFormat = typer.Option(
            OutputFormat.text, "--format", help="text or json (JSON lines)."
        ),
    ) -> None:
        """The claim ledger: every figure per measure by outlet and speaker, the conflicts, and
        how each figure spread. With files, the ledger of those files alone (one JSON object
        per measure with --format json)."""
        since_day = _date(since, "--since")
        published_day = _date(published, "--published")
        if paths:
            _files(paths, published_day, output)
            return
        from pipeline.ledger.report import (
            conflict_rows,
            format_conflicts,
            format_ledger,
            format_spread,
            ledger_rows,
            spread_rows,
        )
        from pipeline.warehouse import get_engine

        with get_engine().connect() as conn:
            if conflicts:
                rows = conflict_rows(conn, measure=measure, since=since_day)
                text = format_conflicts(rows)
            else:
                rows = ledger_rows(conn, measure=measure, since=since_day)
                spread = spread_rows(conn, measure=measure, since=since_day)
                text = format_ledger(rows) + "\n\nSpread:\n" + format_spread(spread)
        if output is OutputFormat.json:
            for row in rows:
                typer.echo(json.dumps(row, default=_json_default, ensure_ascii=False))
        else:
            typer.echo(text)
