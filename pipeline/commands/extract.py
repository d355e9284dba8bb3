"""`mediamon extract`, `mediamon reextract` (issue 4)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

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


def _fetch_url(arg: str, client: Any) -> _Input:
    from pipeline.fetch import fetch_page

    page = fetch_page(arg, client)
    if page.reason:
        return _Input(b"", arg, "", page.fetched_at, failure=page.reason)
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
        )
    out.update(status="extracted" if result.ok else "extract_failed", reason=result.reason)
    return out


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the ``mediamon`` app."""

    @app.command("extract")
    def extract_cmd(
        inputs: list[str] = typer.Argument(..., metavar="PATH_OR_URL...", help="Pages."),
        output: str = typer.Option("text", "--format", help="text or json (one per line)."),
    ) -> None:
        """Extract pages (files, gzip-compressed or not, or http(s) URLs) in one process."""
        from pipeline.config import get_settings
        from pipeline.extract_worker import ExtractionWorker
        from pipeline.http import SafeClient

        if output not in ("text", "json"):
            raise typer.BadParameter("--format must be text or json")
        settings = get_settings()
        with SafeClient(settings) as client, ExtractionWorker.from_settings(settings) as worker:
            for arg in inputs:
                is_url = arg.startswith(("http://", "https://"))
                item = _fetch_url(arg, client) if is_url else _read_file(arg)
                rec = _record(arg, item, worker)
                if output == "json":
                    typer.echo(json.dumps(rec, ensure_ascii=False))
                else:
                    typer.echo(
                        f"{rec['status']:<15} {rec['reason'] or '-':<19} "
                        f"{rec['word_count'] or 0:>6}w  {rec['title'] or '-'}  ({arg})"
                    )

    @app.command("reextract")
    def reextract_cmd(
        since: datetime | None = typer.Option(
            None, help="Only pages fetched on or after this date (UTC)."
        ),
        source: str | None = typer.Option(None, help="Only this source (outlet name)."),
        run_id: str | None = typer.Option(None, help="Run id (default reextract__<UTC time>)."),
        output: str = typer.Option("text", "--format", help="text or json."),
    ) -> None:
        """Re-extract archived pages of another extractor version, in place, without refetching."""
        from pipeline import flow

        rid = run_id or "reextract__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        when = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
        counts = flow.reextract(rid, since=when, source_name=source)
        if output == "json":
            typer.echo(json.dumps(counts, sort_keys=True))
            return
        typer.echo(
            f"re-extracted {counts['reextracted']} page(s) to {counts['extractor_version']}: "
            f"{counts['extracted']} extracted, {counts['failed']} failed"
        )
        for reason, n in sorted(counts["reasons"].items()):
            typer.echo(f"  {reason}: {n}")
