"""Article extraction with trafilatura: text and metadata, or a recorded reason why not.

``extract`` is a pure function of the fetched bytes (plus the URL, the declared charset and the
fetch time), so re-running it on the raw archive gives the same answer for the same
``EXTRACTOR_VERSION``. The pipeline never calls it directly on the batch's thread: it runs in a
worker process that can be killed (``pipeline.extract_worker``), because trafilatura's own timeout
does not cover the Python parts of an extraction.
"""

from __future__ import annotations

import codecs
import contextlib
import copy
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import trafilatura
from htmldate import find_date
from lxml.etree import XPath
from lxml.html import HtmlElement, fromstring
from trafilatura.baseline import block_text
from trafilatura.json_metadata import (
    extract_json,
    extract_json_parse_error,
    normalize_authors,
    normalize_json,
)
from trafilatura.metadata import (
    HTMLTITLE_REGEX,
    JSON_MINIFY,
    METANAME_AUTHOR,
    METANAME_DESCRIPTION,
    METANAME_IMAGE,
    METANAME_PUBLISHER,
    METANAME_TITLE,
    OG_AUTHOR,
    PROPERTY_AUTHOR,
    TWITTER_ATTRS,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
)
from trafilatura.settings import Document, Extractor
from trafilatura.utils import DOCTYPE_TAG, HTML_PARSER, HTML_STRIP_TAGS, load_html, trim

from pipeline.config import PAYWALL_TEASER_WORDS
from pipeline.dates import sane_date

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# Bump the suffix when our own post-processing changes, so `mediamon reextract` knows which rows
# are stale. The trafilatura version is part of it because its heuristics change between releases.
EXTRACTOR_VERSION = f"trafilatura-{trafilatura.__version__}+mm5"

FAILURE_REASONS = (
    "not_html",
    "no_text",
    "too_short",
    "paywall_suspected",
    "extraction_timeout",
    "extraction_error",
    "archive_missing",
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})

_WS = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# The meta charset must sit in the first 1024 bytes per the HTML standard; real pages put it
# later (after long comments or inline scripts), so we look a little further.
_META_SCAN_BYTES = 16 * 1024
_LANG_CODE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")
_WORD = re.compile(r"[^\W\d_]+")
# A tag, comment or doctype opener: what any HTML page shows within its first few KiB.
_MARKUP = re.compile(rb"<[A-Za-z!?/]")


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
    # Paywall markup around a full text: the article is kept, flagged (article.paywall_suspected).
    paywall_suspected: bool = False


@dataclass(frozen=True)
class ExtractResult:
    """An article, or a failure ``reason`` (one of FAILURE_REASONS) with ``detail``.

    ``article`` may be set together with a reason (``paywall_suspected``: paywall markup and only a
    teaser's worth of text): what we got is kept for inspection, but the page is not treated as a
    full article. Paywall markup around a full text is no failure: ``article.paywall_suspected``.
    """

    article: Article | None
    reason: str | None = None
    detail: str | None = None
    warnings: tuple[str, ...] = field(default=())
    charset: str | None = None

    @property
    def ok(self) -> bool:
        """True when the page yielded a usable article."""
        return self.reason is None and self.article is not None


def content_hash(text: str) -> str:
    """SHA-256 of the text with case and whitespace normalised (exact-duplicate key)."""
    return words_and_hash(text)[1]


# What str.split() splits on in ASCII text besides space and newline.
_ASCII_OTHER_SPACE = ("\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def words_and_hash(text: str) -> tuple[int, str]:
    """Word count (``len(text.split())``) and :func:`content_hash` of ``text``, in one pass.

    The hash is SHA-256 of the words joined by single spaces, lower-cased. trafilatura's text is
    already that way but for newlines between paragraphs: for ASCII text (``isascii`` is a flag
    lookup) a few scans prove it, and the count and the hash then come from the text itself,
    without a list of its words (split and join were 38 of the 40 us this took on a 6 KB text,
    25 us with these scans). Anything else takes the split.
    """
    if text.isascii():
        spaced = text.replace("\n", " ")
        if (
            "  " not in spaced
            and not spaced.startswith(" ")
            and not spaced.endswith(" ")
            and not any(c in text for c in _ASCII_OTHER_SPACE)
        ):
            count = spaced.count(" ") + 1 if spaced else 0
            return count, hashlib.sha256(spaced.lower().encode("ascii")).hexdigest()
    words = text.split()
    # str.split() splits on the same (Unicode) whitespace as \s+ and is several times faster.
    return len(words), hashlib.sha256(" ".join(words).lower().encode("utf-8")).hexdigest()


# --- decoding -------------------------------------------------------------------------------


def _codec(name: str) -> str | None:
    """Python's codec for a declared charset; latin-1 and ASCII mean windows-1252 on the web."""
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    # WHATWG Encoding: browsers decode these labels as windows-1252, and pages rely on it
    # (curly quotes in 0x80-0x9F).
    if codec in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    return codec


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_GUESS_BYTES = 64 * 1024


@dataclass(frozen=True)
class Decoded:
    """A page body as text, with the charset it was decoded with and what looked wrong."""

    text: str
    charset: str
    warnings: tuple[str, ...] = ()


# A page declared UTF-8 keeps UTF-8 through this many invalid sequences, replaced with U+FFFD
# (issue 19: three bad bytes had the whole page re-decoded as windows-1252). Beyond it, only if
# the page has more valid multi-byte characters than invalid sequences: a legacy page that says
# UTF-8 has (almost) none of the former and one of the latter per non-ASCII letter.
_STRAY_UTF8_ERRORS = 8


def _utf8_with_stray_bytes(body: bytes, declared: str | None, meta: str | None) -> Decoded | None:
    """``body`` as UTF-8 with its invalid sequences replaced, when the page declares UTF-8 (in
    the header, else in ``<meta>``) and its bytes are UTF-8 but for a few; else None.

    Browsers decode a page declared UTF-8 as UTF-8 whatever its bytes hold; we do too unless
    the bytes are plainly another charset, rather than let stray bytes cost every character.
    """
    said = next((codec for codec in map(_codec, filter(None, (declared, meta))) if codec), None)
    if said != "utf-8":
        return None
    text = body.decode("utf-8", "replace")
    # Each maximal invalid subsequence becomes one U+FFFD; some may have been in the page.
    errors = text.count("\ufffd") - body.count("\ufffd".encode())
    if errors > _STRAY_UTF8_ERRORS:
        multibyte = len(text) - len(text.encode("ascii", "ignore")) - errors
        if multibyte <= errors:
            return None
    source = "header" if declared and _codec(declared) else "meta"
    return Decoded(
        text,
        "utf-8",
        (f"{errors} invalid UTF-8 sequence(s) replaced; kept the {source} charset",),
    )


def decode_html(body: bytes, *, declared: str | None = None) -> Decoded:
    """Decode a page body; never raises.

    Order: a byte-order mark; strict UTF-8 (legacy-encoded text is almost never valid UTF-8, while
    servers and templates often declare a wrong legacy charset for UTF-8 pages); the charset of
    the HTTP header, then of ``<meta charset>``, each only if the bytes decode cleanly with it,
    except that a page declared UTF-8 whose bytes are UTF-8 but for a few invalid ones keeps
    UTF-8 with those replaced; a statistical guess; finally UTF-8 with replacement characters.
    """
    warnings: list[str] = []
    for bom, codec in _BOMS:
        if body.startswith(bom):
            try:
                return Decoded(body.decode(codec), codec.removesuffix("-sig"))
            except UnicodeDecodeError:
                warnings.append(f"byte-order mark says {codec} but the bytes do not decode")
    match = _META_CHARSET.search(body[:_META_SCAN_BYTES])
    meta = match.group(1).decode("ascii", "replace").lower() if match else None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        for label, source in ((declared, "header"), (meta, "meta")):
            said = _codec(label) if label else "utf-8"
            if said is None:
                warnings.append(f"unknown {source} charset {label!r}")
            elif said != "utf-8" and not body.isascii():
                warnings.append(f"{source} charset {label!r} is wrong: the bytes are UTF-8")
        return Decoded(text, "utf-8", tuple(warnings))
    stray = _utf8_with_stray_bytes(body, declared, meta)
    if stray is not None:
        return stray
    for label, source in ((declared, "header"), (meta, "meta")):
        legacy = _codec(label) if label else None
        if label and legacy is None:
            warnings.append(f"unknown {source} charset {label!r}")
        elif legacy == "utf-8":
            warnings.append(f"{source} charset {label!r} is wrong: the bytes are not UTF-8")
        elif legacy is not None:
            try:
                return Decoded(body.decode(legacy), legacy, tuple(warnings))
            except UnicodeDecodeError:
                warnings.append(f"{source} charset {label!r} does not fit the bytes")
    # A sample is enough to guess from, and guessing on tens of MB takes seconds.
    best = charset_normalizer.from_bytes(body[:_GUESS_BYTES]).best()
    if best is not None and best.encoding:
        codec = _codec(best.encoding) or best.encoding
        try:
            # Replacement past the sample: a stray bad byte must not lose the whole page.
            text = body.decode(codec, "replace")
        except LookupError:
            pass
        else:
            warnings.append(f"charset guessed as {codec}")
            return Decoded(text, codec, tuple(warnings))
    warnings.append("no charset fits; decoded as UTF-8 with replacement characters")
    return Decoded(body.decode("utf-8", "replace"), "utf-8", tuple(warnings))


# --- parsing --------------------------------------------------------------------------------

# What trafilatura's load_html deletes from the text before parsing (its INVALID_XML_CHARS: C0
# controls but tab, newline and carriage return; U+FFFE and U+FFFF).
_INVALID_XML_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def parse_html(decoded: Decoded, body: bytes) -> HtmlElement | None:
    """The tree trafilatura's ``load_html(decoded.text)`` builds, for less where it can.

    load_html runs a regex over the whole text to delete control characters (18 us of its 50 on
    a 7 KiB page) and hands lxml a str, which lxml converts back to bytes. Most pages are UTF-8
    without any of those characters and without the doctype and ``<html/>`` faults it repairs:
    their bytes, checked in a few us, go to lxml directly with trafilatura's parser (same
    options, same encoding), as load_html itself does when lxml refuses the str. Every other
    page goes through load_html. None means load_html's verdict: not HTML.
    """
    text = decoded.text
    if (
        decoded.charset != "utf-8"
        # bytes.translate is a plain C loop: a few us where a regex search takes 15.
        or len(body.translate(None, _INVALID_XML_BYTES)) != len(body)
        # A str holds no character above its widest one, so these fail at once on most pages.
        or "\ufffe" in text
        or "\uffff" in text
    ):
        return load_html(text)
    beginning = text[:50].lower()
    if "doctype" in beginning and DOCTYPE_TAG.match(text.partition("\n")[0]):
        return load_html(text)
    head = text[:4096]
    if (
        "<html" in head
        and "/>" in head
        and any("<html" in line and line.endswith("/>") for line in head.splitlines()[:4])
    ):
        return load_html(text)
    try:
        tree = fromstring(body, parser=HTML_PARSER)
    except Exception:  # noqa: BLE001 - load_html logs and recovers what lxml raises
        return load_html(text)
    if tree is None or len(tree) < 1:
        return load_html(text)
    if "html" not in beginning and len(tree) < 2:
        return None  # load_html's rejection of a tree this small without an html marker
    return tree


# --- page signals ---------------------------------------------------------------------------

# Where publishers put the publication time (the first in document order wins: head meta before
# a <time> in the body). htmldate reads these too, but with its default output format it drops
# the time of day, and it silently skips out-of-range values where we must warn. Read in one walk
# over the tree by _signals (see there): <meta content> whose property, name or itemprop is one
# of these, and <time datetime> with itemprop="datePublished" or a pubdate attribute.
_DATE_META_PROPERTY = frozenset({"article:published_time", "og:article:published_time"})
_DATE_META_NAME = frozenset(
    {
        "article:published_time",
        "pubdate",
        "publishdate",
        "parsely-pub-date",
        "dc.date.issued",
        "DC.date.issued",
    }
)
# Language declared by the page: <html lang>, then <meta content> with one of these http-equiv
# values or property="og:locale", in document order.
_LANG_META_HTTP_EQUIV = frozenset({"content-language", "Content-Language"})
_PAYWALL_CLASS_XPATH = XPath(
    '//*[contains(@class, "paywall") or contains(@id, "paywall")'
    ' or contains(@class, "subscriber-only") or contains(@class, "premium-content")]'
)
_TIME_XPATH = XPath("//time/@datetime")
# Phrases a truncated article ends with when the rest sits behind a subscription.
_TRUNCATION = re.compile(
    r"(subscribe|subscription|sign in|log in|register)\b[^.]{0,40}\bto (continue|keep|read)"
    r"|continue reading[^.]{0,40}\b(subscri|sign in|log in)"
    r"|(available|reserved|only) (to|for) (paying |our )?(subscribers|members)"
    r"|to read the (full|whole|rest of the) (article|story)",
    re.I,
)
# Every _TRUNCATION alternative contains one of these (casefolded): a substring test on the tail
# rules most texts out for a tiny fraction of the regex's cost (the regex tries each alternative
# at every position, ~40-70 us a page).
_TRUNCATION_KEYS = ("subscri", "sign in", "log in", "register", "members", "to read the")
# re.IGNORECASE also matches 'i' with these two, which casefold() does not map to a plain 'i'.
_DOTTED_I = str.maketrans({"\u0130": "i", "\u0131": "i"})
# The tail of the text searched for a truncation phrase; a marker earlier in a long article is
# usually a newsletter box that the extractor kept, not a cut.
_TRUNCATION_TAIL_CHARS = 400
# Below this length a page that carries a paywall element is taken as a teaser.
_PAYWALL_TEASER_CHARS = 1500


_METADATA_SCRIPT_TYPES = frozenset({"application/ld+json", "application/settings+json"})


@dataclass(frozen=True)
class _Signals:
    dates: tuple[str, ...]
    languages: tuple[str, ...]
    canonical: str | None
    free: bool | None  # schema.org isAccessibleForFree, None when absent
    # What _metadata needs, collected in the same walk (see there). ``simple`` is False when the
    # tree is not one <html> with at most one <head>: the document-order lists below then need
    # not match trafilatura's path queries, and _metadata asks trafilatura itself.
    simple: bool = False
    head_metas: tuple[HtmlElement, ...] = ()  # .//head/meta[@content]
    metadata_scripts: tuple[HtmlElement, ...] = ()  # JSON-LD and settings+json scripts
    h1s: tuple[HtmlElement, ...] = ()  # .//h1
    head_title: HtmlElement | None = None  # .//head//title


def _json_ld(scripts: list[HtmlElement]) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object in ``scripts``, flattened through lists and @graph."""
    for script in scripts:
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack: list[Any] = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                stack.extend(v for k, v in item.items() if k in ("@graph", "hasPart"))


def _signals(tree: HtmlElement) -> _Signals:
    """Dates, languages, canonical link and JSON-LD flags the page declares, and the elements
    _metadata reads.

    One walk over the tags concerned, in document order: the XPath queries this replaces
    (``//meta[...]/@content | //time[...]/@datetime``, ``/html/@lang | //meta[...]/@content``,
    ``//script[@type="application/ld+json"]``, ``//head/link[@rel="canonical"]/@href``, and
    trafilatura's metadata queries) each walked the whole tree.
    """
    dates: list[str] = []
    languages: list[str] = []
    scripts: list[HtmlElement] = []
    metadata_scripts: list[HtmlElement] = []
    head_metas: list[HtmlElement] = []
    h1s: list[HtmlElement] = []
    head_title: HtmlElement | None = None
    heads = 0
    canonical: str | None = None
    lang = tree.get("lang") if tree.tag == "html" else None
    if lang is not None:
        languages.append(lang)
    for el in tree.iter("meta", "time", "script", "link", "h1", "title", "head"):
        tag = el.tag
        if tag == "meta":
            content = el.get("content")
            if content is None:
                continue
            parent = el.getparent()
            if parent is not None and parent.tag == "head":
                head_metas.append(el)
            prop = el.get("property")
            if (
                prop in _DATE_META_PROPERTY
                or el.get("name") in _DATE_META_NAME
                or el.get("itemprop") == "datePublished"
            ):
                dates.append(content)
            if prop == "og:locale" or el.get("http-equiv") in _LANG_META_HTTP_EQUIV:
                languages.append(content)
        elif tag == "time":
            stamp = el.get("datetime")
            if stamp is not None and (
                el.get("itemprop") == "datePublished" or el.get("pubdate") is not None
            ):
                dates.append(stamp)
        elif tag == "script":
            kind = el.get("type")
            if kind in _METADATA_SCRIPT_TYPES:
                metadata_scripts.append(el)
                if kind == "application/ld+json":
                    scripts.append(el)
        elif tag == "link":
            if canonical is None and el.get("rel") == "canonical":
                parent = el.getparent()
                if parent is not None and parent.tag == "head":
                    canonical = el.get("href")
        elif tag == "h1":
            h1s.append(el)
        elif tag == "title":
            if head_title is None and next(el.iterancestors("head"), None) is not None:
                head_title = el
        else:
            heads += 1
    free: bool | None = None
    for obj in _json_ld(scripts):
        if "datePublished" in obj and isinstance(obj["datePublished"], str):
            dates.append(obj["datePublished"])
        if isinstance(obj.get("inLanguage"), str):
            languages.append(obj["inLanguage"])
        flag = obj.get("isAccessibleForFree")
        if flag is not None:
            value = str(flag).strip().lower() not in ("false", "0", "no")
            free = value if free is None else free and value
    return _Signals(
        dates=tuple(dates),
        languages=tuple(languages),
        canonical=canonical.strip() if canonical is not None else None,
        free=free,
        simple=tree.tag == "html" and heads <= 1,
        head_metas=tuple(head_metas),
        metadata_scripts=tuple(metadata_scripts),
        h1s=tuple(h1s),
        head_title=head_title,
    )


def _parse_iso(value: str) -> datetime | None:
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _published(
    tree: HtmlElement, signals: _Signals, url: str, fetched_at: datetime, warnings: list[str]
) -> datetime | None:
    """Full publication timestamp (UTC) from page metadata, else htmldate; sane range or None."""
    for raw in signals.dates:
        parsed = _parse_iso(raw)
        if parsed is None:
            warnings.append(f"unparseable published date {raw!r}")
            continue
        sane = sane_date(parsed.astimezone(UTC), now=fetched_at)
        if sane is None:
            # The page said so explicitly; guessing another date from the text would invent one.
            warnings.append(f"published date {raw} outside [1990, fetched_at + 1 day]; null")
        return sane
    found = find_date(
        tree,
        extensive_search=True,
        original_date=True,
        outputformat="%Y-%m-%dT%H:%M:%S%z",
        url=url,
        min_date="1990-01-01",
        # Relative to the fetch, not to now, so re-extraction of an old page is reproducible.
        max_date=(fetched_at + timedelta(days=1)).strftime("%Y-%m-%d"),
    )
    parsed = _parse_iso(found) if found else None
    if parsed is None:
        return None
    # htmldate keeps only the day of a <time datetime>; take the time of day from the first one
    # on that same day, so a byline's full timestamp is not truncated to midnight.
    for raw in _TIME_XPATH(tree):
        full = _parse_iso(str(raw))
        if full is not None and ":" in str(raw) and full.date() == parsed.date():
            parsed = full
            break
    return sane_date(parsed.astimezone(UTC), now=fetched_at)


def _same_site(a: str, b: str) -> bool:
    ha, hb = urlsplit(a).hostname or "", urlsplit(b).hostname or ""
    return ha.removeprefix("www.") == hb.removeprefix("www.")


def _canonical(signals: _Signals, url: str, warnings: list[str]) -> str | None:
    if not signals.canonical:
        return None
    canonical = urljoin(url, signals.canonical)
    if urlsplit(canonical).scheme not in ("http", "https"):
        warnings.append(f"rel=canonical {signals.canonical!r} is not an http(s) URL; ignored")
        return None
    # A local file has no site to compare with: trust the page.
    if urlsplit(url).hostname and not _same_site(canonical, url):
        warnings.append(f"rel=canonical {canonical} is off-site; ignored")
        return None
    return canonical


# --- language -------------------------------------------------------------------------------

# Language identification is py3langid's naive Bayes model over byte n-grams (97 languages,
# bundled with the package, no download). It tells apart what stopword votes could not: ru / uk /
# be share most function words, and so do the Latin-script languages of one family.
# Only the first words are read: the language of a page is settled long before its end, and
# classification time grows with the bytes given.
_LANG_SAMPLE_WORDS = 400
# Less than this many letters is a caption or a figure, not evidence of a language.
_LANG_MIN_LETTERS = 12
# Normalised probability the model must give its best language for the text alone to decide.
# Short unambiguous sentences score above 0.99; under a half, the text is thin or mixed.
_LANG_MIN_CONFIDENCE = 0.5
# Labels of languages the model knows by a code other than the ISO 639-1 one the warehouse uses.
_LANG_ALIASES = {"arz": "ar", "srl": "sr"}
_language_identifier: Any = None


def _identifier() -> Any:
    """The py3langid identifier with normalised probabilities (loaded once per process, ~1 s)."""
    global _language_identifier
    if _language_identifier is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _language_identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _language_identifier


def _language_sample(text: str) -> tuple[str, int]:
    """The start of ``text`` up to its ``_LANG_SAMPLE_WORDS``-th word, and its letter count."""
    end, letters = 0, 0
    for match in islice(_WORD.finditer(text), _LANG_SAMPLE_WORDS):
        end, letters = match.end(), letters + len(match.group(0))
    return text[:end], letters


def detect_language(text: str, *, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``, or None when the evidence is thin.

    The text decides, through the py3langid model, whenever it is long and clear enough
    (``_LANG_MIN_LETTERS``, ``_LANG_MIN_CONFIDENCE``). ``declared`` (the page's ``lang``
    attribute or meta tags) only answers when the text cannot: templates often declare the
    site's default language for every page (lang="en" on a Russian article, "ru" on a
    Ukrainian one), while the words on the page are the article's own.
    """
    # Loaded even when the text is too thin to ask: a worker's warm-up call must leave nothing
    # for the first real page's time limit to pay.
    identifier = _identifier()
    sample, letters = _language_sample(text)
    if letters >= _LANG_MIN_LETTERS:
        code, confidence = identifier.classify(sample)
        if confidence >= _LANG_MIN_CONFIDENCE:
            code = _LANG_ALIASES.get(code, code)
            return str(code)
    return declared


def _page_language(signals: _Signals) -> str | None:
    for value in signals.languages:
        match = _LANG_CODE.match(value.strip())
        if match:
            return match.group(1).lower()
    return None


# --- extraction -----------------------------------------------------------------------------


def precheck(body: bytes, content_type: str, *, max_tags: int) -> ExtractResult | None:
    """Cheap checks before handing a page to trafilatura; a result means "stop here".

    ``max_tags`` bounds the tree: counting '<' is a memchr over the bytes, while parsing and
    walking a tree of millions of elements takes minutes and gigabytes.
    """
    if content_type not in HTML_TYPES:
        return ExtractResult(None, "not_html", f"content type {content_type!r}")
    if not _MARKUP.search(body[:4096]):
        return ExtractResult(None, "not_html", "no markup in the first 4 KiB")
    tags = body.count(b"<")
    if tags > max_tags:
        return ExtractResult(
            None, "extraction_timeout", f"tree too large: {tags} tags > limit {max_tags}"
        )
    return None


def _as_str(value: object) -> str | None:
    # JSON-LD may hand a list or a number where a string belongs ("headline": ["a", "b"],
    # a publisher name as a list); trafilatura passes it through, and it crashed the page.
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value if isinstance(v, str | int | float))
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _clean(value: str | None) -> str | None:
    text = _WS.sub(" ", value).strip() if value else None
    return text or None


def _metadata(tree: HtmlElement, signals: _Signals) -> dict[str, str | None]:
    """Title, author and site name the way trafilatura's extract_metadata finds them.

    Its date search, categories, tags and licence are skipped: we read dates ourselves (with the
    time of day and a warning for insane values) and keep nothing else, and they were a quarter
    of the extraction time on typical pages.

    trafilatura's examine_meta, extract_meta_json and the cheap first steps of extract_title and
    extract_sitename are replayed here, in their precedence order and with their own helpers,
    on the elements _signals collected: each of them walked the whole tree again (0.17 ms a
    page in all). Their costly fallbacks (the rest of extract_title, extract_author) are
    trafilatura's. tests/extract_reference.py keeps the former calls to trafilatura, and
    tests/test_extract.py requires identical results on every sample and generated page.
    """
    if not signals.simple:
        return _metadata_by_trafilatura(tree)
    title: Any = None
    author: str | None = None
    sitename: Any = None
    # extract_opengraph: og: properties (case-sensitive), the last of each kind wins.
    for el in signals.head_metas:
        prop = el.get("property")
        if prop is not None and prop.startswith("og:"):
            content = el.get("content")
            if content and not content.isspace():
                if prop == "og:title":
                    title = content
                elif prop == "og:site_name":
                    sitename = content
                elif prop in OG_AUTHOR:
                    author = normalize_authors(None, content)
    # examine_meta: every head meta in document order; the if/elif chains keep its precedence,
    # including the branches that set fields we do not keep (they stop the chain).
    backup_sitename = None
    for el in signals.head_metas:
        raw = el.get("content", "")
        # HTML_STRIP_TAGS only matches from a '<'.
        content = (HTML_STRIP_TAGS.sub("", raw) if "<" in raw else raw).strip()
        if not content:
            continue
        prop = el.get("property")
        if prop is not None:
            prop = prop.lower()
            if prop.startswith("og:") or prop == "article:tag":
                continue
            if prop in PROPERTY_AUTHOR:
                author = normalize_authors(author, content)
            elif prop == "article:publisher":
                sitename = sitename or content
            continue
        name = el.get("name")
        if name is not None:
            name = name.lower()
            if name in METANAME_AUTHOR:
                author = normalize_authors(author, content)
            elif name in METANAME_TITLE:
                title = title or content
            elif name in METANAME_DESCRIPTION:
                pass
            elif name in METANAME_PUBLISHER:
                sitename = sitename or content
            elif name in METANAME_IMAGE:
                pass
            elif name in TWITTER_ATTRS or "twitter:app:name" in name:
                backup_sitename = content
            continue
        itemprop = el.get("itemprop")
        if itemprop is not None:
            itemprop = itemprop.lower()
            if itemprop == "author":
                author = normalize_authors(author, content)
            elif itemprop == "headline":
                title = title or content
    sitename = sitename or backup_sitename
    if author and " " not in author:
        author = None  # single tokens are handles or site names, as in trafilatura
    if signals.metadata_scripts:
        # extract_meta_json on the scripts already found, mutating a Document as it does:
        # what a script read before one that raises is kept.
        doc = Document(title=title, author=author, sitename=sitename)
        with contextlib.suppress(Exception):
            for elem in signals.metadata_scripts:
                if not elem.text:
                    continue
                element_text = normalize_json(JSON_MINIFY.sub(r"\1", elem.text))
                try:
                    schema = json.loads(element_text, strict=False)
                    doc = extract_json(schema, doc)
                except json.JSONDecodeError:
                    doc = extract_json_parse_error(element_text, doc)
        title, author, sitename = doc.title, doc.author, doc.sitename
    # extract_title's first step (a single non-empty <h1>) without walking the tree again.
    if not title:
        h1s = signals.h1s
        title = (len(h1s) == 1 and block_text(h1s[0])) or extract_title(tree)
    author = author or extract_author(tree)
    sitename = sitename or _title_sitename(signals.head_title)
    return _finish(title, author, sitename)


def _title_sitename(element: HtmlElement | None) -> str | None:
    """trafilatura's extract_sitename on the first <title> within <head>."""
    if element is None:
        return None
    match = HTMLTITLE_REGEX.match(trim(element.text_content()))
    if not match:
        return None
    return next((part for part in (match[1], match[2]) if part and "." in part), None)


def _finish(title: Any, author: Any, sitename: Any) -> dict[str, str | None]:
    """The three fields as clean strings, whatever type the page's metadata gave them."""
    site = _as_str(sitename)
    if site:
        site = site.lstrip("@")
        # A bare "@" leaves nothing to capitalise.
        if site and "." not in site and not site[0].isupper():
            site = site.title()
    return {
        "title": _clean(_as_str(title)),
        "author": _clean(_as_str(author)),
        "sitename": _clean(site),
    }


def _metadata_by_trafilatura(tree: HtmlElement) -> dict[str, str | None]:
    """_metadata through trafilatura's own functions, for trees _signals does not vouch for."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    # trafilatura's JSON-LD reader has bugs on odd pages; the meta tags then stand alone.
    with contextlib.suppress(Exception):
        meta = extract_meta_json(tree, meta)
    return _finish(
        meta.title or extract_title(tree),
        meta.author or extract_author(tree),
        meta.sitename or extract_sitename(tree),
    )


def _paywall(tree: HtmlElement, signals: _Signals, text: str) -> str | None:
    if signals.free is False:
        return "JSON-LD isAccessibleForFree=false"
    tail = text[-_TRUNCATION_TAIL_CHARS:]
    folded = (tail if tail.isascii() else tail.translate(_DOTTED_I)).casefold()
    match = _TRUNCATION.search(tail) if any(k in folded for k in _TRUNCATION_KEYS) else None
    if match:
        return f"text ends with a subscription prompt: {match.group(0)!r}"
    # Only short texts are worth the scan of every element's class and id.
    if len(text) < _PAYWALL_TEASER_CHARS and _PAYWALL_CLASS_XPATH(tree):
        return f"paywall element and only {len(text)} characters of text"
    return None


_OPTIONS_TEMPLATE: Extractor | None = None


def _options(url: str) -> Extractor:
    """trafilatura's options for one page: a copy of a template built once per process.

    Building an Extractor reads its configuration anew each time, which cost about a tenth of a
    typical page's extraction; only the URL differs between pages.
    """
    global _OPTIONS_TEMPLATE
    if _OPTIONS_TEMPLATE is None:
        # No comments: readers' comments are not the article, and a figure quoted in one must not
        # be credited to the outlet. With comments on, trafilatura keeps them out of the text
        # only on its main path: under a short item its fallbacks took the whole thread as the
        # text (tests/test_extract.py). Off, it prunes comment containers from the raw tree with
        # an XPath of EXSLT regexes, ~0.7 us an element: 7 % of the extraction on 13 KiB pages,
        # 11 % on 40 KiB ones, nothing much on small ones (bench_extract --links 60 / 300).
        _OPTIONS_TEMPLATE = Extractor(
            output_format="python", comments=False, tables=False, with_metadata=False
        )
    options = copy.copy(_OPTIONS_TEMPLATE)
    options.url = options.source = url
    return options


def extract(
    body: bytes,
    *,
    url: str,
    content_type: str,
    fetched_at: datetime,
    declared_charset: str | None = None,
    min_chars: int = 200,
    max_tags: int = 1_000_000,
    paywall_teaser_words: int = PAYWALL_TEASER_WORDS,
) -> ExtractResult:
    """Extract the main text and metadata of an HTML page, in this process.

    Args:
        body: the raw bytes as fetched.
        url: the final URL of the page: relative links, the same-site check for rel=canonical.
        content_type: media type from the response headers ('' when unknown).
        fetched_at: when the page was fetched; published dates after it (+1 day) are dropped.
        declared_charset: the charset of the HTTP Content-Type header, if any.
        min_chars: shorter text is recorded as ``too_short``.
        max_tags: more tags than this is recorded as ``extraction_timeout`` without parsing.
        paywall_teaser_words: a page with paywall markup and fewer words than this is a teaser,
            recorded as ``paywall_suspected``; with more, its text is kept and flagged.
    """
    stop = precheck(body, content_type, max_tags=max_tags)
    if stop is not None:
        return stop
    decoded = decode_html(body, declared=declared_charset)
    warnings = list(decoded.warnings)

    def fail(reason: str, detail: str, article: Article | None = None) -> ExtractResult:
        return ExtractResult(article, reason, detail, tuple(warnings), decoded.charset)

    tree = parse_html(decoded, body)
    if tree is None:
        return fail("not_html", "the page does not parse as HTML")
    signals = _signals(tree)
    meta = _metadata(tree, signals)
    published = _published(tree, signals, url, fetched_at, warnings)
    doc = trafilatura.bare_extraction(tree, options=_options(url))
    if doc is None:
        text = ""
    elif isinstance(doc, dict):
        text = str(doc.get("text") or "").strip()
    else:
        text = (doc.text or "").strip()
    if not text:
        return fail("no_text", "trafilatura found no main text")
    language = detect_language(text, declared=_page_language(signals))
    word_count, text_hash = words_and_hash(text)
    article = Article(
        title=meta["title"],
        text=text,
        authors=meta["author"],
        published_at=published,
        language=language,
        sitename=meta["sitename"],
        canonical_url=_canonical(signals, url, warnings),
        word_count=word_count,
        content_hash=text_hash,
    )
    paywall = _paywall(tree, signals, text)
    if paywall:
        if word_count < paywall_teaser_words:
            return fail(
                "paywall_suspected",
                f"{paywall}; {word_count} words < {paywall_teaser_words}: a teaser",
                article,
            )
        # Many sites send the whole text to every reader and mark it up for subscribers (or for
        # search engines) all the same: losing those articles would cost more than a flag.
        warnings.append(f"paywall markup around {word_count} words of text: {paywall}")
        article = replace(article, paywall_suspected=True)
    if len(text) < min_chars:
        return fail("too_short", f"{len(text)} characters < {min_chars}")
    return ExtractResult(article, warnings=tuple(warnings), charset=decoded.charset)


# --- memory --------------------------------------------------------------------------------


class _KeepStoplist:
    """Stands in for justext's ``define_stoplist`` while trafilatura empties its caches."""

    @staticmethod
    def cache_clear() -> None:
        """Keep the entry: see reset_caches."""


def reset_caches() -> None:
    """trafilatura's ``reset_caches()`` (its LRU caches, htmldate's, courlan's, a gc pass), but
    for justext's stoplist cache.

    That cache holds one entry: trafilatura's union of all justext stoplists (154k words) as a
    frozenset, built from the same package data every time, so emptying it frees nothing for
    long; the next page that falls back to justext rebuilds it (34 ms, an eighth of the
    extraction of a 200-page batch of small pages). Every other cache the installed trafilatura
    resets is still reset, including any a later release adds: its own function does that.
    """
    import trafilatura.meta

    # reset_caches looks the name up in its module at call time, and nothing else reads it there
    # (justext calls its own function), so the stand-in changes nothing else, threads or not.
    namespace = vars(trafilatura.meta)
    define_stoplist = namespace["define_stoplist"]
    namespace["define_stoplist"] = _KeepStoplist
    try:
        trafilatura.meta.reset_caches()
    finally:
        namespace["define_stoplist"] = define_stoplist


# --- demo -----------------------------------------------------------------------------------


def demo_report(engine: Engine) -> str:
    """Articles by status, then failures by reason, as a compact text table."""
    # Imported here: this module is loaded by the extraction worker, which needs no database.
    import sqlalchemy as sa

    from pipeline.textfmt import text_table
    from pipeline.warehouse.queries import articles_by_status, failures_by_reason
    from pipeline.warehouse.schema import article

    with engine.connect() as conn:
        by_status = articles_by_status(conn)
        failures = failures_by_reason(conn)
        warned = conn.execute(
            sa.select(sa.func.count())
            .select_from(article)
            .where(article.c.extract_warnings.is_not(None))
        ).scalar_one()
    lines = [
        "articles by status",
        text_table(sorted(by_status.items()), ["status", "count"]),
        "failures by reason",
        text_table(failures, ["status", "reason", "count"]) if failures else "  (none)",
        f"articles with extraction warnings: {warned}",
    ]
    return "\n".join(lines)
