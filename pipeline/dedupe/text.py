"""Text features for dedupe: word shingles, normalised titles, agency credit lines and datelines."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_ASCII_WORD = re.compile(r"\w+(?:'\w+)*", re.ASCII)
_SPACE = re.compile(r"\s+")
# Diacritics folded away before comparing: the combining marks Latin, Greek and Cyrillic share
# (accents, tonos, breve: "café"/"cafe", "Αθήνα"/"Αθηνα", "ё"/"е") and the Arabic vowel signs and
# tatweel, which writers add or leave out freely. Marks of other scripts (Devanagari vowel
# signs, Hebrew points kept as written) are letters of the word and stay.
_FOLDED_MARKS = re.compile("[\u0300-\u036f\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
# Apostrophes inside a word (Ukrainian "п’ять", English "it’s") are one character, so a quote
# style does not split a word in one copy and not the other.
_APOSTROPHES = ("\u2019", "\u02bc", "\u2032")
_PLAIN_WORD = re.compile(r"\w+(?:'\w+)*")
# Scripts written without spaces between words: each character is a token, so shingles of
# ``size`` tokens are character n-grams there (Han, kana, Thai, Lao, Myanmar, Khmer).
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff"
)
_UNSPACED_ASTRAL = "\U00020000-\U0003134f"  # CJK extensions B-H
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Title decorations outlets add around the same headline. Prefixes are labels followed by a
# separator ("Opinion | ", "LIVE: "); suffixes are a separator then the outlet name.
_TITLE_PREFIX = re.compile(
    r"^\s*(?:live|live updates|breaking|update[d]?|opinion|analysis|exclusive|watch|video|"
    r"photos|explainer|editorial|comment)\s*[:|\-–—]\s*",
    re.IGNORECASE,
)
_TITLE_SUFFIX = re.compile(r"\s+[|\-–—•·]\s+[^|\-–—•·]{1,60}$")
_DASHES = r"\-–—"  # for use inside a regex character class


def _char_class(codepoints: list[int]) -> str:
    """A regex character class body (ranges) matching exactly ``codepoints`` (sorted)."""
    ranges: list[list[int]] = []
    for cp in codepoints:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


@lru_cache(maxsize=1)
def _token_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Word tokens in any script (built on first use: listing the combining marks takes ~0.1 s).

    Python's ``\\w`` stops at combining marks, which would cut Devanagari or Hebrew words into
    pieces, so a word is letters and digits with the marks between and after them (Unicode word
    boundaries, UAX #29, without a dictionary); an apostrophe between letters stays inside it.
    Characters of unspaced scripts are tokens of their own.

    Also returns two patterns finding the characters that need this (a mark or an unspaced
    script), in and beyond the Basic Multilingual Plane: text with none of them is tokenised by
    plain ``\\w``, several times faster. Classes are split at U+FFFF because ``re`` tests a class
    reaching beyond it range by range, and one within it through a table.
    """
    marks = [
        cp
        for cp in (*range(0x20000), *range(0xE0100, 0xE01F0))
        if unicodedata.category(chr(cp)).startswith("M")
    ]
    marks_bmp = _char_class([cp for cp in marks if cp <= 0xFFFF])
    marks_astral = _char_class([cp for cp in marks if cp > 0xFFFF])
    mark = rf"(?:[{marks_bmp}]|[{marks_astral}])"
    unspaced = rf"(?:[{_UNSPACED}]|[{_UNSPACED_ASTRAL}])"
    letter = rf"[^\W{_UNSPACED}{_UNSPACED_ASTRAL}]"  # a word character of a spaced script
    word = rf"{letter}+(?:{mark}+{letter}*)*"
    return (
        re.compile(rf"{unspaced}{mark}*|{word}(?:'{word})*"),
        re.compile(rf"[{marks_bmp}{_UNSPACED}]"),
        re.compile(rf"[{marks_astral}{_UNSPACED_ASTRAL}]"),
    )


def fold(text: str) -> str:
    """``text`` as dedupe compares it: NFKC, case-folded, Latin/Greek/Cyrillic accents and Arabic
    vowel signs removed. Scripts are never transliterated: "Москва" and "Moskva" stay apart."""
    decomposed = unicodedata.normalize("NFKD", text).casefold()
    for apostrophe in _APOSTROPHES:  # str.replace: a translate table is 10x slower here
        decomposed = decomposed.replace(apostrophe, "'")
    return unicodedata.normalize("NFC", _FOLDED_MARKS.sub("", decomposed))


def words(text: str) -> list[str]:
    """Word tokens of ``text`` in every script, after ``fold``; in unspaced scripts (Chinese,
    Japanese, Thai ...) every character is a token."""
    if text.isascii():
        # Most text; the same tokens as the general path, several times faster.
        return _ASCII_WORD.findall(text.lower())
    folded = fold(text)
    tokens, special_bmp, special_astral = _token_patterns()
    if special_bmp.search(folded) is None and (
        _ASTRAL.search(folded) is None or special_astral.search(folded) is None
    ):
        return _PLAIN_WORD.findall(folded)
    return tokens.findall(folded)


def shingles(text: str, size: int) -> set[str]:
    """Token ``size``-grams of ``text`` (word n-grams; character n-grams in unspaced scripts); a
    text shorter than ``size`` tokens is one shingle."""
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
