"""Hedges: words that mark a claim as second-hand, estimated or unverified."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from spacy.tokens import Span, Token

from pipeline.nlp.numbers import may_hold
from pipeline.nlp.tokens import children_of, doc_text, subtree_ids, tokens_in_chars

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
# The lookahead holds the first letters of the terms (a new term adds its own): the search fails
# at once at a word that starts with none of them.
_HEDGE = re.compile(r"(?i)\b(?=[raeucipswb])(?:" + "|".join(_TERMS) + r")\b")
# Every term holds one of these (lower case): most sentences hold none, and looking for them is
# several times cheaper than the search (a new term adds its own word here).
_HEDGE_WORDS = (
    "reportedly", "alleged", "estimate", "unverified", "unconfirmed", "could not",
    "according to", "said to", "believed to", "thought to", "reported to", "purportedly",
    "supposedly", "apparently",
)  # fmt: skip


def _hedge_matches(text: str) -> list[re.Match[str]]:
    """``_HEDGE.finditer(text)``, skipping the search when no term can be in ``text``."""
    if not may_hold(text, _HEDGE_WORDS, _HEDGE):
        return []
    return list(_HEDGE.finditer(text))


def find_hedges(text: str) -> list[str]:
    """The hedge expressions in ``text``, lower-cased, in order, without repeats."""
    seen: list[str] = []
    for m in _hedge_matches(text):
        term = m.group(0).lower()
        if term not in seen:
            seen.append(term)
    return seen


# Cue verbs that distance the writer from a claim ("alleged", "claimed"): the cue's stance says
# so, they are not hedges of the figure.
_DISTANCING_CUES = {"alleged", "claimed", "insisted", "maintained", "asserted"}
# "an estimated 6%" / "estimated 40": a hedge written right before a figure is that figure's.
_BEFORE_FIGURE = re.compile(r"^\s*(?:at\s+)?$")


@dataclass(frozen=True)
class HedgeSpan:
    """A hedge expression at [start, end) of the searched text."""

    start: int
    end: int
    term: str
    # A modal verb or a conditional's "would": it hedges its own clause only.
    modal: bool = False


# Modal and conditional uncertainty (issue 16): "may have perished", "could reach", "will
# likely", and "would" in a sentence with an "if" clause. Lower case only ("in May" is a date);
# "could (not) afford" is ability, not doubt; a plain "would" is reported speech ("said
# exporters would save"), not a hedge.
_MODAL = re.compile(
    r"\b(?:may|might|could)\b(?!\s+(?:not\s+)?(?:afford|claim|spend|apply|receive|keep|use"
    r"|borrow|carry|bring|stay|enter|own|hold|request|take|have up to)\b)|\b(?:would|will) likely\b"
)
_CONDITIONAL_WOULD = re.compile(r"\bwould\b")
_IF = re.compile(r"(?i)\bif\b")


def hedge_spans(text: str) -> list[HedgeSpan]:
    """Every hedge expression of ``text`` with its offsets: the listed hedge words, modal
    verbs of uncertainty, and "would" in a conditional sentence."""
    spans = [HedgeSpan(m.start(), m.end(), m.group(0).lower()) for m in _hedge_matches(text)]
    taken = [(h.start, h.end) for h in spans]
    # The modal patterns are case-sensitive: a sentence without their words has no match.
    # Every _MODAL match holds "may", "might", "could" or "likely" (four ``in`` tests written
    # out: a third of the cost of any() over a generator).
    has_modal = "may" in text or "might" in text or "could" in text or "likely" in text
    extra = list(_MODAL.finditer(text)) if has_modal else []
    if "would" in text and _IF.search(text):
        extra += [
            m
            for m in _CONDITIONAL_WOULD.finditer(text)
            if "likely" not in text[m.end() : m.end() + 8]
        ]
    for m in extra:
        if not any(a <= m.start() < b for a, b in taken):
            spans.append(HedgeSpan(m.start(), m.end(), m.group(0), modal=True))
    return sorted(spans, key=lambda h: h.start)


@lru_cache(maxsize=64)
def _sentence_hedges(text: str) -> tuple[HedgeSpan, ...]:
    """hedge_spans of a sentence, which is asked once per figure in it."""
    return tuple(hedge_spans(text))


# Hedges about the whole report ("reportedly", "could not be verified", "according to"): they
# cover every figure of their sentence, whatever clause they sit in.
_SENTENCE_WIDE = re.compile(
    r"^(?:reportedly|allegedly|unverified|unconfirmed|could not|according to|purportedly"
    r"|supposedly|apparently)"
)


def _clause_head(tok: Token) -> Token:
    """The verb heading the clause a token is in (the token itself if it is one; the main verb
    for an auxiliary: "is said to" belongs to "said")."""
    cur = tok
    if cur.pos_ == "AUX" and cur.dep_ in ("aux", "auxpass") and cur.head.i != cur.i:
        cur = cur.head
    for _ in range(10):
        if cur.pos_ in ("VERB", "AUX") or cur.head.i == cur.i:
            return cur
        cur = cur.head
    return cur


def hedges_of_figure(
    sent: Span, offset: int, figure: tuple[int, int], figures: list[tuple[int, int]]
) -> list[str]:
    """The hedges that cover the figure at ``figure`` (article offsets) in sentence ``sent``
    (which starts at article offset ``offset + sent.start_char``): a hedge written right
    before a figure covers that figure only; any other hedge covers the figures of its clause
    (the subtree of the verb it belongs to). Distancing cue verbs are not hedges."""
    base = offset + sent.start_char
    text = doc_text(sent.doc)[sent.start_char : sent.end_char]
    out: list[str] = []
    for h in _sentence_hedges(text):
        start, end = base + h.start, base + h.end
        owner = next(
            (f for f in figures if f[0] >= end and _BEFORE_FIGURE.match(text[h.end : f[0] - base])),
            None,
        )
        if owner is not None:
            covered = owner == figure
        else:
            toks = tokens_in_chars(sent, start - offset, end - offset)
            if not toks:
                continue
            if toks[0].lower_ in _DISTANCING_CUES and toks[0].pos_ == "VERB":
                continue
            head = _clause_head(toks[0])
            if _SENTENCE_WIDE.match(h.term) or (head.dep_ == "ROOT" and not h.modal):
                # A sentence-level hedge ("reportedly", "according to") covers the sentence.
                covered = True
            else:
                # subtree_ids: the ids of head.subtree, without a Token built per word
                ids = set(subtree_ids(head))
                if h.modal:
                    # A modal hedges its own clause, not the clauses hung on it: "may have
                    # perished when a boat capsized 30 miles out", "could face costs of up to
                    # 2.1 trillion if Japan keeps rules on three chemicals", "may work, but
                    # many earn less than 250".
                    for c in children_of(head):
                        if c.dep_ in ("advcl", "conj") and c.i != toks[0].i:
                            ids.difference_update(subtree_ids(c))
                fig = tokens_in_chars(sent, figure[0] - offset, figure[1] - offset)
                covered = any(t.i in ids for t in fig)
        if covered and h.term not in out:
            out.append(h.term)
    return out
