"""Resident memory of the extraction worker stays flat over thousands of pages."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import psutil

from pipeline.config import Settings
from pipeline.extract_worker import ExtractionWorker, ExtractJob

WORDS = [
    "council",
    "harbour",
    "minister",
    "said",
    "report",
    "river",
    "bridge",
    "vote",
    "budget",
    "army",
    "village",
    "talks",
    "grain",
    "strike",
    "court",
    "police",
    "agency",
    "figure",
    "week",
    "month",
    "officials",
    "claimed",
    "rejected",
    "estimate",
    "region",
    "port",
    "border",
    "convoy",
    "ceasefire",
    "detained",
    "protest",
    "election",
    "mayor",
    "engineers",
    "repairs",
]
BATCH = 200  # the pipeline's default batch size: end_batch() between batches
WARM_UP = 200
PAGES = 2000
MAX_GROWTH_MB = 50


SYLLABLES = ["var", "kel", "mor", "dra", "sko", "vic", "len", "tor", "ost", "rel", "ban", "iza"]


def made_up_name(rng: random.Random) -> str:
    """A capitalised invented word (letters only: trafilatura drops digits from author names)."""
    return "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))).capitalize()


def generated_page(rng: random.Random, n: int) -> tuple[str, bytes]:
    """A varied article page: own host, title, date, names and 6-14 paragraphs of made-up text."""
    host = f"outlet{n % 97}.example"
    # Invented tokens make every page's vocabulary partly new, as real news is.
    names = [made_up_name(rng) for _ in range(5)]
    paragraphs = []
    for _ in range(rng.randint(6, 14)):
        words = rng.choices(WORDS + names, k=rng.randint(30, 80))
        paragraphs.append("<p>" + " ".join(words).capitalize() + ".</p>")
    day = datetime(2026, rng.randint(1, 10), rng.randint(1, 28), rng.randint(0, 23), tzinfo=UTC)
    title = " ".join(rng.choices(WORDS + names, k=8)).capitalize()
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<link rel="canonical" href="https://{host}/story/{n}">'
        f'<meta property="article:published_time" content="{day.isoformat()}">'
        f'<meta name="author" content="{names[0]} {names[1]}"></head><body>'
        f'<nav><a href="/">Home</a><a href="/{names[2]}">{names[2]}</a></nav>'
        f"<article><h1>{title}</h1>{''.join(paragraphs)}</article>"
        f"<footer>Contact {names[3]}</footer></body></html>"
    )
    return f"https://{host}/story/{n}", html.encode()


def test_worker_memory_is_flat_over_2000_pages() -> None:
    rng = random.Random(4)
    fetched = datetime(2026, 11, 1, tzinfo=UTC)
    settings = Settings()  # production limits, including how often caches are reset
    with ExtractionWorker.from_settings(settings) as worker:

        def run(first: int, count: int) -> int:
            ok = 0
            for n in range(first, first + count):
                url, body = generated_page(rng, n)
                ok += worker.extract(ExtractJob(body, url, "text/html", fetched)).ok
                if (n + 1) % BATCH == 0:
                    worker.end_batch()
            return ok

        assert run(0, WARM_UP) == WARM_UP
        pid = worker.pid
        assert pid is not None
        child = psutil.Process(pid)
        before = child.memory_info().rss
        assert run(WARM_UP, PAGES) == PAGES
        after = child.memory_info().rss
        assert worker.pid == pid and worker.restarts == 0  # the same process all along
        assert worker.resets == (WARM_UP + PAGES) // settings.extract_reset_pages
    growth_mb = (after - before) / 2**20
    print(
        f"\nextraction worker RSS: {before / 2**20:.1f} MB after {WARM_UP} warm-up pages, "
        f"{after / 2**20:.1f} MB after {PAGES} more; growth {growth_mb:+.1f} MB "
        f"(limit {MAX_GROWTH_MB} MB)"
    )
    assert growth_mb < MAX_GROWTH_MB
