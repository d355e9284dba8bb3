"""Which numbers are claimed figures, and what they count: filters for dates, times, addresses,
ages and reference numbers; the unit ("criminal cases", "%"); the rate ("a month")."""

from __future__ import annotations

import re

from spacy.tokens import Span, Token

from pipeline.nlp.attribution import CUE_FORMS
from pipeline.nlp.numbers import FRACTIONS, Quantity
from pipeline.nlp.tokens import doc_text

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_REF_WORDS = {
    "no",
    "no.",
    "number",
    "resolution",
    "article",
    "section",
    "decree",
    "law",
    "case",
    "flight",
    "route",
    "highway",
    "room",
    "platform",
    "gate",
    "chapter",
    "page",
    "unit",
    "order",
    "bill",
    "paragraph",
    "building",
    "block",
    "item",
    "file",
    "code",
    "ref",
    "reference",
    "vol",
    "volume",
    "issue",
    "motion",
    "directive",
    "regulation",
}
_STREET = re.compile(
    r"^\s+(?:[A-Z][\w'-]+\s+){1,3}(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|"
    r"Boulevard|Blvd\.?|Square|Lane|Prospekt|Embankment|Highway|Quay|Pier|Wharf)\b"
)
_TIME_AFTER = re.compile(r"(?i)^(?::\d\d|\s?(?:a\.m\.|p\.m\.|am\b|pm\b|o'clock|gmt|utc|hrs\b))")
_AGE = re.compile(r"(?i)(?:\baged|\bage of|\bages of|\bages)\s+$")
_ORDINAL_AFTER = re.compile(r"^(?:st|nd|rd|th)\b")
_YEARLIKE = re.compile(r"^(?:1[89]|20)\d\d$")
_PERCENT_WORDS = re.compile(r"(?i)percentage points?")
# Leading words that say something about the count, not what is counted.
_NOT_UNIT = {
    "new",
    "more",
    "additional",
    "other",
    "further",
    "extra",
    "total",
    "reported",
    "confirmed",
    "registered",
    "recorded",
    "estimated",
    "official",
    "own",
    "such",
}
_TEMPORAL = {"last", "next", "this", "each", "every", "per", "past"}
_RATE = re.compile(
    r"(?i)^[^.;]{0,40}?\b(?:(?:a|per|each|every) (?P<u1>day|week|month|year)\b(?! (?:earlier|ago|"
    r"later|before|after|on))|(?P<u2>daily|weekly|monthly|annually|yearly|a year)\b(?! "
    r"(?:earlier|ago|later|before|after))|per annum)"
)
_RATE_WORDS = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "annually": "year",
    "yearly": "year",
    "a year": "year",
    "per annum": "year",
}


def not_a_figure(text: str, q: Quantity, periods: list[tuple[int, int]]) -> str | None:
    """Why the number at ``q`` in ``text`` is not a claimed figure, or None if it is one."""
    before, after = text[max(0, q.start - 30) : q.start], text[q.end : q.end + 40]
    raw = q.text.strip()
    if any(s <= q.start < e for s, e in periods):
        return "period"
    if before[-1:].isalpha() or re.search(r"[A-Za-z]-$", before) or before.endswith(("#", ":")):
        return "code"
    if _TIME_AFTER.match(after):
        return "time"
    if _ORDINAL_AFTER.match(after):
        return "ordinal"
    plain = not (q.percent or q.currency or q.has_scale or "," in raw or "." in raw)
    if plain and q.is_range:
        parts = re.findall(r"\d+", raw)
        if all(_YEARLIKE.match(p) for p in parts):
            return "year"
    if plain and _YEARLIKE.match(raw):
        return "year"
    day_month = re.match(rf"^\s+{_MONTH}\b", after) or re.search(rf"\b{_MONTH}\s+$", before)
    if plain and re.fullmatch(r"\d{1,2}", raw) and day_month:
        return "date"
    if plain and re.fullmatch(r"\d+", raw) and _STREET.match(after):
        return "address"
    word_before = before.split()[-1].lower() if before.split() else ""
    if plain and word_before.rstrip(".") in _REF_WORDS and before.split()[-1][:1].isupper():
        return "reference"
    if _AGE.search(before) or re.match(r"^-year-old|^ years? old", after):
        return "age"
    if plain and re.search(r"[A-Z][a-z]+,\s*$", before) and after.startswith(","):
        return "age"
    if re.match(r"^\s+(?:years?|months?|weeks?|days?) (?:ago|old)\b", after):
        return "age"
    return None


def _noun_run(tokens: list[Token]) -> list[Token]:
    run: list[Token] = []
    for t in tokens:
        if t.ent_type_ in ("PERSON", "ORG", "GPE", "FAC"):
            break  # a name after a figure is not what it counts
        if run and (t.ent_type_ in ("DATE", "TIME") or t.lower_ in _TEMPORAL):
            break  # "24 million tonnes last year": the period is not part of the unit
        if (
            t.pos_ in ("ADJ", "NOUN", "PROPN")
            or (t.text in "-–" and run)
            or (run and t.dep_ == "compound")
        ):
            run.append(t)
            continue
        break
    while run and run[-1].pos_ not in ("NOUN", "PROPN"):
        run.pop()
    while run and run[0].lower_ in _NOT_UNIT:
        run.pop(0)
    return run


def _text(tokens: list[Token]) -> str:
    doc = tokens[0].doc
    return doc_text(doc)[tokens[0].idx : tokens[-1].idx + len(tokens[-1])]


def _of_object(tok: Token) -> list[Token]:
    """ "a quarter of all spending" -> spending; "half of those surveyed" -> those surveyed."""
    pobj = next((c for c in tok.children if c.dep_ == "pobj"), None)
    if pobj is None:
        return []
    toks = [t for t in pobj.subtree if t.i <= pobj.i or (t.head == pobj and t.tag_ == "VBN")]
    toks = [
        t
        for t in toks
        if t.dep_ not in ("det", "poss", "predet", "case")
        and t.tag_ != "POS"
        and not any(a.dep_ == "poss" for a in t.ancestors if a.i > t.i and a != pobj)
    ]
    return toks


def unit_of(q: Quantity, sent: Span, offset: int) -> str | None:
    """What ``q`` counts, as written: the nouns right after it, the "of" object of a fraction,
    "%", or failing those the subject of the clause ("the population fell by 1.5 million")."""
    if q.percent:
        m = _PERCENT_WORDS.search(q.text)
        return m.group(0) if m else "%"
    following = [t for t in sent if t.idx >= q.end - offset]
    fraction = q.text.strip().lower() in FRACTIONS or re.search(r"(?i)thirds|quarters", q.text)
    if following and following[0].lower_ == "of" and fraction:
        toks = _of_object(following[0])
        if toks:
            return _text(toks)
    if len(following) > 2 and following[0].lower_ == "of":
        # "212 of the 400 seats": the unit is the whole's.
        rest = following[1:]
        while rest and rest[0].dep_ in ("det", "poss"):
            rest = rest[1:]
        if rest and rest[0].like_num:
            of_run = _noun_run(rest[1:])
            if of_run:
                return _text(of_run)
    run = _noun_run(following)
    if run:
        return _text(run)
    if q.currency:
        return q.currency
    # The clause subject: walk up from the number to its verb.
    inside = [t for t in sent if q.start - offset <= t.idx < q.end - offset]
    tok: Token | None = inside[-1] if inside else None
    while tok is not None and tok.pos_ not in ("VERB", "AUX") and tok.head.i != tok.i:
        tok = tok.head
    if tok is None:
        return None
    if tok.lower_ in CUE_FORMS:
        return None  # the subject of "said" is the speaker, not what is counted
    subj = next((c for c in tok.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subj is None or subj.pos_ != "NOUN":
        return None
    toks = [c for c in subj.lefts if c.dep_ in ("compound", "amod")] + [subj]
    toks = [t for t in toks if t.lower_ not in _NOT_UNIT]
    return _text(toks) if toks else None


def rate_of(text: str, q: Quantity, next_start: int | None) -> str | None:
    """The rate written just after the figure ("a day", "each month", "monthly"), if any."""
    window = text[q.end : next_start if next_start is not None else len(text)]
    m = _RATE.search(window)
    if m:
        word = (m.group("u1") or m.group("u2") or "per annum").lower()
        return _RATE_WORDS.get(word, word)
    before = text[max(0, q.start - 25) : q.start].lower()
    m2 = re.search(r"\b(daily|weekly|monthly|annual|yearly)\b[\w\s]*$", before)
    if m2 and "report" not in before:
        return {"annual": "year"}.get(m2.group(1), _RATE_WORDS.get(m2.group(1)))
    return None
