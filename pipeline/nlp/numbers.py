"""Find and parse quantities in text: "21,600", "1.5 million", "two thousand", "500k", "a quarter",
percentages, and ranges ("between X and Y", "X to Y", "X–Y", "from X to Y").

Pure regular expressions over the raw text, so offsets are exact and the module needs no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCALES = {
    "hundred": 1e2,
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
}
_SMALL = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "a dozen": 12,
    "a hundred": 100,
    "a thousand": 1000,
}
FRACTIONS = {
    "a quarter": 0.25,
    "one quarter": 0.25,
    "three quarters": 0.75,
    "three-quarters": 0.75,
    "a third": 1 / 3,
    "one third": 1 / 3,
    "one-third": 1 / 3,
    "two-thirds": 2 / 3,
    "two thirds": 2 / 3,
    "half": 0.5,
    "a half": 0.5,
    "one half": 0.5,
    "a fifth": 0.2,
    "one in five": 0.2,
}

# "one" alone is left out on purpose: "one of the biggest" is not a figure.
_WORD = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-(?:one|two|three|four|five"
    r"|six|seven|eight|nine))?|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen"
    r"|eighteen|nineteen|two|three|four|five|six|seven|eight|nine|ten|a dozen|a hundred"
    r"|a thousand)"
)
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_SCALE = r"(?:\s+(?:hundred|thousand|million|billion|trillion)|\s?(?:bn|mn)\b|(?<=\d)[km]\b)"
_WSCALE = r"(?:[\s-](?:hundred|thousand|million|billion|trillion))"
_FRACTION = "|".join(sorted((re.escape(f) for f in FRACTIONS), key=len, reverse=True))
_CURRENCY = r"(?:US\$|\$|€|£)"
_PERCENT = r"(?:\s?%|\s(?:per\s?cent|percent)\b|\spercentage points?\b)"

# One number (no range): currency? digits|words scale? percent?
NUM = (
    rf"(?:{_CURRENCY}\s?)?(?:{_DIGITS}{_SCALE}?|\b(?:{_FRACTION})\b|\b{_WORD}{_WSCALE}*\b)"
    rf"(?:{_PERCENT})?"
)
_RANGE = re.compile(
    rf"(?i)\bbetween\s+(?P<b1>{NUM})\s+and\s+(?P<b2>{NUM})"
    rf"|\bfrom\s+(?P<f1>{NUM})\s+to\s+(?P<f2>{NUM})"
    rf"|(?P<r1>{NUM})\s*(?:to|–|—|-)\s*(?P<r2>{NUM})"
)
_SINGLE = re.compile(rf"(?i){NUM}")
_NUMBER_WORD = re.compile(r"[a-z]", re.IGNORECASE)

QUALIFIERS = (
    (
        "approximately",
        (
            "about",
            "around",
            "some",
            "roughly",
            "approximately",
            "an estimated",
            "nearly",
            "almost",
            "close to",
            "estimated",
            "circa",
            "approx.",
        ),
    ),
    ("more_than", ("more than", "over", "above", "in excess of", "upwards of", "over than")),
    ("at_least", ("at least", "no fewer than", "no less than", "a minimum of")),
    ("less_than", ("less than", "under", "fewer than", "below", "just under")),
    ("up_to", ("up to", "as many as", "as much as", "a maximum of")),
)
_QUALIFIER = [
    (name, re.compile(rf"(?i)\b(?:{'|'.join(re.escape(w) for w in words)})\s+$"))
    for name, words in QUALIFIERS
]


@dataclass(frozen=True)
class Quantity:
    """A figure found in text: offsets into that text and its parsed value."""

    start: int
    end: int
    text: str
    low: float
    high: float
    qualifier: str
    percent: bool
    currency: str | None
    has_scale: bool
    is_range: bool


def parse_number(text: str) -> float | None:
    """Parse one number expression ("21,600", "1.5 million", "two thousand", "500k", "a quarter").

    Currency signs and percent words are ignored (they are units, not values). None if unparsable.
    """
    s = re.sub(rf"(?i){_PERCENT}\s*$", "", text.strip()).strip()
    s = re.sub(rf"^{_CURRENCY}\s?", "", s).strip().lower()
    if s in FRACTIONS:
        return FRACTIONS[s]
    m = re.fullmatch(r"((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s?(.*)", s)
    if m:
        value = float(m.group(1).replace(",", ""))
        rest = m.group(2).strip()
    else:
        scales = "|".join(sorted(SCALES, key=len, reverse=True))
        w = re.fullmatch(rf"(.+?)((?:[\s-](?:{scales}))*)", s)
        base = word_value(w.group(1)) if w else None
        if w is None or base is None:
            return None
        value = float(base)
        rest = w.group(2)
    for part in rest.replace("-", " ").split():
        if part not in SCALES:
            return None
        value *= SCALES[part]
    return value


def word_value(word: str) -> int | None:
    """The value of a number word ("twelve", "forty-two", "a dozen"), or None."""
    if word in _SMALL:
        return _SMALL[word]
    if "-" in word:
        tens, _, unit = word.partition("-")
        if tens in _SMALL and unit in _SMALL:
            return _SMALL[tens] + _SMALL[unit]
    return None


def _scale_of(text: str) -> str | None:
    m = re.search(r"(?i)(hundred|thousand|million|billion|trillion|bn|mn|(?<=\d)[km])\b", text)
    return m.group(1).lower() if m else None


def _is_percent(text: str) -> bool:
    return re.search(rf"(?i){_PERCENT}$", text) is not None


def _currency(text: str) -> str | None:
    m = re.match(_CURRENCY, text)
    return m.group(0) if m else None


def qualifier_before(text: str, start: int) -> tuple[str, int]:
    """The qualifier written just before ``start`` ("more than 90") and where it begins."""
    window = text[max(0, start - 30) : start]
    for name, pattern in _QUALIFIER:
        m = pattern.search(window)
        if m:
            return name, start - (len(window) - m.start())
    return "exact", start


def _range_value(first: str, second: str) -> tuple[float, float] | None:
    lo, hi = parse_number(first), parse_number(second)
    if lo is None or hi is None:
        return None
    # "between 1.2 and 1.5 million", "20-25%": the scale or percent written once applies to both.
    scale = _scale_of(second)
    if scale and not _scale_of(first):
        lo *= SCALES[scale]
    if hi < lo:
        return None
    return lo, hi


def find_quantities(text: str) -> list[Quantity]:
    """Every figure in ``text``, ranges first, with value, qualifier and percent/currency flags."""
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []
    for m in _RANGE.finditer(text):
        a, b = next(
            (m.group(x), m.group(y))
            for x, y in (("b1", "b2"), ("f1", "f2"), ("r1", "r2"))
            if m.group(x) is not None
        )
        # "12:30", "2023-2025", "T-72" are not ranges of figures.
        if m.group("r1") is not None and not (
            (re.search(r"\d", a) and re.search(r"\d", b)) or " to " in m.group(0).lower()
        ):
            continue
        if m.group("r1") is not None and re.search(
            r"[A-Za-z]-$", text[max(0, m.start() - 2) : m.start() + 1]
        ):
            continue
        values = _range_value(a, b)
        if values is None:
            continue
        found.append(
            Quantity(
                start=m.start(),
                end=m.end(),
                text=m.group(0),
                low=values[0],
                high=values[1],
                qualifier="range",
                percent=_is_percent(b) or _is_percent(a),
                currency=_currency(a) or _currency(b),
                has_scale=bool(_scale_of(a) or _scale_of(b)),
                is_range=True,
            )
        )
        taken.append((m.start(), m.end()))
    for m in _SINGLE.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        value = parse_number(m.group(0))
        if value is None:
            continue
        qualifier, _ = qualifier_before(text, m.start())
        found.append(
            Quantity(
                start=m.start(),
                end=m.end(),
                text=m.group(0),
                low=value,
                high=value,
                qualifier=qualifier,
                percent=_is_percent(m.group(0)),
                currency=_currency(m.group(0)),
                has_scale=_scale_of(m.group(0)) is not None,
                is_range=False,
            )
        )
    found.sort(key=lambda q: q.start)
    return found


__all__ = ["FRACTIONS", "Quantity", "find_quantities", "parse_number", "qualifier_before"]
