"""Claim extraction: numeric claims, quotes and attributed statements, with evidence offsets.

Two passes over an article's sentences: the first finds cues and speakers in reading order (so
pronouns resolve to earlier names), the second turns figures, quotations and reported clauses
into :class:`~pipeline.nlp.records.Claim` records.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from spacy.language import Language
from spacy.tokens import Doc, Span

from pipeline.nlp.attribution import Cue, channels, citations, find_cues
from pipeline.nlp.figures import carried_unit, not_a_figure, rate_of, unit_of
from pipeline.nlp.hedges import find_hedges
from pipeline.nlp.loading import pipe_chunks
from pipeline.nlp.numbers import Quantity, find_quantities
from pipeline.nlp.periods import Period, find_periods
from pipeline.nlp.quotes import QuoteSpan, find_quotes, inside
from pipeline.nlp.records import Analysis, Attribution, Claim, EntityCount
from pipeline.nlp.speakers import SpeakerMemory, remember_people

ENTITY_LABELS = ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT")
DEFAULT_MAX_CHARS = 20_000
DEFAULT_BATCH = 32


@dataclass
class _Sentence:
    span: Span
    offset: int  # of the doc in the article
    cues: list[Cue]

    @property
    def start(self) -> int:
        return self.offset + self.span.start_char

    @property
    def end(self) -> int:
        return self.offset + self.span.end_char


def _copy(attr: Attribution) -> Attribution:
    return dataclasses.replace(attr, via=list(attr.via), cites=list(attr.cites))


def _pick_cue(q: Quantity, sent: _Sentence) -> Cue | None:
    """The cue governing the figure: a cue verb among its syntactic heads, else "according to",
    else the nearest cue; never one whose speaker phrase contains the figure."""
    rel_start, rel_end = q.start - sent.offset, q.end - sent.offset
    toks = [t for t in sent.span if rel_start <= t.idx < rel_end]
    eligible = [c for c in sent.cues if not any(t.i in c.speaker_tokens for t in toks)]
    if not eligible:
        return None
    if toks:
        by_token = {c.token.i: c for c in eligible}
        for anc in toks[-1].ancestors:
            if anc.i in by_token:
                return by_token[anc.i]
    according = [c for c in eligible if c.text == "according to"]
    if according:
        return according[0]
    return min(eligible, key=lambda c: abs(c.token.idx - rel_start))


def _period_for(q: Quantity, periods: list[Period]) -> Period | None:
    after = [p for p in periods if p.start >= q.end]
    if after:
        return after[0]
    before = [p for p in periods if p.end <= q.start]
    return before[-1] if before else None


def _entity_key(text: str) -> str:
    key = " ".join(text.split()).lower()
    key = re.sub(r"^the\s+", "", key)
    return re.sub(r"['’]s$", "", key)


class ClaimExtractor:
    """Extracts claims and entities from article texts with one loaded spaCy pipeline."""

    def __init__(
        self, nlp: Language, *, max_chars: int = DEFAULT_MAX_CHARS, batch_size: int = DEFAULT_BATCH
    ) -> None:
        self.nlp = nlp
        self.max_chars = max_chars
        self.batch_size = batch_size

    def analyse_many(self, items: Iterable[tuple[str, date | None]]) -> Iterator[Analysis]:
        """Analyse (text, publication date) pairs in order, batching them through ``nlp.pipe``."""
        items = list(items)
        chunks = pipe_chunks(
            self.nlp, (t for t, _ in items), max_chars=self.max_chars, batch_size=self.batch_size
        )
        for (text, published), docs in zip(items, chunks, strict=True):
            yield analyse_docs(text, docs, published)

    def analyse(self, text: str, published: date | None = None) -> Analysis:
        """Analyse one article text."""
        return next(self.analyse_many([(text, published)]))


def analyse_docs(text: str, docs: list[tuple[int, Doc]], published: date | None) -> Analysis:
    """Claims and entities of one article already parsed as (offset, doc) chunks."""
    quotes = find_quotes(text)
    memory = SpeakerMemory()
    sentences: list[_Sentence] = []
    entities: Counter[tuple[str, str]] = Counter()
    first_text: dict[tuple[str, str], str] = {}
    for offset, doc in docs:
        for ent in doc.ents:
            if ent.label_ in ENTITY_LABELS:
                key = (_entity_key(ent.text), ent.label_)
                entities[key] += 1
                first_text.setdefault(key, " ".join(ent.text.split()))
        for span in doc.sents:
            remember_people(span, memory, offset)
            cues = [
                c
                for c in find_cues(span, memory, offset)
                if inside(quotes, offset + c.token.idx) is None
            ]
            sentences.append(_Sentence(span, offset, cues))

    claims: list[Claim] = []
    quote_attr: dict[int, Attribution] = {}
    claims += _quote_claims(text, quotes, sentences, quote_attr)
    for sent in sentences:
        numeric = _numeric_claims(text, sent, quotes, quote_attr, published)
        claims += numeric
        if not numeric:
            claims += _statement_claims(text, sent, quotes)
    claims.sort(key=lambda c: (c.start, c.value_start or 0))
    ents = [EntityCount(first_text[k], k[0], k[1], n) for k, n in sorted(entities.items()) if k[0]]
    return Analysis(claims=claims, entities=ents, words=len(text.split()))


def _numeric_claims(
    text: str,
    sent: _Sentence,
    quotes: list[QuoteSpan],
    quote_attr: dict[int, Attribution],
    published: date | None,
) -> list[Claim]:
    stext = text[sent.start : sent.end]
    # Page furniture (datelines, captions, reference lines) has no verb.
    if not any(t.pos_ in ("VERB", "AUX") for t in sent.span) or len(sent.span) < 4:
        return []
    periods = find_periods(stext, published)
    spans = [(p.start, p.end) for p in periods]
    found = [q for q in find_quantities(stext) if not_a_figure(stext, q, spans) is None]
    hedges = find_hedges(stext)
    out: list[Claim] = []
    for k, q in enumerate(found):
        nxt = found[k + 1].start if k + 1 < len(found) else None
        absolute = dataclasses.replace(q, start=q.start + sent.start, end=q.end + sent.start)
        cue = _pick_cue(absolute, sent)
        quoted = inside(quotes, absolute.start)
        if cue is not None:
            attr = _copy(cue.attribution)
        elif quoted is not None and quoted.start in quote_attr:
            attr = _copy(quote_attr[quoted.start])
        else:
            attr = Attribution(via=channels(sent.span), cites=citations(sent.span))
        period = _period_for(q, periods)
        unit = unit_of(absolute, sent.span, sent.offset)
        if unit is None and out:
            unit = carried_unit(stext, found[k - 1], out[-1].unit, q)
        out.append(
            Claim(
                kind="numeric",
                text=stext,
                start=sent.start,
                end=sent.end,
                value_start=absolute.start,
                value_end=absolute.end,
                attribution=attr,
                hedges=list(hedges),
                value_low=q.low,
                value_high=q.high,
                qualifier=q.qualifier,
                unit=unit,
                rate_per=rate_of(stext, q, nxt),
                period=period.text if period else None,
                period_start=period.date_start if period else None,
                period_end=period.date_end if period else None,
            )
        )
    return out


def _quote_claims(
    text: str,
    quotes: list[QuoteSpan],
    sentences: list[_Sentence],
    quote_attr: dict[int, Attribution],
) -> list[Claim]:
    out: list[Claim] = []
    previous: tuple[QuoteSpan, Attribution] | None = None
    for q in quotes:
        around = [s for s in sentences if s.start < q.end + 1 and s.end > q.start - 1]
        if not around:
            continue
        ranked = sorted(
            (
                (_distance(c, q, around), i, c)
                for i, c in enumerate(c for s in around for c in s.cues)
            ),
            key=lambda t: (t[0], t[1]),
        )
        cue = ranked[0][2] if ranked else None
        if cue is not None:
            attr = _copy(cue.attribution)
            cue_sents = [s for s in around if cue in s.cues]
        elif previous is not None and _gap_sentences(sentences, previous[0].end, q.start) <= 1:
            attr, cue_sents = _copy(previous[1]), []
        else:
            continue
        start = min(s.start for s in around + cue_sents)
        end = max(s.end for s in around + cue_sents)
        quote_attr[q.start] = attr
        previous = (q, attr)
        out.append(
            Claim(
                kind="quote",
                text=text[start:end],
                start=start,
                end=end,
                value_start=q.start,
                value_end=q.end,
                quote=q.text,
                attribution=attr,
                hedges=find_hedges(text[start:end]),
            )
        )
    return out


def _distance(cue: Cue, q: QuoteSpan, around: list[_Sentence]) -> int:
    """Characters between a cue and a quotation (0 if adjacent)."""
    pos = next(s.offset for s in around if cue in s.cues) + cue.token.idx
    return q.start - pos if pos < q.start else pos - q.end


def _gap_sentences(sentences: list[_Sentence], a: int, b: int) -> int:
    return sum(1 for s in sentences if s.start >= a and s.end <= b)


def _statement_claims(text: str, sent: _Sentence, quotes: list[QuoteSpan]) -> list[Claim]:
    if any(q.start < sent.end and q.end > sent.start for q in quotes):
        return []
    for cue in sent.cues:
        if cue.attribution.speaker is None:
            continue
        tok = cue.token
        if cue.text == "according to":
            prep = tok.subtree
            idx = [t.i for t in prep]
            rest = [t for t in sent.span if t.i not in idx and not t.is_punct]
            if not rest:
                continue
            lo, hi = rest[0], rest[-1]
        else:
            clause = next((c for c in tok.children if c.dep_ == "ccomp"), None)
            if clause is None:
                continue
            sub = list(clause.subtree)
            lo, hi = sub[0], sub[-1]
        c_start = sent.offset + lo.idx
        c_end = sent.offset + hi.idx + len(hi)
        return [
            Claim(
                kind="statement",
                text=text[sent.start : sent.end],
                start=sent.start,
                end=sent.end,
                value_start=c_start,
                value_end=c_end,
                attribution=_copy(cue.attribution),
                hedges=find_hedges(text[sent.start : sent.end]),
            )
        ]
    return []
