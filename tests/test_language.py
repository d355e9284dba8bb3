"""Language identification (issue 20): py3langid decides from the text, measured on short
samples written for this project (tests/fixtures/dedupe_multilingual/language_samples.yaml)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import yaml

from pipeline.extract import detect_language, extract

SAMPLES = (
    Path(__file__).resolve().parent / "fixtures" / "dedupe_multilingual" / "language_samples.yaml"
)


def test_language_identification_accuracy_on_short_samples() -> None:
    samples: dict[str, list[str]] = yaml.safe_load(SAMPLES.read_text("utf-8"))
    assert {"en", "ru", "uk", "be", "de", "fr", "es", "el", "ar", "zh"} <= set(samples)
    assert all(len(sentences) >= 5 for sentences in samples.values())
    confusions: Counter[tuple[str, str | None]] = Counter()
    right = total = 0
    for lang, sentences in samples.items():
        for sentence in sentences:
            got = detect_language(sentence)
            total += 1
            right += got == lang
            if got != lang:
                confusions[(lang, got)] += 1
    accuracy = right / total
    print(
        f"\nlanguage identification: {right}/{total} short sentences right ({accuracy:.3f}), "
        f"{len(samples)} languages; confusions {dict(confusions) or 'none'}"
    )
    assert accuracy >= 0.95
    # The East Slavic languages share most function words; they must not be confused.
    assert not {k for k in confusions if {k[0], k[1]} <= {"ru", "uk", "be"}}


def test_the_text_decides_over_the_page_declaration_unless_it_is_too_thin() -> None:
    russian = "Во вторник вечером сильный дождь затопил несколько улиц возле порта."
    assert detect_language(russian, declared="en") == "ru"
    assert detect_language("12 345 678 — 2026", declared="uk") == "uk"
    assert detect_language("12 345 678 — 2026") is None
    assert detect_language("") is None


def test_extracted_article_language_comes_from_its_text() -> None:
    samples: dict[str, list[str]] = yaml.safe_load(SAMPLES.read_text("utf-8"))
    paragraphs = "".join(f"<p>{s}</p>" for s in samples["uk"])
    # The site's template declares Russian on every page; this article is Ukrainian.
    page = (
        '<html lang="ru"><head><title>Новини</title></head><body><article><h1>Новини</h1>'
        f"{paragraphs}</article></body></html>"
    ).encode()
    result = extract(
        page,
        url="http://127.0.0.1:8765/uk/news.html",
        content_type="text/html",
        fetched_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert result.article is not None, result.reason
    assert result.article.language == "uk"
