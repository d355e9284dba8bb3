"""Direct quotations in straight or curly, double or single quote marks.

Single marks double as apostrophes ("doesn’t", "soldiers’ families"), so a closing single mark
must not be followed by a letter, and one right after punctuation (",’" ".’") is preferred.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_QUOTE_CHARS = 2000
MIN_QUOTE_WORDS = 3
_PUNCT_BEFORE_CLOSE = ",.!?;:…—-"


@dataclass(frozen=True)
class QuoteSpan:
    """A quotation: ``start``/``end`` delimit the words inside the marks."""

    start: int
    end: int
    text: str


def _opening_ok(text: str, i: int) -> bool:
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return (before.isspace() or before in "([“—-:") and (after.isalnum() or after in "…")


def _close_single(text: str, i: int, mark: str) -> int | None:
    candidates = []
    j = i + 1
    limit = min(len(text), i + MAX_QUOTE_CHARS)
    while True:
        j = text.find(mark, j, limit)
        if j < 0:
            break
        after = text[j + 1] if j + 1 < len(text) else " "
        if not after.isalnum():
            if text[j - 1] in _PUNCT_BEFORE_CLOSE:
                return j
            candidates.append(j)
        j += 1
    return candidates[0] if candidates else None


def find_quotes(text: str) -> list[QuoteSpan]:
    """Every quotation of at least MIN_QUOTE_WORDS words, in text order, not nested."""
    spans: list[QuoteSpan] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        close: int | None = None
        if ch == "“":
            c = text.find("”", i + 1, i + MAX_QUOTE_CHARS)
            close = c if c >= 0 else None
        elif ch == '"':
            c = text.find('"', i + 1, i + MAX_QUOTE_CHARS)
            close = c if c >= 0 else None
        elif ch in "‘'" and _opening_ok(text, i):
            close = _close_single(text, i, "’" if ch == "‘" else "'")
        if close is None:
            i += 1
            continue
        inner = text[i + 1 : close]
        if len(inner.split()) >= MIN_QUOTE_WORDS:
            spans.append(QuoteSpan(i + 1, close, inner))
        i = close + 1
    return spans


def inside(spans: list[QuoteSpan], pos: int) -> QuoteSpan | None:
    """The quotation containing offset ``pos``, if any."""
    for q in spans:
        if q.start <= pos < q.end:
            return q
    return None
