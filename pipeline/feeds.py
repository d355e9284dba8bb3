"""Feed lists (YAML, OPML), feed polling (conditional GET, parsing) and feed health.

The lists are import sources: ``mediamon feeds import`` reads one into the registry, which lives
in the warehouse (``pipeline.registry``); polling never reads a file.

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
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.parsers import expat

import feedparser
import yaml
from feedparser.encodings import convert_to_utf8

from pipeline.config import Settings, get_settings
from pipeline.dates import as_utc, sane_date
from pipeline.http import HttpResponse, SafeClient
from pipeline.textfmt import text_table
from pipeline.urls import canonicalize
from pipeline.warehouse import schema as _schema
from pipeline.warehouse.schema import feed as _feed_table
from pipeline.warehouse.schema import source as _source_table

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# The poll outcomes; defined with the feed_poll table, whose CHECK constraint is built from it.
POLL_STATUSES = _schema.POLL_STATUSES
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
    """One feed of the registry: a feeds.yaml entry, an OPML outline or a ``feed`` row."""

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


def _column_length(column: Any) -> int:
    length = getattr(column.type, "length", None)
    assert isinstance(length, int), column
    return length


# The warehouse's own bounds: a value past them fails the registry sync on PostgreSQL ("value too
# long") and is stored anyway on SQLite, so every entry point refuses it before it gets that far.
MAX_SOURCE_CHARS = _column_length(_source_table.c.name)
MAX_LANGUAGE_CHARS = _column_length(_feed_table.c.language)
# Not database limits, but no real feed needs more; beyond them a value is junk or an attack.
MAX_URL_CHARS = 2048  # the de-facto URL limit (sitemaps protocol, browsers)
MAX_TAGS = 50
MAX_TAG_CHARS = 100
# YAML nodes one feeds.yaml entry may expand to, aliases followed: a real entry has a few dozen
# (five fields, a handful of tags). Aliases share nodes, so a 559-byte "billion laughs" composes
# in microseconds; what explodes (2.8 GB, 50 s) is every later walk of the data -- building the
# Python objects, str(), dumping -- so each entry is measured, up to this bound, before it is
# built, and one over it is refused.
MAX_ENTRY_NODES = 1_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # PostgreSQL text cannot hold NUL; none belongs here


class EntryError(ValueError):
    """One registry entry is invalid; ``key`` names the offending field (None: the whole entry)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Refused:
    """A registry entry left out: where it is (file and line, or OPML outline), its URL when it has
    one, and why."""

    where: str
    reason: str
    url: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Registry:
    """What a registry source yields: the valid feeds, and every entry refused."""

    specs: list[FeedSpec]
    refused: list[Refused] = field(default_factory=list)


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _check_text(key: str, value: Any, limit: int, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise EntryError(f"{key} is missing", key)
        return None
    if isinstance(value, bool):
        # YAML 1.1 reads yes/no/on/off unquoted as booleans: "language: no" (Norwegian) is False.
        raise EntryError(f"{key} must be text, not {value} (quote it)", key)
    if not isinstance(value, str | int | float):
        raise EntryError(f"{key} must be text, not {_short(value)}", key)
    text = str(value).strip()
    if required and not text:
        raise EntryError(f"{key} is empty", key)
    if len(text) > limit:
        raise EntryError(f"{key} is {len(text)} characters long; at most {limit} allowed", key)
    if _CONTROL.search(text):
        raise EntryError(f"{key} contains control characters", key)
    return text or None


def check_url(value: Any) -> str:
    """``value`` as a feed URL: absolute http(s) with a host, bounded, no control characters."""
    url = _check_text("url", value, MAX_URL_CHARS, required=True)
    assert url is not None  # required
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket
        raise EntryError(f"url {_short(url)} is not a valid URL: {exc}", "url") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise EntryError(f"url {_short(url)}: only http and https feeds are allowed", "url")
    if not host:
        raise EntryError(f"url {_short(url)} has no host", "url")
    if " " in url:
        raise EntryError(f"url {_short(url)} contains a space (encode it as %20)", "url")
    return url


def _check_tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise EntryError(f"tags must be a list of words, not {_short(value)}", "tags")
    if len(items) > MAX_TAGS:
        raise EntryError(f"{len(items)} tags; at most {MAX_TAGS} allowed", "tags")
    try:
        tags = [_check_text("tag", t, MAX_TAG_CHARS) for t in items]
    except EntryError as exc:
        raise EntryError(str(exc), "tags") from exc
    return tuple(t for t in tags if t)


def _check_interval(value: Any, settings: Settings) -> int | None:
    if value is None:
        return None
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,12}\s*", value):
        seconds = int(value)
    if seconds is None:
        raise EntryError(
            f"interval must be a whole number of seconds, not {_short(value)}", "interval"
        )
    low, high = settings.feed_min_interval, settings.feed_max_interval
    if not low <= seconds <= high:
        # The same bounds as the adaptive interval: below the minimum a feed would be polled on
        # every run (issue 19: "interval: -5"); above the maximum, less often than even a
        # disabled feed is re-checked.
        raise EntryError(
            f"interval {seconds} s is outside [{low}, {high}] "
            "(MEDIAMON_FEED_MIN_INTERVAL, MEDIAMON_FEED_MAX_INTERVAL)",
            "interval",
        )
    return seconds


def make_spec(
    url: Any,
    source: Any,
    language: Any = None,
    tags: Any = None,
    interval: Any = None,
    *,
    settings: Settings | None = None,
) -> FeedSpec:
    """A FeedSpec from raw values (feeds.yaml, OPML, the CLI), checked by the warehouse's rules.

    Raises :class:`EntryError` naming the first offending field.
    """
    settings = settings or get_settings()
    checked_url = check_url(url)
    source_name = _check_text("source", source, MAX_SOURCE_CHARS, required=True)
    assert source_name is not None  # required
    return FeedSpec(
        url=checked_url,
        source=source_name,
        language=_check_text("language", language, MAX_LANGUAGE_CHARS),
        tags=_check_tags(tags),
        interval_s=_check_interval(interval, settings),
    )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _ExpandedSize:
    """Sizes of YAML nodes with aliases expanded, capped at ``cap`` and memoised by node: a
    subtree that aliases share is measured once, so measuring every entry of a registry costs
    the size of the document, never of its expansion. A node that contains itself is ``cap``."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.sizes: dict[int, int] = {}

    def __call__(self, root: yaml.Node) -> int:
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        entered: set[int] = set()
        while stack:
            node, children_done = stack.pop()
            key = id(node)
            if key in self.sizes:
                continue
            children = _children(node)
            if children_done:
                total = 1 + sum(self.sizes.get(id(c), self.cap) for c in children)
                self.sizes[key] = min(total, self.cap)
            elif key not in entered:  # (entered but unsized: a cycle, sized as the cap)
                entered.add(key)
                stack.append((node, True))
                stack.extend((c, False) for c in children)
        return self.sizes[id(root)]


def _feeds_node(root: yaml.Node | None, path: Path) -> yaml.SequenceNode:
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "feeds":
                if isinstance(value, yaml.SequenceNode):
                    return value
                break
    raise RegistryError(f"{path}: expected a top-level 'feeds:' list")


def _field(node: yaml.Node, key: str | None) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key, value) nodes of ``key`` in the mapping ``node``, read without building it."""
    if key and isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.Node):
                return k, v
    return None


def _line_of(node: yaml.Node, key: str | None) -> int:
    """1-based line of ``key`` in the entry ``node`` (the entry's own line if absent). The key's,
    not its value's: a value given by an alias starts where its anchor is."""
    found = _field(node, key)
    return int((found[0] if found else node).start_mark.line) + 1


def _yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    """One line: where in ``path`` and what (PyYAML's own text spans several, with a caret)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"{path} line {mark.line + 1}" if mark else str(path)
        what = " ".join(p for p in (exc.problem, exc.context) if p)
        start = exc.context_mark
        if exc.context and start and mark and start.line != mark.line:
            # The problem is often found lines after its cause (an unclosed bracket at the end
            # of the file): name where the construct it was reading began.
            what += f" started on line {start.line + 1}"
        return f"{where}: not a usable registry: {what}"
    return f"{path}: not a usable registry: {' '.join(str(exc).split())}"


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_registry(
    path: Path, *, base_url: str | None = None, settings: Settings | None = None
) -> Registry:
    """Read feeds.yaml. ``base_url`` replaces the ``{{BASE_URL}}`` placeholder (demo corpus).

    Each invalid entry is refused with its line and the others are kept. The file as a whole is
    refused (:class:`RegistryError`) only when it cannot be read, is not YAML or has no ``feeds:``
    list. An entry that expands (aliases followed) beyond :data:`MAX_ENTRY_NODES` nodes is
    refused unread, so an alias bomb costs microseconds, not gigabytes.
    """
    settings = settings or get_settings()
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read feed registry {path}: {exc}") from exc
    if base_url is not None:
        raw = raw.replace("{{BASE_URL}}", base_url)
    try:
        # Composing (unlike constructing) costs the document's size: an alias is one shared node.
        root = yaml.compose(raw, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise RegistryError(_yaml_error(path, exc)) from exc
    except RecursionError as exc:
        raise RegistryError(f"{path}: not a usable registry: nested too deeply") from exc
    specs: list[FeedSpec] = []
    refused: list[Refused] = []
    first_line: dict[str, int] = {}
    size = _ExpandedSize(MAX_ENTRY_NODES + 1)
    # One constructor for every entry, so a node that aliases share is built once.
    constructor = _SAFE_LOADER("")
    for node in _feeds_node(root, path).value:
        found = _field(node, "url")
        url = found[1].value.strip() if found and isinstance(found[1], yaml.ScalarNode) else None
        try:
            if size(node) > MAX_ENTRY_NODES:
                raise EntryError(
                    f"the entry expands to more than {MAX_ENTRY_NODES} YAML nodes "
                    "(an alias bomb?); not read"
                )
            item = constructor.construct_object(node, deep=True)
            if not isinstance(item, dict):
                raise EntryError("an entry must be a mapping with at least 'url' and 'source'")
            spec = make_spec(
                item.get("url"),
                item.get("source"),
                item.get("language"),
                item.get("tags"),
                item.get("interval"),
                settings=settings,
            )
            if spec.url in first_line:
                raise EntryError(f"listed twice (first on line {first_line[spec.url]})", "url")
        except EntryError as exc:
            where = f"{path} line {_line_of(node, exc.key)}"
            refused.append(Refused(where, str(exc), url))
            continue
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
            # A tag SafeLoader refuses, an integer too long to convert, nesting too deep.
            where = f"{path} line {_line_of(node, None)}"
            refused.append(Refused(where, f"unreadable entry: {type(exc).__name__}", url))
            constructor = _SAFE_LOADER("")  # the failed one may hold half-built state
            continue
        first_line[spec.url] = _line_of(node, "url")
        specs.append(spec)
    return Registry(specs, refused)


def import_opml(
    data: bytes, *, default_source: str | None = None, settings: Settings | None = None
) -> Registry:
    """Feeds listed in an OPML document (``outline`` elements with ``xmlUrl``).

    The source name is the outline's ``title``/``text``; ``category`` becomes tags. Each outline
    is checked like a feeds.yaml entry; an invalid one is refused with its number and line and
    the others are kept. A document that is not XML is refused as a whole (RegistryError).
    """
    settings = settings or get_settings()
    outlines: list[tuple[int, dict[str, str]]] = []
    # expat directly, for line numbers; it refuses entity-expansion bombs (>= 2.4) and never
    # fetches external entities.
    parser = expat.ParserCreate()

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "outline":
            outlines.append((parser.CurrentLineNumber, attrs))

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise RegistryError(f"not valid OPML: {exc}") from exc
    specs: list[FeedSpec] = []
    refused: list[Refused] = []
    seen: set[str] = set()
    for number, (line, node) in enumerate(outlines, start=1):
        url = (node.get("xmlUrl") or "").strip()
        if not url or url in seen:
            continue  # a folder, or the same feed filed under two folders
        seen.add(url)
        source = node.get("title") or node.get("text") or default_source or url
        tags = [t.strip().strip("/") for t in (node.get("category") or "").split(",")]
        try:
            spec = make_spec(url, source, node.get("language"), tags, settings=settings)
        except EntryError as exc:
            refused.append(Refused(f"line {line}, outline {number}", str(exc), url))
            continue
        specs.append(spec)
    return Registry(specs, refused)


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
    # NUL ("&#0;" survives feedparser's loose parser) is dropped: PostgreSQL text cannot hold it.
    return None if value is None else str(value).replace("\x00", "")[:limit]


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


# What the parse budget counts, in the body as feedparser will read it (UTF-8): start, end and
# empty-element tags, and escaped tags in text ("&lt;p&gt;"), which feedparser's HTML sanitizer
# parses too. Comments, declarations and processing instructions are skipped; the CDATA marker
# alone is skipped, so HTML inside CDATA counts like any markup. ``[^<>]`` keeps every match
# attempt short, so the scan is linear in the body whatever it holds.
_MARKUP = re.compile(
    rb"<!--.*?(?:-->|\Z)|<!\[CDATA\[|<[!?][^<>]*>"
    rb"|<(?P<end>/?)(?P<name>[A-Za-z_][-\w.:]*)[^<>]*?(?P<empty>/?)>"
    rb"|(?P<escaped>&(?:lt|#0*60|#x0*3c);[A-Za-z])",
    re.S | re.I,
)
# HTML elements without an end tag: inside CDATA they would otherwise count as still open.
# (Not "link" or "source": RSS elements of those names have end tags.)
_VOID = frozenset(b"area base br col embed hr img input meta param track wbr".split())


def budget_error(body: bytes, *, max_elements: int, max_depth: int) -> str | None:
    """Why ``body`` is over the parse budget (too many elements, or nested too deep), or None.

    A lenient count, not a parse: an end tag closes everything opened since its start tag (as
    HTML parsers recover), so unclosed HTML inside CDATA cannot deepen the nesting past its
    container. Reading stops at the first element over either bound, so a 10^6-deep feed is
    refused after a few kilobytes.
    """
    elements = 0
    stack: list[bytes] = []
    open_count: Counter[bytes] = Counter()
    for match in _MARKUP.finditer(body):
        name = match.group("name")
        if name is None:
            if match.group("escaped") is None:
                continue
        elif match.group("end"):
            if open_count[name]:
                while stack:  # pop back to the matching start tag
                    top = stack.pop()
                    open_count[top] -= 1
                    if top == name:
                        break
            continue
        elif not match.group("empty") and name.lower() not in _VOID:
            stack.append(name)
            open_count[name] += 1
            if len(stack) > max_depth:
                return (
                    f"feed refused unparsed: elements nested more than {max_depth} deep "
                    "(parse budget, MEDIAMON_FEED_MAX_DEPTH)"
                )
        elements += 1
        if elements > max_elements:
            return (
                f"feed refused unparsed: more than {max_elements} elements "
                "(parse budget, MEDIAMON_FEED_MAX_ELEMENTS)"
            )
    return None


def _as_parsed(body: bytes, headers: dict[str, str]) -> bytes:
    """``body`` in UTF-8 as feedparser's parsers will see it: it honours any declared charset
    (UTF-16, UTF-7, EBCDIC...), so a scan of the raw bytes could be dodged by re-encoding."""
    try:
        data = convert_to_utf8(dict(headers), body, {})
    except (ValueError, LookupError, TypeError):  # then scan the bytes as they are
        return body
    return data if isinstance(data, bytes) else body


def parse_feed(
    body: bytes,
    *,
    url: str,
    now: datetime,
    headers: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> ParsedFeed:
    """Parse feed bytes we fetched. Entries, warnings, error and the declared update period.

    A "bozo" feed that still yields entries is kept, with a warning; one with no entries is an
    error. The body goes in as a stream: given bytes, feedparser first tries them as a *file
    name* (a feed whose body is "/etc/passwd" would read that file) and would fetch a URL itself.
    A body over the parse budget (settings ``feed_max_elements``, ``feed_max_depth``) is an
    error without being parsed.
    """
    settings = settings or get_settings()
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
    over = budget_error(
        _as_parsed(body, hdrs),
        max_elements=settings.feed_max_elements,
        max_depth=settings.feed_max_depth,
    )
    if over:
        return ParsedFeed([], warnings, over)
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
                url=canonicalize(str(link).replace("\x00", "")),
                guid=_clip(raw_entry.get("id"), MAX_URL_CHARS),
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
    parsed = parse_feed(
        resp.body, url=state.url, now=now, headers=resp.headers, settings=client.settings
    )
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
