"""Text features for dedupe: word shingles, normalised titles, agency credit lines and datelines."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")
# Title decorations outlets add around the same headline. Prefixes are labels followed by a
# separator ("Opinion | ", "LIVE: "); suffixes are a separator then the outlet name.
_TITLE_PREFIX = re.compile(
    r"^\s*(?:live|live updates|breaking|update[d]?|opinion|analysis|exclusive|watch|video|"
    r"photos|explainer|editorial|comment)\s*[:|\-–—]\s*",
    re.IGNORECASE,
)
_TITLE_SUFFIX = re.compile(r"\s+[|\-–—•·]\s+[^|\-–—•·]{1,60}$")
_DASHES = r"\-–—"  # for use inside a regex character class


def words(text: str) -> list[str]:
    """Lower-cased word tokens with accents folded (NFKD), so typography does not split shingles."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _WORD.findall(folded.lower())


def shingles(text: str, size: int) -> set[str]:
    """Word ``size``-grams of ``text``; a text shorter than ``size`` words is one shingle."""
    tokens = words(text)
    if len(tokens) <= size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def normalize_title(title: str, *, outlet: str | None = None) -> str:
    """The headline without outlet suffixes ("| Outlet", "- Outlet") and labels ("LIVE:")."""
    text = _SPACE.sub(" ", title).strip()
    for _ in range(2):  # "Opinion | LIVE: ..." carries two labels
        text = _TITLE_PREFIX.sub("", text)
    if outlet:
        # The outlet's own name as a suffix is removed even when long or oddly separated.
        text = re.sub(rf"\s*[|{_DASHES}:•·]\s*{re.escape(outlet)}\s*$", "", text, flags=re.I)
    stripped = _TITLE_SUFFIX.sub("", text)
    # Keep the suffix when removing it would leave almost nothing (a headline with a dash).
    if len(words(stripped)) >= 4:
        text = stripped
    return " ".join(words(text))


def title_hash(title: str | None, *, outlet: str | None = None) -> str | None:
    """SHA-256 of the normalised title, or None when the title is empty after normalising."""
    if not title:
        return None
    norm = normalize_title(title, outlet=outlet)
    if not norm:
        return None
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Credit:
    """An agency named in a credit line or dateline, and the line it was found in."""

    agency: str
    line: str


def _agency_alternation(agencies: Sequence[str]) -> str:
    # Longest first so "Ostrel State Telegraph Agency" wins over a shorter name it contains.
    names = sorted({a.strip() for a in agencies if a.strip()}, key=len, reverse=True)
    return "|".join(re.escape(n) for n in names)


def find_credit(text: str, agencies: Sequence[str]) -> Credit | None:
    """The agency credited for ``text``, from a credit line or a dateline, if any.

    Counted: a dateline opening a paragraph ("ALDMOOR (Reuters) — ", "(AP) - ",
    "KYIV, Nov 3 (AFP) -"), or a short line that only credits ("— Nordpress", "(Reuters)",
    "Reporting by Reuters", "Source: dpa", "AFP contributed to this report"). An agency merely
    mentioned in a sentence ("told the Continental Press Agency") is reporting, not a credit.
    """
    alt = _agency_alternation(agencies)
    if not alt:
        return None
    dateline = re.compile(
        rf"^(?:[A-Z][A-Za-z .'\-]{{0,40}}(?:,\s*[^()\n]{{1,30}})?\s*)?\(({alt})\)\s*[{_DASHES}:]",
    )
    credit_line = re.compile(
        rf"^(?:[{_DASHES}]+\s*|\(\s*|(?:reporting|writing|additional reporting|source|sources|"
        rf"via|copyright|©)\s*(?:by|:)?\s*)?({alt})(?:\s*\)|\s+contributed to this report)?\.?\s*$",
        re.IGNORECASE,
    )
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = dateline.match(line)
        if match is None and len(line) <= 80:
            match = credit_line.match(line)
        if match:
            return Credit(agency=_canonical(match.group(1), agencies), line=line[:200])
    return None


def _canonical(found: str, agencies: Sequence[str]) -> str:
    for name in agencies:
        if name.lower() == found.lower():
            return name
    return found
