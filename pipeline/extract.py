"""Article extraction with trafilatura: text and metadata, or a recorded reason why not."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from urllib.parse import urlsplit

import trafilatura

from pipeline.feeds import sane_date

# Bump the suffix when our post-processing changes, so re-extraction knows rows are stale.
EXTRACTOR_VERSION = f"trafilatura-{trafilatura.__version__}+mm1"

FAILURE_REASONS = ("not_html", "no_text", "too_short", "extraction_error")
HTML_TYPES = ("text/html", "application/xhtml+xml", "")

_HTML_LANG = re.compile(rb"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Article:
    """What extraction produced from one page."""

    title: str | None
    text: str
    authors: str | None
    published_at: datetime | None
    language: str | None
    sitename: str | None
    canonical_url: str | None
    word_count: int
    content_hash: str
    extractor_version: str = EXTRACTOR_VERSION


@dataclass(frozen=True)
class ExtractResult:
    """Either an article or a failure reason (one of FAILURE_REASONS) with detail."""

    article: Article | None
    reason: str | None = None
    detail: str | None = None
    warnings: tuple[str, ...] = field(default=())


def content_hash(text: str) -> str:
    """SHA-256 of the text with case and whitespace normalised (exact-duplicate key)."""
    return hashlib.sha256(_WS.sub(" ", text).strip().lower().encode("utf-8")).hexdigest()


def _same_site(a: str, b: str) -> bool:
    ha, hb = urlsplit(a).hostname or "", urlsplit(b).hostname or ""
    return ha.removeprefix("www.") == hb.removeprefix("www.")


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC) if isinstance(parsed, datetime) else parsed
    return parsed


def extract(
    body: bytes,
    *,
    url: str,
    content_type: str,
    fetched_at: datetime,
    min_chars: int = 200,
) -> ExtractResult:
    """Extract the main text and metadata of an HTML page.

    Args:
        body: the raw bytes as fetched (trafilatura decodes them, honouring the declared charset).
        url: the final URL of the page, used for relative links and the same-site check.
        content_type: media type from the response headers ('' when unknown).
        fetched_at: when the page was fetched; published dates after it (+1 day) are dropped.
        min_chars: shorter text is recorded as ``too_short``.
    """
    if content_type not in HTML_TYPES:
        return ExtractResult(None, "not_html", f"content type {content_type!r}")
    try:
        doc = trafilatura.bare_extraction(
            body,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
        )
    except Exception as exc:  # noqa: BLE001 - a library bug on one page must not stop the batch
        return ExtractResult(None, "extraction_error", f"{type(exc).__name__}: {exc}")
    if doc is None:
        return ExtractResult(None, "no_text", "trafilatura found no main text")
    data = doc if isinstance(doc, dict) else doc.as_dict()
    text = (data.get("text") or "").strip()
    if not text:
        return ExtractResult(None, "no_text", "trafilatura found no main text")
    if len(text) < min_chars:
        return ExtractResult(None, "too_short", f"{len(text)} characters < {min_chars}")
    warnings: list[str] = []
    raw_date = data.get("date")
    published = _parse_date(raw_date)
    if published is not None and published.time() == time(0) and len(raw_date or "") == 10:
        published = published.replace(tzinfo=UTC)
    sane = sane_date(published, now=fetched_at)
    if published is not None and sane is None:
        warnings.append(f"published date {raw_date} outside [1990, fetched_at + 1 day]; null")
    canonical = data.get("url")
    if canonical and not _same_site(canonical, url):
        warnings.append(f"rel=canonical {canonical} is off-site; ignored")
        canonical = None
    lang = data.get("language")
    if not lang:
        match = _HTML_LANG.search(body[:8192])
        lang = match.group(1).decode("ascii").lower() if match else None
    return ExtractResult(
        Article(
            title=data.get("title"),
            text=text,
            authors=data.get("author"),
            published_at=sane,
            language=lang,
            sitename=data.get("sitename"),
            canonical_url=canonical,
            word_count=len(text.split()),
            content_hash=content_hash(text),
        ),
        warnings=tuple(warnings),
    )
