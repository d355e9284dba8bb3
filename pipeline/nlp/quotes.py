"""Direct quotations in straight or curly, double or single quote marks.

Single marks double as apostrophes ("doesn’t", "soldiers’ families"), so a closing single mark
must not be followed by a letter, and one right after punctuation (",’" ".’") is preferred.
"""

from __future__ import annotations

import re
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


def _close_single(text: str, i: int) -> int | None:
    candidates: list[int] = []
    limit = min(len(text), i + MAX_QUOTE_CHARS)
    # Only these characters can end the walk or be a close; the search skips the rest in C.
    j = i + 1
    while (m := _SINGLE_STOPS.search(text, j, limit)) is not None:
        j = m.start()
        ch = text[j]
        if ch in "‘" and candidates and _opening_ok(text, j):
            # A new quotation opens: the first plausible close was this one's ("... ‘within
            # weeks’. Council leader ... said: ‘We’ve had ...’").
            return candidates[0]
        if ch == "\n" and text.startswith("\n", j + 1):
            break  # a quotation in single marks does not run across paragraphs
        if ch in "’'":
            after = text[j + 1] if j + 1 < len(text) else " "
            if not after.isalnum():
                if text[j - 1] in _PUNCT_BEFORE_CLOSE:
                    return j
                candidates.append(j)
        j += 1
    return candidates[0] if candidates else None


_SINGLE_STOPS = re.compile("[‘\n’']")
_DOUBLE = '“”"'
_DOUBLE_STOPS = re.compile('[“”"\n]')
# Every character that can open a quotation.
_OPENERS = re.compile("[“”\"‘']")


def _close_double(text: str, i: int) -> int | None:
    """The closing double mark of the quotation opened at ``i`` (curly or straight, mixed as
    writers mix them). A quotation still open at the end of its paragraph, with the next
    paragraph opening a quotation, is the newspaper convention of a quote running on: it ends
    at its paragraph's end."""
    limit = min(len(text), i + MAX_QUOTE_CHARS)
    j = i + 1
    while (m := _DOUBLE_STOPS.search(text, j, limit)) is not None:
        j = m.start()
        ch = text[j]
        if ch in _DOUBLE:
            return j
        if ch == "\n":
            k = j
            while k < len(text) and text[k].isspace():
                k += 1
            if k < len(text) and text[k] in '“"':
                end = j
                while end > i + 1 and text[end - 1].isspace():
                    end -= 1
                return end
            return None
        j += 1
    return None


def find_quotes(text: str) -> list[QuoteSpan]:
    """Every quotation of at least MIN_QUOTE_WORDS words, in text order, not nested."""
    spans: list[QuoteSpan] = []
    i = 0
    n = len(text)
    while (m := _OPENERS.search(text, i)) is not None:
        i = m.start()
        ch = text[i]
        close: int | None = None
        if ch == "“" or (ch in '”"' and (ch == "“" or _opening_ok(text, i))):
            close = _close_double(text, i)
        elif ch in "‘'" and _opening_ok(text, i):
            close = _close_single(text, i)
        if close is None:
            i += 1
            continue
        inner = text[i + 1 : close]
        if len(inner.split()) >= MIN_QUOTE_WORDS:
            spans.append(QuoteSpan(i + 1, close, inner))
        i = close + 1 if close < n and text[close] in _DOUBLE + "’'" else close
    return spans


def inside(spans: list[QuoteSpan], pos: int) -> QuoteSpan | None:
    """The quotation containing offset ``pos``, if any."""
    for q in spans:
        if q.start <= pos < q.end:
            return q
    return None
