"""Feed registry (YAML, OPML), feed polling (conditional GET, parsing) and feed health.

Health follows Media Cloud's rss-fetcher: every poll ends in a status; failures are weighted
(hard 1, soft 0.5, temporary 0.25 by default) and a feed whose weighted count reaches the disable
threshold is ``disabled`` but still re-checked daily ("undead"). The poll interval adapts to the
share of entries we already knew: mostly known means poll less often, mostly new means more.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import random
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

import feedparser
import yaml

from pipeline.config import Settings
from pipeline.dates import as_utc, sane_date
from pipeline.http import HttpResponse, SafeClient
from pipeline.textfmt import text_table
from pipeline.urls import canonicalize

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

POLL_STATUSES = (
    "ok",
    "not_modified",
    "http_error",
    "parse_error",
    "blocked",
    "timeout",
    "disabled",
    # Not a poll outcome of the feed: its host asked for a pause (Retry-After) we did not wait out.
    "deferred",
)
# sy:updatePeriod values (RSS syndication module) in seconds.
UPDATE_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 604800,
    "monthly": 2592000,
    "yearly": 31536000,
}


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


@dataclass(frozen=True)
class ParsedFeed:
    """What :func:`parse_feed` makes of a body."""

    entries: list[Entry]
    warnings: list[str]
    error: str | None = None
    update_period_s: int | None = None  # from sy:updatePeriod / sy:updateFrequency


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
    # The new permanent home of the feed after 301/308 redirects, if it moved.
    moved_to: str | None = None
    gone: bool = False  # HTTP 410: the publisher says the feed is gone for good
    retry_after: float | None = None
    update_period_s: int | None = None
    failure: str | None = None  # "hard", "soft" or "temporary" (weights in Settings)


# --- registry -------------------------------------------------------------------------------


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
        try:
            interval_s = int(interval) if interval is not None else None
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"{path}: feed {url}: interval must be seconds") from exc
        specs.append(
            FeedSpec(
                url=url,
                source=str(item["source"]).strip(),
                language=item.get("language"),
                tags=tuple(str(t) for t in item.get("tags") or ()),
                interval_s=interval_s,
            )
        )
    return specs


def save_registry(path: Path, specs: list[FeedSpec]) -> None:
    """Write ``specs`` as feeds.yaml (atomically: a crash never leaves half a registry)."""
    items: list[dict[str, Any]] = []
    for s in specs:
        item: dict[str, Any] = {"url": s.url, "source": s.source}
        if s.language:
            item["language"] = s.language
        if s.tags:
            item["tags"] = list(s.tags)
        if s.interval_s is not None:
            item["interval"] = s.interval_s
        items.append(item)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump({"feeds": items}, sort_keys=False, allow_unicode=True), "utf-8")
    tmp.replace(path)


def read_registry_or_empty(path: Path) -> list[FeedSpec]:
    """The registry at ``path``, or an empty one when the file does not exist yet."""
    return load_registry(path) if path.exists() else []


def import_opml(data: bytes, *, default_source: str | None = None) -> list[FeedSpec]:
    """Feeds listed in an OPML document (``outline`` elements with ``xmlUrl``).

    The source name is the outline's ``title``/``text``; ``category`` becomes tags.
    """
    try:
        root = ET.fromstring(data)  # expat >= 2.4 refuses entity-expansion bombs
    except ET.ParseError as exc:
        raise RegistryError(f"not valid OPML: {exc}") from exc
    specs: list[FeedSpec] = []
    seen: set[str] = set()
    for node in root.iter("outline"):
        url = (node.get("xmlUrl") or "").strip()
        if not url or url in seen:
            continue
        seen.add(url)
        source = node.get("title") or node.get("text") or default_source or url
        tags = tuple(
            t.strip().strip("/") for t in (node.get("category") or "").split(",") if t.strip()
        )
        specs.append(
            FeedSpec(url=url, source=source.strip(), language=node.get("language"), tags=tags)
        )
    return specs


def export_opml(specs: list[FeedSpec], *, title: str = "Mediamon feeds") -> bytes:
    """An OPML 2.0 document listing ``specs``."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for s in specs:
        attrs = {"type": "rss", "text": s.source, "title": s.source, "xmlUrl": s.url}
        if s.tags:
            attrs["category"] = ",".join(s.tags)
        if s.language:
            attrs["language"] = s.language
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


# --- parsing --------------------------------------------------------------------------------


def _entry_date(entry: Any, now: datetime, warnings: list[str]) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    raw = entry.get("published") or entry.get("updated")
    if parsed is None:
        if raw:
            warnings.append(f"unparseable date {raw!r} on {entry.get('link')}; stored null")
        return None
    try:
        # feedparser normalises to UTC struct_time; timegm reads it as UTC.
        value = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        warnings.append(f"date {raw!r} out of range on {entry.get('link')}; stored null")
        return None
    sane = sane_date(value, now=now)
    if sane is None:
        warnings.append(f"date {raw!r} outside [1990, now+1d] on {entry.get('link')}; stored null")
    return sane


def _update_period(feed: Any) -> int | None:
    period = UPDATE_PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    if period is None:
        return None
    try:
        frequency = max(int(str(feed.get("sy_updatefrequency", "1")).strip()), 1)
    except ValueError:
        frequency = 1
    return period // frequency


# A feed's title or summary is a teaser; anything longer is junk or an attack on our storage.
MAX_TITLE_CHARS = 1000
MAX_SUMMARY_CHARS = 20_000


def _clip(value: Any, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


# Headers feedparser would misread: the body we pass is already decoded and complete.
_DROP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _declared_charset(headers: dict[str, str]) -> str | None:
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    for param in ctype.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def _is_utf8(body: bytes) -> bool:
    if body.isascii():
        return False  # nothing to disagree about
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_feed(
    body: bytes, *, url: str, now: datetime, headers: dict[str, str] | None = None
) -> ParsedFeed:
    """Parse feed bytes we fetched. Entries, warnings, error and the declared update period.

    A "bozo" feed that still yields entries is kept, with a warning; one with no entries is an
    error. The body goes in as a stream: given bytes, feedparser first tries them as a *file
    name* (a feed whose body is "/etc/passwd" would read that file) and would fetch a URL itself.
    """
    hdrs = {k: v for k, v in (headers or {}).items() if k.lower() not in _DROP_HEADERS}
    warnings: list[str] = []
    declared = _declared_charset(hdrs)
    if declared and declared not in ("utf-8", "utf8", "us-ascii", "ascii") and _is_utf8(body):
        # CMSs often send "charset=iso-8859-1" on UTF-8 bytes; trusting the header turns every
        # accented letter into mojibake. Non-ASCII bytes that happen to be valid UTF-8 are
        # almost never real Latin-1 text, so read the body as UTF-8 and say so.
        hdrs = {k: v for k, v in hdrs.items() if k.lower() != "content-type"}
        hdrs["content-type"] = "application/xml; charset=utf-8"
        warnings.append(f"declared charset {declared} but the body is UTF-8; read as UTF-8")
    parsed = feedparser.parse(io.BytesIO(body), response_headers=hdrs)
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        message = f"malformed feed: {type(exc).__name__}: {exc}"
        if not parsed.entries:
            return ParsedFeed([], warnings, message)
        warnings.append(message)
    elif not parsed.entries and not parsed.get("version"):
        return ParsedFeed([], warnings, "not a feed: no RSS/Atom structure and no entries")
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
                title=_clip(raw_entry.get("title"), MAX_TITLE_CHARS),
                published=_entry_date(raw_entry, now, warnings),
                summary=_clip(raw_entry.get("summary"), MAX_SUMMARY_CHARS),
            )
        )
    return ParsedFeed(entries, warnings, None, _update_period(parsed.get("feed", {})))


# --- polling --------------------------------------------------------------------------------

# Failure classes (Media Cloud): hard = the feed is wrong or gone; soft = the server is broken;
# temporary = the server or network is busy right now.
_TEMPORARY_KINDS = frozenset({"timeout", "connect_error"})
_TEMPORARY_CODES = frozenset({408, 425, 429, 503, 504})


def classify_failure(status: str, http_status: int | None, error_kind: str | None) -> str | None:
    """ "hard", "soft", "temporary", or None for a successful (or deferred) poll."""
    if status in ("ok", "not_modified", "deferred"):
        return None
    if error_kind in _TEMPORARY_KINDS or http_status in _TEMPORARY_CODES:
        return "temporary"
    if error_kind == "protocol_error" or (http_status is not None and http_status >= 500):
        return "soft"
    return "hard"


def _status_for_failure(resp: HttpResponse) -> str:
    if resp.error_kind == "timeout":
        return "timeout"
    if resp.error_kind == "blocked":
        return "blocked"
    if resp.error_kind == "deferred":
        return "deferred"
    return "http_error"


def _phrase(code: int | None) -> str:
    try:
        return HTTPStatus(code or 0).phrase
    except ValueError:
        return "(non-standard status)"


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
        result.moved_to = resp.permanent_redirect
        result.retry_after = resp.retry_after
        result.failure = classify_failure(result.status, resp.status, resp.error_kind)
        return result

    if resp.error_kind:
        return done(
            PollResult(
                status=_status_for_failure(resp),
                http_status=resp.status,
                bytes=resp.wire_bytes,
                error=f"{resp.error_kind}: {resp.error}",
            )
        )
    # Validators are stored whatever they are; a server sending none clears ours.
    etag = resp.headers.get("etag") or (state.etag if resp.status == 304 else None)
    last_modified = resp.headers.get("last-modified") or (
        state.last_modified if resp.status == 304 else None
    )
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
        reason = {410: "the publisher removed this feed; disabled"}.get(resp.status or 0, "")
        retry = f"; Retry-After {resp.retry_after:.0f}s" if resp.retry_after is not None else ""
        return done(
            PollResult(
                status="disabled" if resp.status == 410 else "http_error",
                http_status=resp.status,
                bytes=resp.wire_bytes,
                error=f"HTTP {resp.status} {_phrase(resp.status)}"
                + (f": {reason}" if reason else "")
                + retry,
                gone=resp.status == 410,
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
                bytes=resp.wire_bytes,
            )
        )
    parsed = parse_feed(resp.body, url=state.url, now=now, headers=resp.headers)
    if parsed.error:
        # Keep the old validators and hash: storing the new ones would turn the next poll of a
        # still-broken feed into a 304 "not_modified" and hide the breakage.
        etag, last_modified, body_hash = state.etag, state.last_modified, state.body_hash or ""
    return done(
        PollResult(
            status="parse_error" if parsed.error else "ok",
            http_status=resp.status,
            entries=parsed.entries,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash or None,
            bytes=resp.wire_bytes,
            error=parsed.error,
            warnings=parsed.warnings,
            update_period_s=parsed.update_period_s,
        )
    )


# --- health and adaptive scheduling ---------------------------------------------------------


@dataclass(frozen=True)
class HealthUpdate:
    """A feed's state after one poll: what ``_record_poll`` writes to the feed row."""

    status: str
    failures: float
    poll_interval_s: int
    next_poll_at: datetime
    last_error: str | None


def _clamp(value: float, settings: Settings) -> int:
    return int(min(max(value, settings.feed_min_interval), settings.feed_max_interval))


def next_health(
    *,
    previous_status: str,
    failures: float,
    interval_s: int | None,
    fixed_interval_s: int | None,
    result: PollResult,
    entries_new: int,
    now: datetime,
    settings: Settings,
    rng: random.Random | None = None,
) -> HealthUpdate:
    """Feed health after ``result``: status, weighted failures, adaptive interval, next poll.

    ``interval_s`` is the adaptive interval in force (None before the first poll);
    ``fixed_interval_s`` is the registry's ``interval``, which turns adaptation off.
    """
    rng = rng or random.Random()
    base = interval_s or _clamp(result.update_period_s or settings.feed_default_interval, settings)
    if result.status == "deferred":
        wait = result.retry_after or settings.host_default_backoff
        return HealthUpdate(
            previous_status, failures, base, now + timedelta(seconds=wait), result.error
        )
    if result.failure is None:
        interval = base
        seen = len(result.entries)
        known = 1.0 if result.status == "not_modified" or not seen else (seen - entries_new) / seen
        if known > settings.feed_known_high:
            interval = _clamp(base * settings.feed_interval_lengthen, settings)
        elif known < settings.feed_known_low:
            interval = _clamp(base * settings.feed_interval_shorten, settings)
        if fixed_interval_s:
            interval = fixed_interval_s
        jitter = 1 + rng.uniform(-settings.feed_interval_jitter, settings.feed_interval_jitter)
        return HealthUpdate(
            result.status, 0.0, interval, now + timedelta(seconds=interval * jitter), None
        )
    weight = {
        "hard": settings.feed_failure_weight_hard,
        "soft": settings.feed_failure_weight_soft,
        "temporary": settings.feed_failure_weight_temporary,
    }[result.failure]
    total = failures + weight
    if result.gone:
        total = max(total, settings.feed_disable_threshold)
    if total >= settings.feed_disable_threshold:
        # Disabled but "undead": looked at once a day in case the publisher fixes it.
        return HealthUpdate(
            "disabled",
            total,
            base,
            now + timedelta(seconds=settings.feed_undead_interval),
            result.error,
        )
    # Back off on failure: one more interval per failure point, within the bounds; a host's
    # Retry-After wins when it asks for longer.
    wait = float(_clamp(base * (1 + total), settings))
    if result.retry_after:
        wait = max(wait, result.retry_after)
    jitter = 1 + rng.uniform(-settings.feed_interval_jitter, settings.feed_interval_jitter)
    return HealthUpdate(
        result.status, total, base, now + timedelta(seconds=wait * jitter), result.error
    )


# --- demo report ----------------------------------------------------------------------------


def feed_health_rows(engine: Engine) -> list[dict[str, Any]]:
    """One dict per registered feed: source, url, status, failures, next poll, 304 rate."""
    import sqlalchemy as sa

    from pipeline.warehouse.schema import feed, feed_poll, source

    unchanged = sa.func.sum(sa.case((feed_poll.c.status == "not_modified", 1), else_=0))
    polls = (
        sa.select(
            feed_poll.c.feed_id,
            sa.func.count().label("polls"),
            unchanged.label("unchanged"),
            sa.func.sum(sa.case((feed_poll.c.http_status == 304, 1), else_=0)).label("http304"),
            sa.func.sum(feed_poll.c.bytes).label("bytes"),
        )
        .group_by(feed_poll.c.feed_id)
        .subquery()
    )
    query = (
        sa.select(
            source.c.name.label("source"),
            feed.c.url,
            feed.c.poll_url,
            feed.c.enabled,
            feed.c.status,
            feed.c.failures,
            feed.c.poll_interval_s,
            feed.c.next_poll_at,
            feed.c.last_error,
            sa.func.coalesce(polls.c.polls, 0).label("polls"),
            sa.func.coalesce(polls.c.unchanged, 0).label("unchanged"),
            sa.func.coalesce(polls.c.http304, 0).label("http304"),
            sa.func.coalesce(polls.c.bytes, 0).label("bytes"),
        )
        .select_from(feed)
        .join(source, source.c.id == feed.c.source_id)
        .outerjoin(polls, polls.c.feed_id == feed.c.id)
        .order_by(source.c.name, feed.c.url)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "now"
    delta = (as_utc(value) - now).total_seconds()
    if delta <= 0:
        return "due"
    if delta < 3600:
        return f"in {delta / 60:.0f}m"
    return f"in {delta / 3600:.1f}h"


def format_health(rows: list[dict[str, Any]], *, now: datetime | None = None) -> str:
    """A compact text table of :func:`feed_health_rows`."""
    now = now or datetime.now(UTC)
    header = ["source", "status", "failures", "interval", "next poll", "not modified", "error"]
    table = [
        [
            r["source"],
            r["status"] if r["enabled"] else "removed",
            f"{r['failures']:g}",
            f"{(r['poll_interval_s'] or 0) / 60:.0f}m" if r["poll_interval_s"] else "-",
            _when(r["next_poll_at"], now) if r["enabled"] else "-",
            f"{r['unchanged']}/{r['polls']}"
            + (f" ({100 * r['unchanged'] / r['polls']:.0f}%)" if r["polls"] else ""),
            (r["last_error"] or "")[:60],
        ]
        for r in rows
    ]
    return text_table(table, header)


def demo_report(engine: Engine) -> str:
    """What ``mediamon demo`` prints for feed polling: the feed health table."""
    rows = feed_health_rows(engine)
    polls = sum(r["polls"] for r in rows)
    unchanged = sum(r["unchanged"] for r in rows)
    http304 = sum(r["http304"] for r in rows)
    rate = f"{100 * unchanged / polls:.0f}%" if polls else "n/a"
    return (
        f"Feed health ({len(rows)} feeds, {polls} polls, not modified {rate}: "
        f"{http304} by HTTP 304, {unchanged - http304} by unchanged body hash):\n"
        + format_health(rows)
    )
