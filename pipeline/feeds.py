"""Feed registry (YAML) and feed polling: conditional GET, parsing, entry dates and URLs."""

from __future__ import annotations

import calendar
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import yaml

from pipeline.http import HttpResponse, SafeClient
from pipeline.urls import canonicalize

POLL_STATUSES = (
    "ok",
    "not_modified",
    "http_error",
    "parse_error",
    "blocked",
    "timeout",
)
EARLIEST_SANE_DATE = datetime(1990, 1, 1, tzinfo=UTC)


class RegistryError(ValueError):
    """The feed registry file is unreadable or invalid; the message names the file and entry."""


@dataclass(frozen=True)
class FeedSpec:
    """One feed as declared in feeds.yaml."""

    url: str
    source: str
    language: str | None = None
    tags: tuple[str, ...] = ()
    interval_s: int | None = None


@dataclass(frozen=True)
class FeedState:
    """What the poller needs to know about a feed from its last poll."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class Entry:
    """One feed entry. ``url`` is canonical; ``published`` is None when missing or not sane."""

    url: str
    guid: str | None
    title: str | None
    published: datetime | None
    summary: str | None


@dataclass
class PollResult:
    """Outcome of polling one feed once."""

    status: str
    http_status: int | None
    entries: list[Entry] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    bytes: int = 0
    duration_ms: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    final_url: str | None = None


def load_registry(path: Path, *, base_url: str | None = None) -> list[FeedSpec]:
    """Read feeds.yaml. ``base_url`` replaces the ``{{BASE_URL}}`` placeholder (demo corpus)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"cannot read feed registry {path}: {exc}") from exc
    if base_url is not None:
        raw = raw.replace("{{BASE_URL}}", base_url)
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path} is not valid YAML: {exc}") from exc
    items = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RegistryError(f"{path}: expected a top-level 'feeds:' list")
    specs: list[FeedSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("url") or not item.get("source"):
            raise RegistryError(f"{path}: feed #{i + 1} needs at least 'url' and 'source'")
        url = str(item["url"]).strip()
        if url in seen:
            raise RegistryError(f"{path}: feed {url} is listed twice")
        seen.add(url)
        interval = item.get("interval")
        specs.append(
            FeedSpec(
                url=url,
                source=str(item["source"]).strip(),
                language=item.get("language"),
                tags=tuple(str(t) for t in item.get("tags") or ()),
                interval_s=int(interval) if interval is not None else None,
            )
        )
    return specs


def sane_date(value: datetime | None, *, now: datetime) -> datetime | None:
    """``value`` if it lies in [1990, now + 1 day], else None: dates are never invented."""
    if value is None:
        return None
    if EARLIEST_SANE_DATE <= value <= now + timedelta(days=1):
        return value
    return None


def _entry_date(entry: Any, now: datetime, warnings: list[str]) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    raw = entry.get("published") or entry.get("updated")
    if parsed is None:
        if raw:
            warnings.append(f"unparseable date {raw!r} on {entry.get('link')}")
        return None
    try:
        # feedparser normalises to UTC struct_time; timegm reads it as UTC.
        value = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        warnings.append(f"date {raw!r} out of range on {entry.get('link')}")
        return None
    sane = sane_date(value, now=now)
    if sane is None:
        warnings.append(f"date {raw!r} outside [1990, now+1d] on {entry.get('link')}; stored null")
    return sane


def parse_feed(
    body: bytes, *, url: str, now: datetime, headers: dict[str, str] | None = None
) -> tuple[list[Entry], list[str], str | None]:
    """Parse feed bytes we fetched (feedparser never fetches). Returns entries, warnings, error.

    A "bozo" feed that still yields entries is kept, with a warning; one with no entries is an
    error.
    """
    parsed = feedparser.parse(body, response_headers=headers or {})
    warnings: list[str] = []
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        message = f"malformed feed: {type(exc).__name__}: {exc}"
        if not parsed.entries:
            return [], warnings, message
        warnings.append(message)
    entries: list[Entry] = []
    for raw_entry in parsed.entries:
        link = raw_entry.get("link")
        if not link:
            warnings.append(f"entry without link skipped: {raw_entry.get('title')!r}")
            continue
        entries.append(
            Entry(
                url=canonicalize(link),
                guid=raw_entry.get("id"),
                title=raw_entry.get("title"),
                published=_entry_date(raw_entry, now, warnings),
                summary=raw_entry.get("summary"),
            )
        )
    return entries, warnings, None


def _status_for_failure(resp: HttpResponse) -> str:
    if resp.error_kind == "timeout":
        return "timeout"
    if resp.error_kind == "blocked":
        return "blocked"
    return "http_error"


def poll_feed(state: FeedState, client: SafeClient, *, now: datetime | None = None) -> PollResult:
    """Poll one feed with a conditional GET and parse it. Never raises for a bad feed."""
    now = now or datetime.now(UTC)
    started = time.monotonic()
    headers: dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    resp = client.get(state.url, max_bytes=client.settings.feed_max_bytes, headers=headers)

    def done(result: PollResult) -> PollResult:
        result.duration_ms = int((time.monotonic() - started) * 1000)
        result.final_url = resp.final_url
        return result

    if resp.error_kind:
        return done(
            PollResult(
                status=_status_for_failure(resp),
                http_status=resp.status,
                error=f"{resp.error_kind}: {resp.error}",
            )
        )
    etag = resp.headers.get("etag") or state.etag
    last_modified = resp.headers.get("last-modified") or state.last_modified
    if resp.status == 304:
        return done(
            PollResult(
                status="not_modified",
                http_status=304,
                etag=etag,
                last_modified=last_modified,
                body_hash=state.body_hash,
            )
        )
    if resp.status is None or resp.status >= 400:
        return done(
            PollResult(
                status="http_error",
                http_status=resp.status,
                error=f"HTTP {resp.status}",
            )
        )
    body_hash = hashlib.sha256(resp.body).hexdigest()
    if state.body_hash == body_hash:
        # Some servers ignore validators or send a fresh ETag for the same bytes.
        return done(
            PollResult(
                status="not_modified",
                http_status=resp.status,
                etag=etag,
                last_modified=last_modified,
                body_hash=body_hash,
                bytes=len(resp.body),
            )
        )
    entries, warnings, error = parse_feed(resp.body, url=state.url, now=now, headers=resp.headers)
    if error:
        # Keep the old validators and hash: storing the new ones would turn the next poll of a
        # still-broken feed into a 304 "not_modified" and hide the breakage.
        etag, last_modified, body_hash = state.etag, state.last_modified, state.body_hash or ""
    return done(
        PollResult(
            status="parse_error" if error else "ok",
            http_status=resp.status,
            entries=entries,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash or None,
            bytes=len(resp.body),
            error=error,
            warnings=warnings,
        )
    )
