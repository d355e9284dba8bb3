"""Extraction: every metadata field and failure reason on our own fixtures, the killable worker,
the `mediamon extract` contract, and re-extraction from the raw archive."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import hashlib
import json
import os
import random
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import sqlalchemy as sa
from trafilatura.metadata import examine_meta, extract_meta_json
from trafilatura.utils import load_html
from typer.testing import CliRunner

from pipeline import extract as extract_module
from pipeline import flow
from pipeline.cli import app
from pipeline.config import Settings
from pipeline.extract import (
    _TRUNCATION,
    EXTRACTOR_VERSION,
    ExtractResult,
    _paywall,
    _signals,
    content_hash,
    decode_html,
    demo_report,
    detect_language,
    extract,
    parse_html,
    reset_caches,
    words_and_hash,
)
from pipeline.extract_worker import ExtractionWorker, ExtractJob, _pack, _unpack, _unpack_many
from pipeline.samples import serving
from pipeline.warehouse import get_engine
from pipeline.warehouse.migrate import upgrade
from pipeline.warehouse.schema import article
from tests.conftest import SAMPLES
from tests.seed import add_source_and_feed

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "html"
PAGE_URL = "https://news.example.org/2026/05/dunmere-lock-reopens"
FETCHED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def run(name: str, *, declared: str | None = None, content_type: str = "text/html") -> Any:
    return extract(
        (FIXTURES / name).read_bytes(),
        url=PAGE_URL,
        content_type=content_type,
        fetched_at=FETCHED,
        declared_charset=declared,
    )


# --- metadata -------------------------------------------------------------------------------


def test_full_article_yields_every_field() -> None:
    result = run("full_article.html")
    assert result.ok and result.reason is None and result.warnings == ()
    art = result.article
    assert art.title == "Dunmere lock reopens after six weeks"
    assert art.authors == "Marta Kollen"
    # 07:45 at +02:00, kept to the minute (not truncated to the day), stored in UTC.
    assert art.published_at == datetime(2026, 5, 12, 5, 45, tzinfo=UTC)
    assert art.language == "en"
    assert art.sitename == "Dunmere Daily"
    assert art.canonical_url == "https://news.example.org/2026/05/dunmere-lock-reopens"
    assert "opened the repaired lock gates on Tuesday morning" in art.text
    assert "forty vessels a day" in art.text
    assert "Privacy" not in art.text and "Sport" not in art.text  # boilerplate left out
    assert art.word_count == len(art.text.split()) > 120
    normalised = " ".join(art.text.split()).lower()
    assert art.content_hash == hashlib.sha256(normalised.encode()).hexdigest()
    assert art.extractor_version == EXTRACTOR_VERSION
    assert result.charset == "utf-8"


def test_offsite_canonical_is_ignored_with_a_warning() -> None:
    result = run("offsite_canonical.html")
    assert result.ok and result.article.canonical_url is None
    assert any("off-site" in w for w in result.warnings)


def test_date_in_year_3000_is_null_with_a_warning() -> None:
    result = run("date_year_3000.html")
    assert result.ok and result.article.published_at is None
    assert any("3000-01-01" in w and "outside" in w for w in result.warnings)


def test_date_from_byline_keeps_time_of_day() -> None:
    # No meta date: htmldate finds the day; the <time datetime> on that day gives the time.
    result = run("date_in_byline_only.html")
    assert result.article.published_at == datetime(2026, 5, 12, 5, 45, tzinfo=UTC)


def test_date_after_fetch_time_is_rejected_even_if_before_now() -> None:
    body = (FIXTURES / "full_article.html").read_bytes()
    result = extract(
        body, url=PAGE_URL, content_type="text/html", fetched_at=datetime(2026, 5, 10, tzinfo=UTC)
    )
    assert result.article is not None and result.article.published_at is None
    assert any("outside" in w for w in result.warnings)


def test_language_from_text_when_page_has_none() -> None:
    result = run("no_lang_metadata_ru.html")
    assert result.ok and result.article.language == "ru"


def test_detect_language_on_text() -> None:
    assert detect_language("The board said that it would not change the plan for the port.") == "en"
    assert (
        detect_language(
            "Le conseil a dit que le plan ne serait pas modifié pour le port de la ville."
        )
        == "fr"
    )
    assert detect_language("12 345 678 — 2026") is None


# --- charsets -------------------------------------------------------------------------------


def test_legacy_windows_1251_page_declared_in_meta() -> None:
    result = run("legacy_cp1251.html")
    assert result.ok and result.charset == "cp1251"
    assert "Городской совет Северной Заставы" in result.article.text
    assert result.article.title == "Совет утвердил ремонт моста"
    assert result.article.language == "ru"


def test_legacy_latin1_page_declared_in_http_header() -> None:
    result = run("legacy_latin1_no_meta.html", declared="iso-8859-1")
    # ISO-8859-1 is decoded as its superset windows-1252, as browsers do.
    assert result.ok and result.charset == "cp1252"
    assert "écoles rurales" in result.article.text and "« décision" in result.article.text
    assert result.article.language == "fr"


def test_bogus_meta_charset_utf8_on_cp1251_bytes() -> None:
    result = run("bogus_meta_charset_cp1251.html")
    assert result.ok
    assert "Городской совет Северной Заставы" in result.article.text
    assert any("meta charset 'utf-8' is wrong" in w for w in result.warnings)


def test_bogus_meta_charset_unknown_name_on_utf8_bytes() -> None:
    result = run("bogus_meta_charset_unknown.html")
    assert result.ok and result.charset == "utf-8"
    assert "présenté mercredi" in result.article.text
    assert any("unknown meta charset 'x-klingon-7'" in w for w in result.warnings)


def test_header_charset_wrong_for_utf8_page() -> None:
    # A server default of ISO-8859-1 in front of a UTF-8 page: the bytes win.
    decoded = decode_html("Сообщение: café".encode(), declared="iso-8859-1")
    assert decoded.text == "Сообщение: café" and decoded.charset == "utf-8"
    assert decoded.warnings == ("header charset 'iso-8859-1' is wrong: the bytes are UTF-8",)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff\xfe\xfd",
        b"\xe2\x82",
        b"\xc3\x28\xa0\xa1",
        b"\x00\x81\x8d\x8f\x90\x9d",
        b"\xed\xa0\x80",
    ],
)
def test_invalid_bytes_never_crash(garbage: bytes) -> None:
    body = (FIXTURES / "full_article.html").read_bytes()
    cut = body.index(b"repaired lock gates")
    broken = body[:cut] + garbage + body[cut:]
    for declared in (None, "utf-8", "windows-1252", "no-such-charset"):
        result = extract(
            broken,
            url=PAGE_URL,
            content_type="text/html",
            fetched_at=FETCHED,
            declared_charset=declared,
        )
        assert result.ok and result.article is not None, (garbage, declared, result.reason)
        assert "forty vessels a day" in result.article.text


def _with_bad_bytes(body: bytes, *, after: list[bytes]) -> bytes:
    """``body`` with one byte that is never valid UTF-8 (0xFF) after each of ``after``."""
    for text in after:
        cut = body.index(text) + len(text)
        body = body[:cut] + b"\xff" + body[cut:]
    return body


@pytest.mark.parametrize("declared", ["utf-8", None])  # in the header, or only in <meta>
def test_utf8_page_with_three_bad_bytes_keeps_its_utf8_text(declared: str | None) -> None:
    # Issue 19: three stray bytes had the whole page re-decoded as a legacy charset, so every
    # Cyrillic letter came out as mojibake. The declared UTF-8 wins; only the bad bytes are lost.
    words = ["Городской".encode(), "ремонта".encode(), "администрации".encode()]
    body = _with_bad_bytes((FIXTURES / "no_lang_metadata_ru.html").read_bytes(), after=words)
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    result = extract(
        body,
        url=PAGE_URL,
        content_type="text/html",
        fetched_at=FETCHED,
        declared_charset=declared,
    )
    assert result.ok and result.article is not None, result.reason
    assert result.charset == "utf-8"
    text = result.article.text
    assert "Городской\ufffd совет Северной Заставы" in text
    assert "администрации\ufffd" in text
    assert result.article.title == "Ремонт моста" and result.article.language == "ru"
    source = "header" if declared else "meta"
    assert result.warnings == (f"3 invalid UTF-8 sequence(s) replaced; kept the {source} charset",)


def test_decode_keeps_declared_utf8_and_counts_only_the_bad_bytes() -> None:
    body = _with_bad_bytes(
        "<p>“Grüße”, said the café’s owner.</p>\ufffd".encode(), after=[b"<p>", b"owner"]
    )
    decoded = decode_html(body, declared="UTF8")  # any label of UTF-8
    # The page's own U+FFFD is not counted as a bad byte.
    assert decoded.text == "<p>\ufffd“Grüße”, said the café’s owner\ufffd.</p>\ufffd"
    assert decoded.charset == "utf-8"
    assert decoded.warnings == ("2 invalid UTF-8 sequence(s) replaced; kept the header charset",)


def test_legacy_page_declared_utf8_is_still_redecoded() -> None:
    # Many invalid sequences and no valid multi-byte character: the bytes are not UTF-8, whatever
    # the header says (one invalid sequence per accented letter of a windows-1252 page).
    text = "Les élèves ont présenté à l'école une pétition très détaillée, dit-elle."
    decoded = decode_html(f"<p>{text}</p>".encode("cp1252"), declared="utf-8")
    # Which legacy charset is the guesser's call on so short a text; none of them loses a letter.
    assert decoded.charset != "utf-8" and "\ufffd" not in decoded.text
    assert "présenté" in decoded.text and "détaillée" in decoded.text
    assert "header charset 'utf-8' is wrong: the bytes are not UTF-8" in decoded.warnings


# --- failure reasons ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason", "detail"),
    [
        ("no_text.html", "no_text", "no main text"),
        ("too_short.html", "too_short", "< 200"),
        ("paywall_jsonld.html", "paywall_suspected", "isAccessibleForFree=false"),
        ("paywall_truncated.html", "paywall_suspected", "subscription prompt"),
    ],
)
def test_failure_reasons(name: str, reason: str, detail: str) -> None:
    result = run(name)
    assert not result.ok
    assert (result.reason, detail in (result.detail or "")) == (reason, True), result.detail


def test_paywalled_page_keeps_what_was_extracted_for_inspection() -> None:
    result = run("paywall_truncated.html")
    assert result.reason == "paywall_suspected"
    assert result.article is not None and "cracked sill beam" in result.article.text


# Pages that mark up a whole article for subscribers (issue 20): 8 of 181 real pages with 368 to
# 1,300 words of text were lost as paywall_suspected. The text is kept and flagged.
@pytest.mark.parametrize(
    ("name", "signal"),
    [
        ("paywall_full_jsonld.html", "isAccessibleForFree=false"),
        ("paywall_full_prompt.html", "subscription prompt"),
    ],
)
def test_paywall_markup_around_a_full_text_keeps_the_article_flagged(
    name: str, signal: str
) -> None:
    result = run(name)
    assert result.ok, (result.reason, result.detail)
    art = result.article
    assert art.paywall_suspected is True
    assert art.word_count >= Settings().paywall_teaser_words
    assert "the regional council to approve a rise" in art.text  # the eighth of ten paragraphs
    assert any(w.startswith("paywall markup around") and signal in w for w in result.warnings)


def test_paywall_teaser_fails_with_its_word_count() -> None:
    result = run("paywall_teaser_element.html")
    assert result.reason == "paywall_suspected"
    assert "paywall element" in result.detail and "a teaser" in result.detail
    assert f"< {Settings().paywall_teaser_words}" in result.detail
    # What there was is kept for inspection; it is a failure, not a flagged article.
    assert result.article is not None and not result.article.paywall_suspected
    assert "north pier" in result.article.text


def test_page_without_paywall_markup_is_not_flagged() -> None:
    result = run("full_article.html")
    assert result.ok and result.article.paywall_suspected is False


def test_teaser_word_count_is_the_setting_through_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = (FIXTURES / "paywall_full_jsonld.html").read_bytes()
    words = run("paywall_full_jsonld.html").article.word_count
    monkeypatch.setenv("MEDIAMON_PAYWALL_TEASER_WORDS", str(words + 1))
    job = ExtractJob(body, PAGE_URL, "text/html", FETCHED)
    with ExtractionWorker.from_settings(Settings()) as worker:
        stricter = worker.extract(job)
    assert stricter.reason == "paywall_suspected"
    assert f"{words} words < {words + 1}" in (stricter.detail or "")
    monkeypatch.setenv("MEDIAMON_PAYWALL_TEASER_WORDS", str(words))
    with ExtractionWorker.from_settings(Settings()) as worker:
        kept = worker.extract(job)
    assert kept.ok and kept.article.paywall_suspected


def test_extract_stage_stores_the_paywall_flag(home: Path) -> None:
    engine = get_engine()
    upgrade(engine)
    fixtures = ["paywall_full_jsonld.html", "paywall_teaser_element.html", "full_article.html"]
    with serving(FIXTURES, 0) as base:
        ids = _seed(engine, base, fixtures, "Harbour Gazette")
        assert flow.fetch_articles("run-1")["fetched"] == 3
    flow.extract_articles("run-1")
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(article))}
    full, teaser, plain = (rows[i] for i in ids)
    assert (full.status, full.paywall_suspected, full.failure_reason) == ("extracted", True, None)
    assert any("paywall markup" in w for w in full.extract_warnings)
    assert (teaser.status, teaser.failure_reason, teaser.paywall_suspected) == (
        "extract_failed",
        "paywall_suspected",
        False,
    )
    assert (plain.status, plain.paywall_suspected) == ("extracted", False)


def test_cli_extract_json_carries_the_paywall_flag(home: Path) -> None:
    inputs = [str(FIXTURES / "paywall_full_prompt.html"), str(FIXTURES / "full_article.html")]
    result = CliRunner().invoke(app, ["extract", *inputs, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [(r["status"], r["paywall_suspected"]) for r in rows] == [
        ("extracted", True),
        ("extracted", False),
    ]


# Each _TRUNCATION alternative, in odd cases and with the two Turkish i's that re.IGNORECASE
# takes for 'i' (the substring test in front of the regex must not rule these out), and near
# misses that must stay unflagged.
TRUNCATION_TAILS = [
    ("Subscribe now to continue reading this story.", True),
    ("SIGN IN to keep reading.", True),
    ("Please LOG \u0130N to read more of it.", True),
    ("Please s\u0131gn \u0130n to read the rest.", True),
    ("Register today to read on.", True),
    ("Continue reading with a subscription", True),
    ("continue reading: sign in below", True),
    ("This article is available to paying subscribers", True),
    ("Reserved for our members", True),
    ("only for Members", True),
    ("Click here TO READ THE FULL ARTICLE", True),
    ("to read the rest of the story", True),
    ("The members of the council met on Tuesday.", False),
    ("Readers who subscribe get a newsletter.", False),
    ("The ferry registered a delay of two hours.", False),
    ("Nothing to see here, the lock reopened.", False),
]


@pytest.mark.parametrize(("tail", "flagged"), TRUNCATION_TAILS)
def test_paywall_prompt_check_agrees_with_the_regex(tail: str, flagged: bool) -> None:
    # Long enough that only the prompt check can fire (the element check is for short texts).
    text = "The lock gates were tested twice before the river traffic resumed. " * 30 + tail
    tree = lxml.html.fromstring("<html><body><p>x</p></body></html>")
    found = _paywall(tree, _signals(tree), text)
    match = _TRUNCATION.search(text[-400:])
    expected = None if match is None else f"text ends with a subscription prompt: {match[0]!r}"
    assert found == expected
    assert (found is not None) == flagged


def test_page_signals_in_document_order() -> None:
    page = (
        '<html lang="fr-CA"><head>'
        '<meta http-equiv="Content-Language" content="de">'
        '<meta property="article:published_time">'  # no content: skipped
        '<link rel="canonical">'  # no href: the next one counts
        '<link rel="canonical" href=" /story/7 ">'
        '<meta name="DC.date.issued" content="2026-05-01">'
        '<script type="application/ld+json">'
        '{"@graph": [{"datePublished": "2026-04-01", "inLanguage": "es",'
        ' "isAccessibleForFree": "False"}]}</script>'
        "</head><body>"
        '<link rel="canonical" href="/not-in-head">'
        '<time pubdate datetime="2026-03-01T10:00">March</time>'
        '<time datetime="2026-02-01">not a publication date</time>'
        '<meta itemprop="datePublished" content="2026-01-01">'
        '<meta property="og:locale" content="en_GB">'
        "<p>Some words.</p></body></html>"
    )
    signals = _signals(lxml.html.fromstring(page))
    assert signals.dates == ("2026-05-01", "2026-03-01T10:00", "2026-01-01", "2026-04-01")
    assert signals.languages == ("fr-CA", "de", "en_GB", "es")
    assert signals.canonical == "/story/7"
    assert signals.free is False


def test_word_count_and_content_hash_of_the_extracted_text() -> None:
    article = run("full_article.html").article
    assert article is not None
    assert article.word_count == len(article.text.split())
    assert article.content_hash == content_hash(article.text)
    assert content_hash("  Lock\tREOPENS\n today ") == content_hash("lock reopens today")


def test_words_and_hash_agree_with_split_and_join_on_any_whitespace() -> None:
    """The shortcut for single-spaced ASCII text gives what the definition gives, on texts
    mixing every kind of whitespace str.split() knows, and on trafilatura's own output."""
    spaces = [" ", "\n", "  ", "\n\n", " \n", "\t", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f",
              "\x85", "\xa0", "\u2009", "\u3000"]  # fmt: skip
    tokens = ["Lock", "REOPENS", "today", "caf\u00e9", "42", "-", "x"]
    rng = random.Random(4)
    texts = ["", " ", "\n", "one", "one two", "one\ntwo", " one", "one ", "one  two"]
    for _ in range(3000):
        parts = [rng.choice(tokens) for _ in range(rng.randint(1, 8))]
        seps = [rng.choice(spaces[:2] if rng.random() < 0.5 else spaces) for _ in parts]
        text = "".join(p + s for p, s in zip(parts, seps, strict=True))
        texts.append(text if rng.random() < 0.5 else text.strip())
    texts += [r.article.text for r in (run(p.name) for p in FIXTURES.glob("*.html")) if r.article]
    shortcut = 0
    for text in texts:
        words = text.split()
        expected = hashlib.sha256(" ".join(words).lower().encode()).hexdigest()
        assert words_and_hash(text) == (len(words), expected), repr(text)
        shortcut += text.isascii() and "  " not in text.replace("\n", " ") and text == text.strip()
    assert shortcut >= 300  # the shortcut itself was exercised


def test_language_detection_reads_only_the_first_words() -> None:
    french = "le la les de des et est dans pour que qui une sur avec " * 40  # 560 words
    english = "the and of to in is that for with on was as by at from " * 200
    assert detect_language(french + english) == "fr"
    assert detect_language(english + french) == "en"


def test_worker_results_cross_the_pipe_intact() -> None:
    result = run("full_article.html")
    assert result.ok and result.warnings is not None
    assert _unpack(_pack(result)) == result
    assert result.article is not None and result.article.published_at is not None
    # Datetimes cross as ISO text: microseconds and the offset must survive.
    precise = replace(
        result,
        article=replace(
            result.article,
            published_at=datetime(
                2026, 5, 12, 5, 45, 1, 123456, tzinfo=timezone(timedelta(hours=2))
            ),
        ),
    )
    assert _unpack(_pack(precise)) == precise
    failure = run("no_text.html")
    assert _unpack(_pack(failure)) == failure
    assert _unpack_many([_pack(result), _pack(failure)]) == [result, failure]
    for garbage in (None, (), ("too", "short"), ((1, 2), None, None, (), None), 42):
        assert _unpack(garbage) is None
        assert _unpack_many([_pack(result), garbage]) is None
    assert _unpack_many(_pack(result)) is None  # one result is not a list of them


def test_not_html() -> None:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"
    wrong_type = extract(pdf, url=PAGE_URL, content_type="application/pdf", fetched_at=FETCHED)
    assert (wrong_type.reason, wrong_type.detail) == ("not_html", "content type 'application/pdf'")
    # No Content-Type at all and no markup: sniffed, not parsed.
    unlabelled = extract(pdf, url=PAGE_URL, content_type="", fetched_at=FETCHED)
    assert unlabelled.reason == "not_html"


# --- bounded extraction ---------------------------------------------------------------------


def slow_page(megabytes: int) -> bytes:
    """Deeply nested markup with text at the bottom of every nest: slow for trafilatura."""
    depth = 100
    block = (
        "<div><span>" * depth
        + "<p>"
        + "Nested words keep the extractor busy for a long while. " * 3
        + "</p>"
        + "</span></div>" * depth
    ).encode()
    count = megabytes * 1024 * 1024 // len(block) + 1
    return b"<html><head><title>Slow</title></head><body>" + block * count + b"</body></html>"


def test_slow_page_is_killed_at_the_time_limit_and_the_batch_goes_on() -> None:
    body = slow_page(20)
    assert len(body) > 20 * 1024 * 1024
    good = (FIXTURES / "full_article.html").read_bytes()
    limit = 3.0
    # A tag cap above the page's size, so the time limit (not the cap) has to stop it.
    with ExtractionWorker(timeout=limit, min_chars=200, max_tags=10**9) as worker:
        first = worker.extract(ExtractJob(good, PAGE_URL, "text/html", FETCHED))
        assert first.ok
        pid = worker.pid
        started = time.monotonic()
        result = worker.extract(ExtractJob(body, PAGE_URL, "text/html", FETCHED))
        elapsed = time.monotonic() - started
        assert result.reason == "extraction_timeout", result
        # The limit plus sending 20 MB down a pipe and a SIGKILL; never the minutes it would take.
        assert limit <= elapsed < limit + 3, elapsed
        assert worker.restarts == 1 and worker.pid is None
        after = worker.extract(ExtractJob(good, PAGE_URL, "text/html", FETCHED))
        assert after.ok and after.article == first.article
        assert worker.pid not in (None, pid)
        # Streamed with pages queued behind it: those are sent again to the new worker and
        # every answer comes back in order.
        names = ["full_article.html", "slow", "legacy_cp1251.html", "too_short.html"]
        jobs = [
            ExtractJob(body if n == "slow" else (FIXTURES / n).read_bytes(), PAGE_URL, "", FETCHED)
            for n in names
        ]
        reasons = [r.reason for r in worker.extract_many(jobs)]
        assert reasons == [None, "extraction_timeout", None, "too_short"]
        assert worker.restarts == 2


def test_answers_held_in_the_worker_survive_a_timeout_behind_them() -> None:
    # The child sends answers a few at a time (FLUSH_SECONDS): the pages it had finished but
    # not yet answered when a later page ran out of time go to the new child with the pages
    # queued after the culprit, and every answer comes back in order.
    slow = slow_page(20)[:200_000]  # several seconds of work, small enough to queue behind
    good = (FIXTURES / "full_article.html").read_bytes()
    short = (FIXTURES / "too_short.html").read_bytes()
    limit = 1.0
    with ExtractionWorker(timeout=limit, min_chars=200, max_tags=10**9) as worker:
        warm = worker.extract(ExtractJob(good, PAGE_URL, "text/html", FETCHED))
        bodies = [good, short, good, slow, good, short]
        started = time.monotonic()
        results = list(
            worker.extract_many(ExtractJob(b, PAGE_URL, "text/html", FETCHED) for b in bodies)
        )
        elapsed = time.monotonic() - started
        print(f"pages sent again after the kill: {worker.resent}; {elapsed:.2f}s")
        assert worker.restarts == 1
        assert worker.resent >= 2  # at least the two queued after the culprit
    reasons = [r.reason for r in results]
    assert reasons == [None, "too_short", None, "extraction_timeout", None, "too_short"]
    assert results[0].article == results[2].article == results[4].article == warm.article
    assert limit <= elapsed < limit + 5, elapsed


def test_worker_crash_is_recorded_and_the_next_page_works() -> None:
    good = (FIXTURES / "full_article.html").read_bytes()
    with ExtractionWorker(timeout=20, min_chars=200, max_tags=200_000) as worker:
        assert worker.extract(ExtractJob(good, PAGE_URL, "text/html", FETCHED)).ok
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)  # as the OOM killer or a segfault in lxml would
        crashed = worker.extract(ExtractJob(good, PAGE_URL, "text/html", FETCHED))
        assert crashed.reason == "extraction_error" and "died" in (crashed.detail or "")
        assert worker.extract(ExtractJob(good, PAGE_URL, "text/html", FETCHED)).ok
        assert worker.restarts == 1


def test_huge_tree_is_cut_off_before_parsing() -> None:
    body = slow_page(20)
    with ExtractionWorker(timeout=20, min_chars=200, max_tags=200_000) as worker:
        started = time.monotonic()
        result = worker.extract(ExtractJob(body, PAGE_URL, "text/html", FETCHED))
        elapsed = time.monotonic() - started
        assert worker.pid is None  # never even started a process for it
    assert result.reason == "extraction_timeout"
    assert "tree too large" in (result.detail or "")
    assert elapsed < 1.0


# --- CLI ------------------------------------------------------------------------------------

CLI_KEYS = [
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
    "paywall_suspected",
]


def test_cli_extract_json_one_object_per_input(
    home: Path, samples_base_url: str, tmp_path: Path
) -> None:
    gz = tmp_path / "full_article.html.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "full_article.html").read_bytes()))
    page_url = f"{samples_base_url}/eastern-wire/2026/09/korvanets-detentions.html"
    inputs = [
        str(gz),
        str(FIXTURES / "legacy_cp1251.html"),
        str(FIXTURES / "too_short.html"),
        page_url,
        f"{samples_base_url}/no/such/page.html",
    ]
    result = CliRunner().invoke(app, ["extract", *inputs, "--format", "json"])
    # The missing page is a fetch failure: its record on stdout, one line on stderr, exit 1.
    assert result.exit_code == 1, result.output
    assert len(result.stderr.splitlines()) == 1 and "http_404" in result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(inputs)
    rows = [json.loads(line) for line in lines]
    for row, arg in zip(rows, inputs, strict=True):
        assert list(row) == CLI_KEYS
        assert row["input"] == arg
    gz_row, cp1251_row, short_row, url_row, missing_row = rows
    assert (gz_row["status"], gz_row["reason"]) == ("extracted", None)
    assert gz_row["title"] == "Dunmere lock reopens after six weeks"
    assert gz_row["published_at"] == "2026-05-12T05:45:00+00:00"
    assert gz_row["authors"] == "Marta Kollen" and gz_row["language"] == "en"
    assert gz_row["canonical_url"] == "https://news.example.org/2026/05/dunmere-lock-reopens"
    assert gz_row["word_count"] == len(gz_row["text"].split())
    assert "Городской совет" in cp1251_row["text"]
    assert (short_row["status"], short_row["reason"]) == ("extract_failed", "too_short")
    assert url_row["status"] == "extracted"
    assert url_row["title"] == "Rights group counts 312 detained at Korvanets draft protest"
    assert url_row["canonical_url"] == page_url
    assert (missing_row["status"], missing_row["reason"]) == ("fetch_failed", "http_404")


# --- stage and re-extraction ----------------------------------------------------------------

SAMPLE_PAGES = [
    "eastern-wire/2026/09/korvanets-detentions.html",
    "eastern-wire/2026/09/varnia-farmland-landmines.html",
    "harbor-gazette/2026/09/council-adopts-resolution-4417.html",
]


def _seed(engine: sa.Engine, base: str, paths: list[str], source_name: str) -> list[str]:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        source_id, feed_id = add_source_and_feed(
            conn, name=source_name, feed_url=f"{base}/feed-{source_name}.rss", now=now
        )
        ids = []
        for path in paths:
            key = hashlib.sha256(f"{base}/{path}".encode()).hexdigest()
            ids.append(key)
            conn.execute(
                sa.insert(article).values(
                    id=key,
                    url=f"{base}/{path}",
                    source_id=source_id,
                    feed_id=feed_id,
                    discovered_at=now,
                    discovered_run_id="seed",
                    status="discovered",
                    attempts=0,
                    updated_at=now,
                )
            )
    return ids


def _snapshot(engine: sa.Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        return {r.id: tuple(r) for r in conn.execute(sa.select(article))}


def test_reextract_from_archive_in_place_and_idempotent(home: Path) -> None:
    check_reextract(get_engine())


def check_reextract(engine: sa.Engine) -> None:
    """Fetch, extract, then re-extract after a version change (SQLite here, PostgreSQL in
    tests/integration/test_extract_postgres.py)."""
    upgrade(engine)
    # A server of our own, stopped before re-extraction: nothing can be refetched.
    with serving(SAMPLES / "site", 0) as base:
        ids = _seed(engine, base, SAMPLE_PAGES, "Eastern Wire")
        other = _seed(
            engine,
            base,
            ["meridian-post/2026/09/ostrel-contract-recruitment.html"],
            "Meridian Post",
        )
        assert flow.fetch_articles("run-1")["fetched"] == 4
    counts = flow.extract_articles("run-1")
    assert counts["extracted"] == 4 and counts["worker_restarts"] == 0
    before = _snapshot(engine)
    # Nothing is stale yet: re-extraction is a no-op.
    assert flow.reextract("rx-0")["reextracted"] == 0
    assert _snapshot(engine) == before

    # Pretend an older extractor made these rows; one moved on to dedupe with the same text,
    # one with a text that has since changed.
    with engine.begin() as conn:
        conn.execute(
            sa.update(article).values(extractor_version="trafilatura-0.0+mm0", title="old")
        )
        conn.execute(sa.update(article).where(article.c.id == ids[0]).values(status="deduped"))
        conn.execute(
            sa.update(article)
            .where(article.c.id == ids[1])
            .values(status="deduped", content_hash="0" * 64)
        )
    runner = CliRunner()
    out = runner.invoke(app, ["reextract", "--since", "2999-01-01", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["reextracted"] == 0
    out = runner.invoke(app, ["reextract", "--source", "Meridian Post", "--format", "json"])
    assert json.loads(out.stdout)["reextracted"] == 1
    counts = flow.reextract("rx-1")
    assert counts["reextracted"] == 3 and counts["extracted"] == 3
    after = _snapshot(engine)
    assert set(after) == set(before)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(article))}
    for key in [*ids, *other]:
        row = rows[key]
        assert row.extractor_version == EXTRACTOR_VERSION
        assert row.title != "old" and row.title == before[key][article.c.keys().index("title")]
        assert row.text == before[key][article.c.keys().index("text")]
    assert rows[ids[0]].status == "deduped"  # same text: downstream work still holds
    assert rows[ids[1]].status == "extracted"  # text changed: back to dedupe
    assert rows[ids[2]].status == "extracted"
    # Second run: nothing stale, nothing changes.
    settled = _snapshot(engine)
    assert flow.reextract("rx-2")["reextracted"] == 0
    assert _snapshot(engine) == settled


def test_extract_stage_records_reasons_warnings_and_missing_archive(home: Path) -> None:
    engine = get_engine()
    upgrade(engine)
    fixtures = ["date_year_3000.html", "paywall_jsonld.html", "no_text.html", "full_article.html"]
    with serving(FIXTURES, 0) as base:
        ids = _seed(engine, base, fixtures, "Dunmere Daily")
        assert flow.fetch_articles("run-1")["fetched"] == 4
    # Lose one archived body: the row fails with a reason instead of stopping the batch.
    with engine.connect() as conn:
        lost = conn.execute(sa.select(article.c.raw_key).where(article.c.id == ids[3])).scalar_one()
    for path in (home / "raw").rglob(f"{lost}.gz"):
        path.unlink()
    counts = flow.extract_articles("run-1")
    assert counts["reasons"] == {"paywall_suspected": 1, "no_text": 1, "archive_missing": 1}
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(article))}
    year3000 = rows[ids[0]]
    assert (year3000.status, year3000.published_at) == ("extracted", None)
    assert any("3000-01-01" in w for w in year3000.extract_warnings)
    assert year3000.charset == "utf-8" and year3000.declared_charset == "utf-8"  # server says
    assert (rows[ids[1]].status, rows[ids[1]].failure_reason) == (
        "extract_failed",
        "paywall_suspected",
    )
    assert rows[ids[1]].text  # kept for inspection
    assert (rows[ids[2]].status, rows[ids[2]].failure_reason) == ("extract_failed", "no_text")
    assert (rows[ids[3]].status, rows[ids[3]].failure_reason) == (
        "extract_failed",
        "archive_missing",
    )
    report = demo_report(engine)
    print("\n" + report)
    lines = [line.split() for line in report.splitlines()]
    assert ["extracted", "1"] in lines and ["extract_failed", "3"] in lines
    for reason in ("paywall_suspected", "no_text", "archive_missing"):
        assert ["extract_failed", reason, "1"] in lines
    assert "articles with extraction warnings: 1" in report
    for row in rows.values():
        assert row.extractor_version == EXTRACTOR_VERSION
        assert row.extracted_at is not None
        assert abs(row.extracted_at.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=5)


# --- metadata fast path: identical to trafilatura's functions --------------------------------

_EQ_URL = "https://www.harbour-notes.example/2026/06/story"
_EQ_WORDS = [
    *("the", "ferry", "council", "river", "quay", "harbour", "lantern", "timber", "freight"),
    *("morning", "tide", "ledger", "crane", "dockers", "inspector", "weather", "bridge"),
    *("mooring", "schedule", "rope", "canal", "barge", "warden", "evening"),
]


def _eq_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_EQ_WORDS) for _ in range(words)).capitalize() + "."


def _eq_jsonld(rng: random.Random) -> str:
    """A JSON-LD (or settings+json) script in one of the shapes pages use, some broken."""
    person = rng.choice(
        [
            '"Ilsa Varnholt"',
            '{"@type": "Person", "name": "Odo Brenk"}',
            '{"@type": ["Person"], "name": ["Ada Quill", "Per Lund"]}',
            '{"@type": "Person", "givenName": "Mira", "familyName": "Tosk"}',
            '{"@type": "Organization", "name": "Harbour Desk"}',
            '{"name": {"name": "Nested Name"}}',
            '[{"@type": "Person", "name": "Kai Dorn"}, "Lena Frisk"]',
            '"[{\\"name\\": \\"Quoted Json\\"}]"',
            '"https://example.org/staff/anon"',
            '"solo"',
            '{"@type": "Person", "name": "R\\u00e9mi Fa\\u00efd"}',
        ]
    )
    headline = rng.choice(
        ['"Quay cranes return"', '"Tide &amp; <b>time</b>"', '""', '["list", "headline"]', "7"]
    )
    kind = rng.choice(
        ['"NewsArticle"', '"Article"', '["NewsArticle", "WebPage"]', '"BlogPosting"', '"Thing"']
    )
    publisher = rng.choice(
        [
            '{"@type": "Organization", "name": "Harbour Notes"}',
            '{"name": "HN"}',
            '"Plain Publisher"',
            '{"name": "https://harbour-notes.example"}',
        ]
    )
    context = rng.choice(['"https://schema.org"', '"http://schema.org/"', '"https://other.org"'])
    article = (
        f'{{"@context": {context}, "@type": {kind}, "headline": {headline}, '
        f'"name": "Named article", "author": {person}, "publisher": {publisher}, '
        f'"articleSection": "Port", "datePublished": "2026-05-0{rng.randint(1, 9)}"}}'
    )
    body = rng.choice(
        [
            article,
            f'{{"@context": {context}, "@graph": [{article}, '
            '{"@type": "WebSite", "name": "Harbour Notes Online"}, '
            '{"@type": "Person", "name": "Graph Person"}]}',
            f"[{article}, "
            '{"@context": "https://schema.org", "@type": "NewsMediaOrganization", '
            '"legalName": "Harbour Notes Ltd"}]',
            '{"@context": "https://schema.org", "@type": "LiveBlogPosting", '
            f'"liveBlogUpdate": [{article}]}}',
            # Malformed: trafilatura falls back to regular expressions on the text.
            article[:-1] + ",}",
            '{"@type": "NewsArticle", "author": {"@type": "Person", "name": "Broken Json"'
            ', "publisher": {"name": "Cut Short"}, "headline": "Half a headline"',
            "not json at all",
            "",
            '{"@context": "https://schema.org", "@type": "NewsArticle", "author": null}',
        ]
    )
    kind_attr = rng.choice(["application/ld+json"] * 4 + ["application/settings+json"])
    return f'<script type="{kind_attr}">{body}</script>'


def _eq_meta(rng: random.Random) -> str:
    """One <meta> (or a <title>) in the forms trafilatura reads, with edge cases."""
    name = rng.choice(["Ilsa Varnholt", "odo brenk", "solo", "By Mira Tosk, Harbour Desk"])
    return rng.choice(
        [
            f'<meta property="og:title" content="Og {_EQ_WORDS[rng.randrange(24)]} title">',
            '<meta property="og:title" content="   ">',
            '<meta property="OG:title" content="Upper og title">',
            '<meta name="twitter:title" content="Twitter title">',
            '<meta name="title" content="Meta &lt;b&gt;title&lt;/b&gt;">',
            '<meta itemprop="headline" content="Itemprop headline">',
            f'<meta name="dc.creator" content="{name}">',
            f'<meta name="Author" content="{name}">',
            f'<meta property="article:author" content="{name}">',
            '<meta property="article:author" content="https://facebook.example/ilsa">',
            f'<meta property="og:author" content="{name}">',
            f'<meta itemprop="author" content="{name}">',
            '<meta name="author" content="Kai Dorn; Lena Frisk and Per Lund">',
            '<meta name="author" content="<span>Tagged Writer</span>">',
            '<meta name="application-name" content="harbour app">',
            '<meta name="twitter:site" content="@harbournotes">',
            '<meta name="twitter:app:name:iphone" content="Harbour iPhone">',
            '<meta property="og:site_name" content="harbour notes">',
            '<meta property="article:publisher" content="Harbour Publisher">',
            '<meta name="publisher" content="harbour-notes.example">',
            '<meta name="description" content="A description">',
            '<meta property="article:tag" content="port, river">',
            '<meta name="author" content="">',
            '<meta charset="utf-8">',
            '<meta property="og:site_name">',
            '<meta data-x="1" content="no known attribute">',
            rng.choice(
                [
                    "<title>Quay cranes return | Harbour Notes</title>",
                    "<title>Quay cranes return - harbour-notes.example</title>",
                    "<title>harbour.example » Tide tables</title>",
                    "<title>Plain title without separator</title>",
                ]
            ),
        ]
    )


def _eq_page(rng: random.Random, i: int) -> bytes:
    """A generated page: a random head of meta tags and JSON-LD, a body with 0-2 <h1>."""
    head = "".join(_eq_meta(rng) for _ in range(rng.randint(0, 8)))
    head += "".join(_eq_jsonld(rng) for _ in range(rng.choice([0, 0, 1, 1, 2])))
    h1 = rng.choice(["", "<h1>Quay cranes return</h1>", "<h1> </h1>", "<h1>One</h1><h1>Two</h1>"])
    byline = rng.choice(
        ["", '<p class="byline">By Ilsa Varnholt</p>', '<span class="author">Odo Brenk</span>']
    )
    extra = rng.choice(["", "<h2>Second heading</h2>", "<svg><title>icon.svg</title></svg>"])
    paras = "".join(f"<p>{_eq_text(rng, rng.randint(30, 60))}</p>" for _ in range(5))
    body = f"<article>{h1}{byline}{extra}{paras}</article>"
    shape = i % 20
    if shape == 0:  # no <html>/<head> markup: the tree's root may be another element
        html = f"<div>{head}{body}</div>"
    elif shape == 1:  # a second <head> in the body
        html = f"<html><head>{head}</head><body><head>{_eq_meta(rng)}</head>{body}</body></html>"
    elif shape == 2:  # no head element at all
        html = f"<html><body>{body}</body></html>"
    elif shape in (3, 4):  # the site name can only come from the first <title> in <head>
        titles = "".join(
            f"<title>Story {rng.randrange(9)} | site{rng.randrange(9)}.example</title>"
            for _ in range(rng.randint(1, 3))
        )
        html = (
            f"<html><head>{titles}</head><body><svg><title>x | icon.example</title></svg>"
            f"{body}</body></html>"
        )
    else:
        html = f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
    return html.encode()


def _eq_pages() -> list[tuple[str, bytes]]:
    rng = random.Random(20261130)
    pages = [
        (f"https://samples.example/{p.relative_to(SAMPLES)}", p.read_bytes())
        for p in sorted((SAMPLES / "site").rglob("*.html"))
    ]
    pages += [(PAGE_URL, p.read_bytes()) for p in sorted(FIXTURES.glob("*.html"))]
    pages += [(_EQ_URL, _eq_page(rng, i)) for i in range(400)]
    return pages


def _outcome(call: Any, *args: Any) -> tuple[str, Any]:
    """What ``call(*args)`` returned, or the type and message of what it raised."""
    try:
        return ("returned", call(*args))
    except Exception as exc:  # noqa: BLE001 - the reference raises on some JSON-LD: so must we
        return ("raised", (type(exc), str(exc)))


def _extract_page(url: str, body: bytes) -> ExtractResult:
    return extract(body, url=url, content_type="text/html", fetched_at=FETCHED)


def _non_string_metadata(tree: Any) -> bool:
    """Whether trafilatura's own readers give this page a title or site name that is not a
    string (a JSON-LD list or number): the case that used to crash extraction."""
    meta = examine_meta(tree)
    with contextlib.suppress(Exception):
        meta = extract_meta_json(tree, meta)
    return any(v is not None and not isinstance(v, str) for v in (meta.title, meta.sitename))


def test_metadata_fast_path_matches_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole ExtractResult (and the metadata itself, even where no article comes out) of the
    fast path against trafilatura's own functions (``_metadata_by_trafilatura``, the former
    implementation, still used for odd trees)."""
    pages = _eq_pages()
    counts = {
        "samples": 0,
        "fixtures": 0,
        "generated": 0,
        "with_article": 0,
        "odd_tree": 0,
        "non_string": 0,
    }
    differences = []
    fast = extract_module._metadata
    reference_metadata = extract_module._metadata_by_trafilatura
    for url, body in pages:
        kind = (
            "samples" if url.startswith("https://samples")
            else "generated" if url == _EQ_URL
            else "fixtures"
        )  # fmt: skip
        counts[kind] += 1
        new = _outcome(_extract_page, url, body)
        monkeypatch.setattr(extract_module, "_metadata", lambda tree, _s: reference_metadata(tree))
        old = _outcome(_extract_page, url, body)
        monkeypatch.setattr(extract_module, "_metadata", fast)
        tree = load_html(decode_html(body).text)
        if tree is not None:
            signals = _signals(tree)
            counts["odd_tree"] += not signals.simple
            counts["non_string"] += _non_string_metadata(tree)
            if _outcome(fast, tree, signals) != _outcome(reference_metadata, tree):
                differences.append((url, body[:200], "metadata"))
        counts["with_article"] += new[0] == "returned" and new[1].article is not None
        if new != old:
            differences.append((url, body[:200], "extract"))
    print(f"metadata equivalence: {counts}")
    assert counts["samples"] >= 30 and counts["fixtures"] >= 10 and counts["generated"] == 400
    assert counts["with_article"] >= 300 and counts["odd_tree"] >= 15  # both paths exercised
    assert differences == []
    assert counts["non_string"] >= 1  # the non-string JSON-LD case is exercised


def test_non_string_json_ld_metadata_becomes_text() -> None:
    ld = (
        '{"@context": "https://schema.org", "@type": "NewsArticle", '
        '"headline": ["Ferry", "timetable"], "publisher": {"name": ["Harbour", "Notes"]}}'
    )
    body = (
        f'<html><head><script type="application/ld+json">{ld}</script></head><body><article>'
        + "".join(
            f"<p>Paragraph {n}: the ferry timetable changes next week after the council vote on "
            f"fares, and crossing number {n} moves to a later slot.</p>"
            for n in range(8)
        )
        + "</article></body></html>"
    ).encode()
    result = extract(body, url=PAGE_URL, content_type="text/html", fetched_at=FETCHED)
    assert result.article is not None, result
    assert isinstance(result.article.title, str) and "Ferry" in result.article.title
    assert result.article.sitename is None or isinstance(result.article.sitename, str)


def test_reset_caches_empties_trafilatura_caches_but_keeps_the_justext_stoplist() -> None:
    import trafilatura.external
    import trafilatura.meta
    from justext.core import define_stoplist
    from trafilatura.utils import trim

    stoplist = trafilatura.external.JT_STOPLIST or trafilatura.external.jt_stoplist_init()
    define_stoplist(stoplist)
    kept = define_stoplist.cache_info().currsize
    trim("  a   page's   words  ")
    assert trim.cache_info().currsize > 0
    reset_caches()
    assert trim.cache_info().currsize == 0  # trafilatura's reset ran
    assert define_stoplist.cache_info().currsize == kept >= 1
    hits = define_stoplist.cache_info().hits
    define_stoplist(stoplist)
    assert define_stoplist.cache_info().hits == hits + 1  # no rebuild
    assert trafilatura.meta.define_stoplist is define_stoplist  # the stand-in is gone


def _odd_parse_pages() -> list[bytes]:
    """Pages that must take load_html's own path in parse_html, or be rejected like it."""
    article = "<p>" + "Words of a plain paragraph for the parser. " * 20 + "</p>"
    full = f"<html><head><title>T</title></head><body>{article}</body></html>"
    return [
        ("<!doctype html>" + full).encode(),
        full.replace("<p>", "<p>\x00\x07 \x1f", 1).encode(),  # control characters
        full.replace("<p>", "<p>caf\u00e9 \ufffe \uffff", 1).encode(),  # non-characters
        full.replace("<p>", "<p>caf\u00e9 \ufffd", 1).encode(),  # a replacement character
        codecs.BOM_UTF8 + full.encode(),
        (
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"'
            ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n' + full
        ).encode(),
        ("<!DOCTYPE html/>\n" + full).encode(),  # a self-closing doctype
        full.replace("<html>", "<html lang='en'/>\n", 1).encode(),  # a self-closing <html/>
        ('<?xml version="1.0" encoding="utf-8"?>\n' + full).encode(),
        full.replace("<html>", "<html><meta charset='windows-1251'>", 1).encode(),
        # UTF-8 text under a meta that names a legacy charset: lxml must not switch to it
        full.replace("<html>", "<html><head><meta charset='windows-1251'></head>", 1)
        .replace("Words", "\u0416\u0443\u0440\u043d\u0430\u043b \u2014 caf\u00e9")
        .encode(),
        full.replace(
            "<html>",
            "<html><head><meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>",
            1,
        )
        .replace("Words", "\u201cna\u00efve\u201d \u0436")
        .encode(),
        b"<p>one block without the html tag</p>",  # load_html rejects this
        article.encode() + article.encode(),  # two blocks: kept
        "<div>\u0436\u0443\u0440\u043d\u0430\u043b</div>".encode("cp1251"),
        b"",
        b"   ",
    ]


def test_parse_html_builds_the_tree_load_html_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same tree (serialised) or same rejection as trafilatura's load_html on the decoded text,
    on every sample, fixture and generated page and on pages made to hit each of its repairs."""
    handed_over = []
    monkeypatch.setattr(
        extract_module, "load_html", lambda text: handed_over.append(text) or load_html(text)
    )
    bodies = [body for _, body in _eq_pages()] + _odd_parse_pages()
    differences = []
    for body in bodies:
        decoded = decode_html(body)
        ours, theirs = parse_html(decoded, body), load_html(decoded.text)
        if (ours is None) != (theirs is None) or (
            ours is not None
            and theirs is not None
            and lxml.html.tostring(ours) != lxml.html.tostring(theirs)
        ):
            differences.append(body[:120])
    assert differences == []
    # Both ways were taken: the bytes straight to lxml for most pages, load_html for the odd.
    assert 5 <= len(handed_over) <= len(bodies) - 400


def test_reader_comments_never_become_the_article() -> None:
    """A short item under a long comment thread is too_short, not an article made of comments.

    trafilatura with comments on (its default, and cheaper on link-heavy pages) separates
    comments from the text only on its main path; on a page this thin its fallbacks take the
    thread as the text, and the readers' figures would enter the claim ledger as the outlet's.
    """
    thread = "".join(
        f'<li class="comment"><div class="comment-author">Reader {i}</div><p>Someone at the'
        f" quay told me it was nearer {i * 100} boats, and nobody there believes the figure"
        " the authority put out this week.</p></li>"
        for i in range(1, 13)
    )
    html = (
        '<!doctype html><html lang="en"><head><title>Flood</title></head><body><main><article>'
        "<h1>Flood</h1><p>The council said on Monday evening that 40 families from the lower"
        " streets had been moved to the school gym after the river rose past the old flood"
        '  mark.</p></article><div id="comments"><h3>12 comments</h3><ol class="comment-list">'
        f"{thread}</ol></div></main></body></html>"
    ).encode()
    result = extract(html, url=PAGE_URL, content_type="text/html", fetched_at=FETCHED)
    assert result.reason == "too_short"
    assert result.article is None or "nobody there believes" not in result.article.text
