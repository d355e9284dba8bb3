"""Hedges: words that mark a claim as second-hand, estimated or unverified."""

from __future__ import annotations

import re

_TERMS = (
    r"reportedly",
    r"allegedly",
    r"alleged",
    r"an estimated",
    r"estimated",
    r"estimates?",
    r"unverified",
    r"unconfirmed",
    r"could not (?:be )?(?:independently )?(?:verified|verify|confirm(?:ed)?)",
    r"according to",
    r"(?:is|are|was|were) (?:said|believed|thought|reported) to",
    r"purportedly",
    r"supposedly",
    r"apparently",
    r"believed to",
)
_HEDGE = re.compile(r"(?i)\b(?:" + "|".join(_TERMS) + r")\b")


def find_hedges(text: str) -> list[str]:
    """The hedge expressions in ``text``, lower-cased, in order, without repeats."""
    seen: list[str] = []
    for m in _HEDGE.finditer(text):
        term = m.group(0).lower()
        if term not in seen:
            seen.append(term)
    return seen
