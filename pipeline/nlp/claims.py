"""Claim extraction: numeric claims, quotes and attributed statements, with evidence offsets.

Two passes over an article's sentences: the first finds cues and speakers in reading order (so
pronouns resolve to earlier names), the second turns figures, quotations and reported clauses
into :class:`~pipeline.nlp.records.Claim` records.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from spacy.language import Language
from spacy.symbols import AUX, VERB
from spacy.tokens import Doc, Span, Token

from pipeline.nlp.attribution import (
    CUE_FORMS,
    NEUTRAL,
    SHOW_FORMS,
    Cue,
    channels,
    citations,
    find_cues,
)
from pipeline.nlp.comparable import (
    PLACE_LABELS,
    ComparableRules,
    article_places,
    canonical_place,
    figure_tokens,
    find_ordinals,
    lemmatizer_for,
)
from pipeline.nlp.figures import (
    carried_unit,
    measured_rate,
    not_a_figure,
    rate_of,
    unit_of,
)
from pipeline.nlp.hedges import find_hedges, hedges_of_figure
from pipeline.nlp.loading import pipe_chunks
from pipeline.nlp.numbers import Quantity, find_quantities, number_style, qualifier_before
from pipeline.nlp.periods import Period, find_periods
from pipeline.nlp.quotes import QuoteSpan, find_quotes, inside
from pipeline.nlp.records import Analysis, Attribution, Claim, EntityCount
from pipeline.nlp.speakers import (
    PRONOUNS,
    SpeakerMemory,
    describe,
    looks_like_person,
    remember_people,
)
from pipeline.nlp.tokens import (
    children_of,
    doc_ents,
    doc_heads,
    doc_pos_ids,
    doc_tokens,
    ent_text,
    ents_at_char,
    np_tokens,
    release_doc,
    sent_tokens,
    span_ents,
    subject,
    subtree_ids,
    subtree_tokens,
    tokens_in_chars,
)

ENTITY_LABELS = ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT")
# ``Token.pos`` of the tokens whose ``pos_`` is "VERB" or "AUX".
_VERBAL = frozenset((VERB, AUX))
DEFAULT_MAX_CHARS = 20_000
DEFAULT_BATCH = 32


@dataclass
class _Sentence:
    span: Span
    offset: int  # of the doc in the article
    cues: list[Cue]
    via: list[str] = dataclasses.field(default_factory=list)
    cites: list[str] = dataclasses.field(default_factory=list)
    # Article offsets, fixed once: quotations look them up for every sentence.
    start: int = dataclasses.field(init=False)
    end: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.start = self.offset + self.span.start_char
        self.end = self.offset + self.span.end_char


def _copy(attr: Attribution) -> Attribution:
    # Derived from the dataclass (no field list to keep in step by hand); the lists are new, as
    # the caller extends them per claim.
    return dataclasses.replace(attr, via=list(attr.via), cites=list(attr.cites))


def _pick_cue(q: Quantity, sent: _Sentence) -> Cue | None:
    """The cue governing the figure: a cue verb among its syntactic heads, else "according to",
    else the nearest cue; never one whose speaker phrase contains the figure."""
    if not sent.cues:
        return None  # most sentences: no cue, so no figure span or parse walk
    rel_start, rel_end = q.start - sent.offset, q.end - sent.offset
    doc = sent.span.doc
    fig = doc.char_span(rel_start, rel_end, alignment_mode="expand")
    # The figure's token ids, and the tokens above its last one (``Token.ancestors``, from the
    # cached head ids: the cues below test them once each instead of re-walking the parse).
    ids = range(fig.start, fig.end) if fig is not None else range(0)
    ancestors = _ancestors(doc, ids[-1]) if ids else []
    eligible = [
        c
        for c in sent.cues
        if not any(i in c.speaker_tokens for i in ids) and not _describes_speaker_of(ancestors, c)
    ]
    if not eligible:
        return None
    according = [c for c in eligible if c.text == "according to"]
    if ids:
        by_token = {c.token.i: c for c in eligible}
        for anc in ancestors:
            if anc.i in by_token:
                # "Officials had confirmed 112 deaths, according to the ministry": the source
                # named by "according to" reports the cue's clause, so it is the source.
                outer = [c for c in according if c.token.head.i == anc.i]
                if outer:
                    return outer[0]
                if anc.lower_ in SHOW_FORMS or anc.lower_ in CUE_FORMS:
                    # "The official said satellite imagery showed 12 depots", "The union said
                    # its members had reported 212 thefts": whoever reports the inner claim
                    # is the source.
                    reporter = _reporter(anc, by_token)
                    if reporter is not None:
                        return reporter
                return by_token[anc.i]
    if according:
        return according[0]
    # A cue inside an adverbial clause ("after Qadira announced cuts") tells what happened;
    # it attributes nothing outside that clause.
    eligible = [c for c in eligible if not _in_adverbial_clause(c.token)]
    if not eligible:
        return None
    return min(eligible, key=lambda c: abs(c.token.idx - rel_start))


def _ancestors(doc: Doc, i: int) -> list[Token]:
    """``doc[i].ancestors`` (nearest first) from the cached head ids: ``Token.ancestors`` and
    ``Token.head`` build a new Token per step."""
    heads, toks = doc_heads(doc), doc_tokens(doc)
    out: list[Token] = []
    # The guard of Token.ancestors: no token has more ancestors than the doc has tokens.
    while heads[i] != i and len(out) < len(toks):
        i = heads[i]
        out.append(toks[i])
    return out


def _describes_speaker_of(ancestors: list[Token], cue: Cue) -> bool:
    """Whether the figure sits in a relative clause on the speaker's own noun phrase ("The
    guards' union, which represents 3,900 staff, said ...", "said Ellen Cowley, who moved 60
    head of cattle"): the writer's background on the speaker, not what the speaker said.
    ``ancestors``: those of the figure's last token (``_ancestors``), nearest first."""
    speaker = cue.speaker_tokens
    if not ancestors or not speaker:
        return False
    cue_i = cue.token.i
    heads = doc_heads(ancestors[0].doc)
    for anc in ancestors:
        i = anc.i
        if i == cue_i:
            return False
        if heads[i] in speaker and anc.dep_ in ("relcl", "acl"):
            return True
    return False


def _reporter(inner: Token, by_token: dict[int, Cue]) -> Cue | None:
    """The speech cue whose reported clause holds the cue ``inner`` ("said [its members had
    reported ...]"); None when ``inner`` is not reported speech, e.g. a contrast clause
    ("..., while police estimated ...")."""
    tok = inner
    while tok.head.i != tok.i:
        if tok.dep_ not in ("ccomp", "xcomp", "conj"):
            return None
        tok = tok.head
        if tok.i in by_token and tok.lower_ in CUE_FORMS:
            return by_token[tok.i]
    return None


_SUBORDINATORS = {"after", "before", "when", "because", "since", "until", "once", "as", "while"}


def _in_adverbial_clause(tok: Token) -> bool:
    """Whether ``tok`` heads a clause opened by a subordinating conjunction ("after X
    announced ...")."""
    return tok.dep_ == "advcl" and any(
        c.dep_ == "mark" and c.lower_ in _SUBORDINATORS for c in children_of(tok)
    )


def _period_for(q: Quantity, periods: list[Period]) -> Period | None:
    after = [p for p in periods if p.start >= q.end]
    if after:
        return after[0]
    before = [p for p in periods if p.end <= q.start]
    return before[-1] if before else None


_THE = re.compile(r"^the\s+")
_POSSESSIVE = re.compile(r"['’]s$")


def _entity_key(text: str) -> str:
    key = " ".join(text.split()).lower()
    key = _THE.sub("", key)
    return _POSSESSIVE.sub("", key)


class ClaimExtractor:
    """Extracts claims and entities from article texts with one loaded spaCy pipeline."""

    def __init__(
        self, nlp: Language, *, max_chars: int = DEFAULT_MAX_CHARS, batch_size: int = DEFAULT_BATCH
    ) -> None:
        self.nlp = nlp
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.rules = ComparableRules(lemmatizer_for(nlp))

    def analyse_many(self, items: Iterable[tuple[str, date | None]]) -> Iterator[Analysis]:
        """Analyse (text, publication date) pairs in order, batching them through ``nlp.pipe``."""
        items = list(items)
        chunks = pipe_chunks(
            self.nlp, (t for t, _ in items), max_chars=self.max_chars, batch_size=self.batch_size
        )
        for (text, published), docs in zip(items, chunks, strict=True):
            yield analyse_docs(text, docs, published, rules=self.rules)

    def analyse(self, text: str, published: date | None = None) -> Analysis:
        """Analyse one article text."""
        return next(self.analyse_many([(text, published)]))


def analyse_docs(
    text: str,
    docs: list[tuple[int, Doc]],
    published: date | None,
    *,
    rules: ComparableRules | None = None,
) -> Analysis:
    """Claims and entities of one article already parsed as (offset, doc) chunks; with
    ``rules``, numeric claims also get their comparable fields (unit_norm, event, place...)."""
    quotes = find_quotes(text)
    memory = SpeakerMemory()
    sentences: list[_Sentence] = []
    entities: Counter[tuple[str, str]] = Counter()
    first_text: dict[tuple[str, str], str] = {}
    # An article names the same few entities again and again: each written form's key once.
    keys: dict[str, str] = {}
    for offset, doc in docs:
        for ent in doc_ents(doc):
            label = ent.label_  # a string lookup per read: once
            if label in ENTITY_LABELS:
                written = ent_text(ent)
                bare = keys.get(written)
                if bare is None:
                    bare = keys[written] = _entity_key(written)
                key = (bare, label)
                entities[key] += 1
                if key not in first_text:
                    first_text[key] = " ".join(written.split())
        for span in doc.sents:
            remember_people(span, memory, offset)
            via, cites = channels(span), citations(span)
            cues = [
                c
                for c in find_cues(span, memory, offset, via, cites)
                if inside(quotes, offset + c.token.idx) is None
                and not _speaker_quoted(c, doc, offset, quotes)
            ]
            sentences.append(_Sentence(span, offset, cues, via, cites))

    claims: list[Claim] = []
    quote_attr: dict[int, Attribution] = {}
    claims += _quote_claims(text, quotes, sentences, quote_attr)
    known = article_places([e for _, d in docs for e in doc_ents(d)])
    context = _Context(rules, known)
    headline = _headline_end(text)
    style = number_style(text)
    for sent in sentences:
        if sent.start < headline:
            continue  # the headline restates a figure of the body, where it is attributed
        numeric = _numeric_claims(text, sent, quotes, quote_attr, published, style)
        numeric += _ordinal_claims(text, sent, quotes, quote_attr, rules)
        numeric.sort(key=lambda c: c.value_start or 0)
        context.annotate(sent, numeric)
        claims += numeric
        if all(c.attribution.speaker is None for c in numeric):
            # a figure nobody in the sentence gives (background on the speaker: "Hélène
            # Marchal, who had booked seats for her three grandchildren, said she would wait")
            # leaves the cue's own statement
            claims += _statement_claims(text, sent, quotes)
    claims.sort(key=lambda c: (c.start, c.value_start or 0))
    ents = [EntityCount(first_text[k], k[0], k[1], n) for k, n in sorted(entities.items()) if k[0]]
    for _, doc in docs:
        release_doc(doc)
    return Analysis(claims=claims, entities=ents, words=len(text.split()))


def _speaker_quoted(cue: Cue, doc: Doc, offset: int, quotes: list[QuoteSpan]) -> bool:
    """Whether the cue's speaker is words inside quotation marks ('said that "more than 280,000
    citizens" had signed ... and accused ...'): quoted words are what is said, never who says
    it."""
    ids = cue.speaker_tokens
    toks = doc_tokens(doc)
    return bool(ids) and all(inside(quotes, offset + toks[i].idx) is not None for i in ids)


_HEADLINE = re.compile(r"[^\n]{1,200}?(?<![.!?\"”’:;])[ \t]*\n[ \t]*\n")


def _headline_end(text: str) -> int:
    """End of a headline at the top of the text (a short first line without closing punctuation,
    then a blank line): page furniture, not a sentence of the article. 0 when there is none."""
    m = _HEADLINE.match(text)
    if m is None or len(m.group(0).split()) > 25:
        return 0
    return m.end()


def _numeric_claims(
    text: str,
    sent: _Sentence,
    quotes: list[QuoteSpan],
    quote_attr: dict[int, Attribution],
    published: date | None,
    style: str = "en",
) -> list[Claim]:
    stext = text[sent.start : sent.end]
    # Page furniture (datelines, captions, reference lines) has no verb.
    span = sent.span
    if len(span) < 4 or _VERBAL.isdisjoint(doc_pos_ids(span.doc)[span.start : span.end]):
        return []
    quantities = find_quantities(stext, style)
    if not quantities:
        return []  # most sentences: no need to look for their periods
    periods = find_periods(stext, published)
    spans = [(p.start, p.end) for p in periods]
    found = [q for q in quantities if not_a_figure(stext, q, spans) is None]
    spans = [(q.start + sent.start, q.end + sent.start) for q in found]
    out: list[Claim] = []
    for k, q in enumerate(found):
        nxt = found[k + 1].start if k + 1 < len(found) else None
        absolute = q.shifted(sent.start)
        attr = _attribution_for(absolute, sent, quotes, quote_attr)
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
                hedges=_own_hedges(
                    hedges_of_figure(sent.span, sent.offset, spans[k], spans), attr, sent
                ),
                value_low=q.low,
                value_high=q.high,
                qualifier=q.qualifier,
                unit=unit,
                rate_per=rate_of(stext, q, nxt) or measured_rate(absolute, sent.span, sent.offset),
                period=period.text if period else None,
                period_start=period.date_start if period else None,
                period_end=period.date_end if period else None,
            )
        )
    return out


def _own_hedges(hedges: list[str], attr: Attribution, sent: _Sentence) -> list[str]:
    """ "according to X" hedges X's figures, not those another source gives in the same sentence
    ("..., according to police, while organisers put the crowd at 20,000")."""
    if "according to" not in hedges or attr.cue == "according to" or attr.speaker is None:
        return hedges
    sources = [c.attribution.speaker for c in sent.cues if c.text == "according to"]
    if sources and attr.speaker not in sources:
        return [h for h in hedges if h != "according to"]
    return hedges


def _attribution_for(
    q: Quantity, sent: _Sentence, quotes: list[QuoteSpan], quote_attr: dict[int, Attribution]
) -> Attribution:
    """Who gives the figure at ``q`` (article offsets): its cue, else the quotation it sits in,
    else nobody named (channels and citations of the sentence still count)."""
    cue = _pick_cue(q, sent)
    quoted = inside(quotes, q.start)
    if cue is not None:
        return _copy(cue.attribution)
    if quoted is not None and quoted.start in quote_attr:
        return _copy(quote_attr[quoted.start])
    return Attribution(via=list(sent.via), cites=list(sent.cites))


def _quote_claims(
    text: str,
    quotes: list[QuoteSpan],
    sentences: list[_Sentence],
    quote_attr: dict[int, Attribution],
) -> list[Claim]:
    out: list[Claim] = []
    previous: tuple[QuoteSpan, Attribution] | None = None
    # Sentences come in text order, so the ones around a quotation are one run of them, found by
    # bisection (a scan of every sentence per quotation when the order does not hold).
    starts = [s.start for s in sentences]
    ends = [s.end for s in sentences]
    ordered = starts == sorted(starts) and ends == sorted(ends)
    for q in quotes:
        if ordered:
            # start < q.end + 1 is a prefix of the sentences, end > q.start - 1 a suffix
            around = sentences[bisect_right(ends, q.start - 1) : bisect_left(starts, q.end + 1)]
        else:
            around = [s for s in sentences if s.start < q.end + 1 and s.end > q.start - 1]
        if not around:
            continue
        ranked = sorted(
            (
                (_distance(s.offset + c.token.idx, q), i, c)
                for i, (s, c) in enumerate((s, c) for s in around for c in s.cues)
            ),
            key=lambda t: (t[0], t[1]),
        )
        cue = ranked[0][2] if ranked else None
        if cue is not None:
            attr = _copy(cue.attribution)
            cue_sents = [s for s in around if cue in s.cues]
        elif (intro := _introduced_by(text, q, sentences)) is not None:
            # Before the previous quotation's speaker: "A doctor ... said:" between two
            # quotations introduces a new voice.
            attr, cue_sents = intro, []
        elif previous is not None and _gap_sentences(sentences, previous[0].end, q.start) <= 1:
            attr, cue_sents = _copy(previous[1]), []
        else:
            continue
        start = min(s.start for s in around + cue_sents)
        end = max(s.end for s in around + cue_sents)
        quote_attr[q.start] = attr
        previous = (q, attr)
        if len(around) == 1 and _partial(text, q, around[0]):
            continue  # a fragment quoted inside reported speech is not a quotation record
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


_INTRO_WORDS = re.compile(
    r"(?i)\b(?:statement|statements|declaration|remarks|speech|letter|briefing|interview"
    r"|described|describes|outlined|recounted|explained)\b"
)
# An account the next paragraphs quote: "X described conditions in the camps at a briefing."
_ACCOUNT_WORDS = re.compile(r"(?i)\b(?:described|describes|outlined|recounted|explained)\b")


def _introduced_by(text: str, q: QuoteSpan, sentences: list[_Sentence]) -> Attribution | None:
    """The speaker of a quotation that opens right after a sentence introducing it: "In a
    statement, the general secretary, Moira Keogh, said:" or "In a long statement ..., the
    union's general secretary, Marguerite Lavaud, set out the drivers' case." (then the quoted
    paragraphs). Only the sentence directly before the opening mark, and only when it ends with
    a colon or speaks of a statement, speech or letter."""
    before = [s for s in sentences if s.end <= q.start]
    if not before:
        return None
    intro = before[-1]
    if text[intro.end : q.start - 1].strip():
        return None
    words = text[intro.start : intro.end].rstrip()
    colon = words.endswith(":")
    if not colon and not _INTRO_WORDS.search(words):
        return None
    if intro.cues:
        account = colon or _ACCOUNT_WORDS.search(words) is not None
        return _copy(intro.cues[-1].attribution) if account else None
    root = intro.span.root
    subj = subject(root) if root.pos_ in ("VERB", "AUX") else None
    if subj is None or subj.lower_ in PRONOUNS:
        return None
    described = describe(np_tokens(subj))
    if described is None:
        return None
    name, role, start, end = described
    person = any(e.label_ == "PERSON" for e in ents_at_char(root.doc, start))
    if not looks_like_person(name, person):
        return None
    return Attribution(
        cue=root.text,
        cue_stance=NEUTRAL,
        speaker=name,
        speaker_role=role,
        speaker_start=intro.offset + start,
        speaker_end=intro.offset + end,
        speaker_kind="person",
    )


def _distance(pos: int, q: QuoteSpan) -> int:
    """Characters between a cue at article offset ``pos`` and a quotation (0 if adjacent)."""
    return q.start - pos if pos < q.start else pos - q.end


def _gap_sentences(sentences: list[_Sentence], a: int, b: int) -> int:
    return sum(1 for s in sentences if s.start >= a and s.end <= b)


def _partial(text: str, q: QuoteSpan, sent: _Sentence) -> bool:
    """A quoted fragment inside the sentence's own words: it opens after the sentence has
    begun, in lower case, and closes before the sentence ends."""
    opened_inside = q.start - 1 > sent.start and text[sent.start : q.start - 1].strip() != ""
    return opened_inside and q.text[:1].islower() and q.end < sent.end


def _statement_claims(text: str, sent: _Sentence, quotes: list[QuoteSpan]) -> list[Claim]:
    if all(c.attribution.speaker is None for c in sent.cues):
        return []  # most sentences: no cue names a speaker, so no statement (no quote scan)
    # A partial quote inside reported speech ('said the city "cannot print money"') leaves the
    # sentence a statement; a full quotation makes it a quote record instead.
    if any(
        q.start < sent.end and q.end > sent.start and not _partial(text, q, sent) for q in quotes
    ):
        return []
    for cue in sent.cues:
        if cue.attribution.speaker is None:
            continue
        tok = cue.token
        if cue.text == "according to":
            idx = set(subtree_ids(tok))
            rest = [t for t in sent_tokens(sent.span) if t.i not in idx and not t.is_punct]
            if not rest:
                continue
            lo, hi = rest[0], rest[-1]
        else:
            clause = next((c for c in children_of(tok) if c.dep_ == "ccomp"), None)
            if clause is not None:
                sub = subtree_tokens(clause)
            elif tok.dep_ == "parataxis" and tok.head.i != tok.i:
                # "These warnings, she argued, were ignored": the cue sits inside what it
                # reports; the statement is the rest of its head's clause.
                aside = set(subtree_ids(tok))
                sub = [t for t in subtree_tokens(tok.head) if t.i not in aside and not t.is_punct]
            else:
                continue
            if not sub:
                continue
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


@dataclass
class _Context:
    """Article-level state for the comparable fields: the places named so far and the last
    numeric claim, which a figure that names nothing continues ("She said about 180,000 since
    January" after a sentence about deserters)."""

    rules: ComparableRules | None
    known: list[str]
    place: str | None = None
    last: Claim | None = None
    last_sentence: int = -1
    sentence: int = 0
    # speaker -> (sentence number, what they cited there)
    cited: dict[str, tuple[int, list[str]]] = dataclasses.field(default_factory=dict)
    # canonical_place of each written place (``known`` is fixed): an article repeats its places
    canonical: dict[str, str] = dataclasses.field(default_factory=dict)

    def _canonical(self, written: str) -> str:
        hit = self.canonical.get(written)
        if hit is None:
            hit = self.canonical[written] = canonical_place(written, self.known)
        return hit

    def annotate(self, sent: _Sentence, numeric: list[Claim]) -> None:
        self.sentence += 1
        # "..., Loret said, citing the Prosecutor General's Office. She said 1,500 a month":
        # the next sentence's figures from the same speaker rest on the same source.
        for c in numeric:
            a = c.attribution
            prior = self.cited.get(a.speaker or "")
            if a.speaker and not a.cites and prior and prior[0] == self.sentence - 1:
                a.cites = list(prior[1])
        for cue in sent.cues:
            a = cue.attribution
            if a.speaker and a.cites:
                self.cited[a.speaker] = (self.sentence, list(a.cites))
        rules = self.rules
        if rules is not None:
            _changes(rules, sent, numeric)
            for c in numeric:
                self._fill(rules, sent, c)
        places = [e for e in span_ents(sent.span) if e.label_ in PLACE_LABELS]
        if places:
            self.place = self._canonical(ent_text(places[-1]))
        if numeric:
            self.last, self.last_sentence = numeric[-1], self.sentence

    def _fill(self, rules: ComparableRules, sent: _Sentence, c: Claim) -> None:
        assert c.value_start is not None and c.value_end is not None
        q = _as_quantity(c)
        cues = _CUE_WORDS
        if c.figure_kind == "ordinal":
            # The war's year: a place only when one qualifies the owner ("the Varnian war").
            return
        fig = figure_tokens(sent.span, sent.offset, c.value_start, c.value_end)
        utoks = rules.unit_tokens(sent.span, sent.offset, q, c.unit)
        c.unit_norm = rules.unit_norm(utoks)
        nationals = utoks[-1].ent_type_ == "NORP" if utoks else False
        if nationals:
            c.unit_norm = "people"  # "1,300 Ostrelians": people of that place
        c.unit_class, c.currency = rules.unit_class(q, c.unit_norm)
        if c.unit_norm is None and c.currency:
            c.unit_norm = c.currency.lower()
        if c.unit_class == "percent" and c.unit_norm is None:
            c.unit_norm = rules.measured(sent.span, fig)
        c.event = rules.event(sent.span, fig, utoks, cues)
        if nationals:
            c.place = self._canonical(utoks[-1].text)
        else:
            c.place = rules.place(sent.span, sent.offset, q, utoks, self.known, cues) or self.place
        if c.figure_kind is None:
            c.figure_kind = rules.figure_kind(q, c.rate_per)
        prev = self.last
        if (
            c.unit is None
            and c.event is None
            and prev is not None
            and prev.figure_kind != "ordinal"
            and self.sentence - self.last_sentence <= 1
            and (prev.unit_class == "percent") == (c.unit_class == "percent")
            and c.unit_class != "money"
        ):
            c.unit_norm, c.unit_class, c.event = prev.unit_norm, prev.unit_class, prev.event
            c.currency = prev.currency
            c.place = c.place or prev.place
        self.last = c


# The cue words as the comparable rules take them (read only): built once, not per figure.
_CUE_WORDS = set(CUE_FORMS)


def _as_quantity(c: Claim) -> Quantity:
    assert c.value_start is not None and c.value_end is not None
    return Quantity(
        start=c.value_start,
        end=c.value_end,
        text=c.text[c.value_start - c.start : c.value_end - c.start],
        low=c.value_low or 0.0,
        high=c.value_high or 0.0,
        qualifier=c.qualifier or "exact",
        percent=c.unit_class == "percent" or (c.unit or "") in ("%", "percent", "per cent"),
        currency=None,
        has_scale=False,
        is_range=c.qualifier == "range",
    )


def _ordinal_claims(
    text: str,
    sent: _Sentence,
    quotes: list[QuoteSpan],
    quote_attr: dict[int, Attribution],
    rules: ComparableRules | None,
) -> list[Claim]:
    """Ordinal facts ("the war's fifth year", "for the third time") as numeric claims."""
    stext = text[sent.start : sent.end]
    out: list[Claim] = []
    for o in find_ordinals(stext):
        start, end = o.start + sent.start, o.end + sent.start
        # "nearly twice as much", "more than twice the $150 million": the usual words qualify
        # a multiple; an ordinal is always exact.
        qualifier = qualifier_before(stext, o.start)[0] if o.kind == "multiple" else "exact"
        q = Quantity(
            start, end, text[start:end], o.value, o.value, qualifier, False, None, False, False
        )
        attr = _attribution_for(q, sent, quotes, quote_attr)
        lemma = rules.lemma if rules is not None else (lambda t: str(t.lower_))
        event = _ordinal_event(sent, start, o.owner, o.unit or "", lemma)
        out.append(
            Claim(
                kind="numeric",
                text=stext,
                start=sent.start,
                end=sent.end,
                value_start=start,
                value_end=end,
                attribution=attr,
                hedges=find_hedges(stext),
                value_low=float(o.value),
                value_high=float(o.value),
                qualifier=qualifier,
                unit=o.unit,
                unit_norm=o.unit,
                unit_class={"ordinal": "ordinal", "duration": "duration"}.get(o.kind),
                event=event,
                # a multiple ("twice as much") is a ratio: a share of something named elsewhere
                figure_kind={"ordinal": "ordinal", "duration": "total"}.get(o.kind, "share"),
            )
        )
    return out


def _ordinal_event(
    sent: _Sentence, start: int, owner: str | None, unit: str, lemma: Callable[[Token], str]
) -> str | None:
    """What an ordinal counts the years or times of: the owner noun ("of the war", "the war's"),
    the clause subject for "its"/"their", the clause verb for "the third time"."""
    from pipeline.nlp.comparable import lexicon

    lex = lexicon()
    if owner and owner.lower() not in ("its", "their"):
        low = owner.lower()
        return lex.event_of.get(low, low)
    toks = tokens_in_chars(sent.span, start - sent.offset, sent.span.end_char)
    if not toks:
        return None
    tok = toks[0]
    for _ in range(8):
        if tok.pos_ in ("VERB", "AUX") or tok.head.i == tok.i:
            break
        tok = tok.head
    if unit == "time":
        # "the third time that Calder had brokered an exchange": the clause on "time" says what.
        time_tok = next((t for t in toks if t.lower_ == "time"), None)
        clause = next(
            (
                c
                for c in (children_of(time_tok) if time_tok is not None else [])
                if c.dep_ in ("relcl", "acl", "advcl", "ccomp")
            ),
            None,
        )
        verb = clause if clause is not None else (tok if tok.pos_ == "VERB" else None)
        if verb is None:
            return None
        low = lemma(verb)
        return lex.event_of.get(low, low)
    subj = next((c for c in children_of(tok) if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subj is None or subj.pos_ not in ("NOUN", "PROPN"):
        return None
    low = subj.lower_
    return lex.event_of.get(low, low)


_FROM = re.compile(r"(?i)\bfrom\s+$")
# "from 2.1 million tonnes to 1.5 million": the unit may be written after the first figure.
_TO = re.compile(r"(?i)^\s*(?:[a-z%]+\s+){0,3}to\s+$")


def _changes(rules: ComparableRules, sent: _Sentence, numeric: list[Claim]) -> None:
    """Turn "rose from 0.90 to 1.23 percent" (one range) and "fell from 1.23 to 0.90 percent"
    (two figures) into one change claim: value_from/value_to, the figure is the level reached."""
    k = 0
    while k < len(numeric):
        c = numeric[k]
        assert c.value_start is not None and c.value_end is not None
        figure = c.text[c.value_start - c.start : c.value_end - c.start]
        before = c.text[: c.value_start - c.start]
        nxt = numeric[k + 1] if k + 1 < len(numeric) else None
        if (
            c.qualifier == "range"
            and figure.lower().startswith("from")
            and rules.is_change(sent.span, sent.offset, c.value_start)
        ):
            c.value_from, c.value_to = c.value_low, c.value_high
        elif (
            nxt is not None
            and nxt.figure_kind is None
            and c.figure_kind is None
            and nxt.value_start is not None
            and _FROM.search(before)
            and _TO.match(c.text[c.value_end - c.start : nxt.value_start - c.start])
            # "from 3.1 million in September to 3.6 million in October": two dated figures.
            and not (c.period and nxt.period and c.period != nxt.period)
            and rules.is_change(sent.span, sent.offset, c.value_start)
        ):
            c.value_from, c.value_to = c.value_low, nxt.value_low
            c.value_end = nxt.value_end
            c.unit = c.unit or nxt.unit
            c.period = c.period or nxt.period
            # "from 1,450 pesos to 1,520 pesos a month": the rate is written once, at the end.
            c.rate_per = c.rate_per or nxt.rate_per
            numeric.pop(k + 1)
        else:
            k += 1
            continue
        c.value_low = c.value_high = c.value_to
        c.qualifier = "exact"
        c.figure_kind = "change"
        k += 1
