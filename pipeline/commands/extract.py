"""`mediamon extract`, `mediamon reextract` (issue 4)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from pipeline.commands.common import EXIT_RUNTIME_FAILURE, OutputFormat, UserError

# One JSON object per input, these keys in this order: the contract of `mediamon extract`.
OUTPUT_KEYS = (
    "input",
    "title",
    "text",
    "authors",
    "published_at",
    "language",
    "canonical_url",
    "word_count",
    "status",
    "reason",
    # Paywall markup around a text that was kept (a teaser fails: reason paywall_suspected).
    "paywall_suspected",
)
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class _Input:
    body: bytes
    url: str
    content_type: str
    fetched_at: datetime
    declared_charset: str | None = None
    failure: str | None = None  # fetch/read failure reason; nothing to extract


def _read_file(arg: str) -> _Input:
    now = datetime.now(UTC)
    path = Path(arg)
    try:
        body = path.read_bytes()
        if body.startswith(_GZIP_MAGIC):
            body = gzip.decompress(body)
    except (OSError, EOFError) as exc:
        return _Input(b"", arg, "", now, failure=f"read_error: {exc}")
    # A saved page has no Content-Type: '' is "unknown", which extraction treats as HTML.
    return _Input(body, path.resolve().as_uri(), "", now)


def _is_url(arg: str) -> bool:
    return arg.startswith(("http://", "https://"))


def _fetch_url(arg: str, client: Any) -> _Input:
    from pipeline.fetch import fetch_page

    page = fetch_page(arg, client)
    if page.reason:
        detail = f"{page.reason}: {page.error}" if page.error else page.reason
        return _Input(b"", arg, "", page.fetched_at, failure=detail)
    return _Input(
        page.body, page.final_url, page.content_type, page.fetched_at, page.declared_charset
    )


def _record(arg: str, item: _Input, worker: Any) -> dict[str, Any]:
    from pipeline.extract_worker import ExtractJob

    out: dict[str, Any] = dict.fromkeys(OUTPUT_KEYS)
    out["input"] = arg
    if item.failure:
        reason, _, _ = item.failure.partition(":")
        out.update(status="fetch_failed", reason=reason)
        return out
    result = worker.extract(
        ExtractJob(item.body, item.url, item.content_type, item.fetched_at, item.declared_charset)
    )
    art = result.article
    if art is not None:
        out.update(
            title=art.title,
            text=art.text,
            authors=art.authors,
            published_at=art.published_at.isoformat() if art.published_at else None,
            language=art.language,
            canonical_url=art.canonical_url,
            word_count=art.word_count,
            paywall_suspected=art.paywall_suspected,
        )
    out.update(status="extracted" if result.ok else "extract_failed", reason=result.reason)
    return out


def _check_source(name: str) -> None:
    """Refuse a ``--source`` the warehouse has no outlet of: it would re-extract nothing, and
    say so as if all were current."""
    import difflib

    import sqlalchemy as sa

    from pipeline.warehouse import get_engine
    from pipeline.warehouse.schema import source

    with get_engine().connect() as conn:
        names = list(conn.execute(sa.select(source.c.name).order_by(source.c.name)).scalars())
    if name in names:
        return
    near = difflib.get_close_matches(name, names, n=3) or names[:3]
    hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    raise UserError(f"reextract: no source named {name!r} in the warehouse{hint}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the ``mediamon`` app."""

    @app.command("extract")
    def extract_cmd(
        inputs: list[str] = typer.Argument(..., metavar="PATH_OR_URL...", help="Pages."),
        output: OutputFormat = typer.Option(
            OutputFormat.text, "--format", help="text or json (one per line)."
        ),
    ) -> None:
        """Extract pages (files, gzip-compressed or not, or http(s) URLs) in one process.

        Every input gets its record on stdout. A page that could not be fetched or read is
        also named on stderr, and the exit status is then 1; a missing file is refused before
        anything is extracted (exit 2)."""
        from pipeline.config import get_settings, mask_urls_in_text
        from pipeline.extract_worker import ExtractionWorker
        from pipeline.http import SafeClient

        for arg in inputs:
            if not _is_url(arg) and not Path(arg).is_file():
                raise UserError(f"extract: {arg}: no such file (give a file or an http(s) URL)")
        settings = get_settings()
        failed = False
        with SafeClient(settings) as client, ExtractionWorker.from_settings(settings) as worker:
            for arg in inputs:
                item = _fetch_url(arg, client) if _is_url(arg) else _read_file(arg)
                rec = _record(arg, item, worker)
                if item.failure:
                    failed = True
                    # A fetch failure's text names its URL already; a file's may not.
                    detail = " ".join(item.failure.split())
                    where = "" if _is_url(arg) else f"{arg}: "
                    typer.echo(mask_urls_in_text(f"error: extract: {where}{detail}"), err=True)
                if output is OutputFormat.json:
                    typer.echo(json.dumps(rec, ensure_ascii=False))
                else:
                    typer.echo(
                        f"{rec['status']:<15} {rec['reason'] or '-':<19} "
                        f"{rec['word_count'] or 0:>6}w  {rec['title'] or '-'}  ({arg})"
                    )
        if failed:
            raise typer.Exit(EXIT_RUNTIME_FAILURE)

    @app.command("reextract")
    def reextract_cmd(
        since: datetime | None = typer.Option(
            None, help="Only pages fetched on or after this date (UTC)."
        ),
        source: str | None = typer.Option(None, help="Only this source (outlet name)."),
        run_id: str | None = typer.Option(None, help="Run id (default reextract__<UTC time>)."),
        output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
    ) -> None:
        """Re-extract archived pages of another extractor version, in place, without refetching."""
        from pipeline import flow

        if source is not None:
            _check_source(source)
        rid = run_id or "reextract__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        when = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
        counts = flow.reextract(rid, since=when, source_name=source)
        if output is OutputFormat.json:
            typer.echo(json.dumps(counts, sort_keys=True))
            return
        typer.echo(
            f"re-extracted {counts['reextracted']} page(s) to {counts['extractor_version']}: "
            f"{counts['extracted']} extracted, {counts['failed']} failed"
        )
        for reason, n in sorted(counts["reasons"].items()):
            typer.echo(f"  {reason}: {n}")
