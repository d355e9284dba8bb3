"""Fields that make numeric claims comparable across articles (issue 15): what a figure counts
(``unit_norm``, ``unit_class``, ``currency``), what happened to it (``event``), where
(``place``), and what kind of figure it is (total, rate, share, change, ordinal).

Rules over the spaCy parse of the figure's sentence plus the word lists in
``data/lexicon.yaml``; every value is derived from words of the sentence (or, for a figure that
names nothing, from the claim before it in the same article, which the caller decides).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from spacy.language import Language
from spacy.lookups import Lookups
from spacy.pipeline import Lemmatizer
from spacy.tokens import Span, Token

from pipeline.nlp.numbers import FRACTIONS, Quantity, may_hold, word_value
from pipeline.nlp.tokens import (
    children_of,
    doc_heads,
    doc_lowers,
    doc_tokens,
    ent_text,
    sent_tokens,
    span_ents,
    subtree_ids,
    tokens_in_chars,
)

LEXICON_PATH = Path(__file__).with_name("data") / "lexicon.yaml"
PLACE_LABELS = ("GPE", "NORP")

_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "twentieth": 20,
}
_ORD = r"(?:" + "|".join(_ORDINAL_WORDS) + r"|\d{1,3}(?:st|nd|rd|th))"
_ORD_UNIT = r"(?:year|month|week|day)"
# "the fifth year of the war", "the war's fifth year", "in its fourth year", "for the third time".
_ORDINAL_PATTERNS = (
    re.compile(
        rf"(?i)\bthe\s+(?P<ord>{_ORD})\s+(?P<unit>{_ORD_UNIT})\s+of\s+(?:the\s+)?(?P<owner>\w+)"
    ),
    re.compile(rf"(?i)\b(?P<owner>\w+)['’]s\s+(?P<ord>{_ORD})\s+(?P<unit>{_ORD_UNIT})\b"),
    re.compile(rf"(?i)\b(?P<poss>its|their)\s+(?P<ord>{_ORD})\s+(?P<unit>{_ORD_UNIT})\b"),
    re.compile(rf"(?i)\b(?:the|a)\s+(?P<ord>{_ORD})\s+(?P<unit>time)\b"),
)


@dataclass(frozen=True)
class Lexicon:
    """The word lists of ``data/lexicon.yaml``, inverted for lookups."""

    version: int
    population_of: dict[str, str]
    class_of: dict[str, str]
    event_of: dict[str, str]
    light_verbs: frozenset[str]
    number_nouns: frozenset[str]
    change_verbs: frozenset[str]
    places: dict[str, str]
    currencies: dict[str, str]


@lru_cache(maxsize=1)
def lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """The lexicon, read once per process."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))

    def invert(groups: dict[str, list[str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for canon, words in groups.items():
            for w in [canon, *words]:
                out.setdefault(str(w).lower(), canon)
        return out

    return Lexicon(
        version=int(data["version"]),
        population_of=invert(data["populations"]),
        class_of={w: c for c, ws in data["unit_classes"].items() for w in ws},
        event_of=invert(data["events"]),
        light_verbs=frozenset(data["light_verbs"]),
        number_nouns=frozenset(data["number_nouns"]),
        change_verbs=frozenset(data["change_verbs"]),
        places={str(k).lower(): v for k, v in data["places"].items()},
        currencies={str(k).lower(): v for k, v in data["currencies"].items()},
    )


def singular(word: str) -> str:
    """A plain English singular for words the lemmatizer leaves alone (proper nouns, headlines)."""
    w = word.lower()
    if w.endswith("men") and len(w) > 4:
        return w[:-3] + "man"
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


Lemma = Callable[[Token], str]


def _indexed_copy(pipe: Any) -> Any:
    """A copy of the pipeline's rule lemmatizer whose word index holds a set per part of speech.

    spaCy's lookups data keeps the index as lists (58,000 nouns), and ``rule_lemmatize`` tests
    each candidate form with ``in``: a list scan, some 0.2 ms per new word. The copy answers
    alike (the index is only ever tested for membership) through the same public method; any
    other component, or a lemmatizer in another mode, is returned as it is.
    """
    if not isinstance(pipe, Lemmatizer) or pipe.mode != "rule":
        return pipe
    lookups = Lookups()
    for name in pipe.lookups.tables:
        table = pipe.lookups.get_table(name)
        if name == "lemma_index":
            lookups.add_table(name, {pos: frozenset(words) for pos, words in table.items()})
        else:
            lookups.set_table(name, table)
    copy = type(pipe)(pipe.vocab, pipe.model, name=pipe.name, mode=pipe.mode)
    copy.initialize(lookups=lookups)
    return copy


_LEMMA_CACHE_SIZE = 50_000


def lemmatizer_for(nlp: Language) -> Lemma:
    """Lower-case lemma of one token, with the pipeline's rule lemmatizer when it has one.

    The lemmatizer stays out of ``nlp.pipe`` (the rules read word forms); it runs here only on
    the few tokens of a figure's clause.
    """
    rules: Any = (
        _indexed_copy(nlp.get_pipe("lemmatizer")) if "lemmatizer" in nlp.component_names else None
    )
    # A lemma depends on the word, its tags and its morphology, not on the article: one answer
    # per such key for the life of the extractor (bounded: cleared when it grows too big).
    # The key holds the ids of the word, its tags and its morphology (``Token.orth``, ``pos``
    # and ``tag`` are plain ints; ``text``, ``pos_`` and ``tag_`` each cost a string lookup).
    by_form: dict[tuple[int, int, int, int], str] = {}

    def lemma(tok: Token) -> str:
        # Many rules ask for the same few tokens' lemmas: cache them on the doc. (.get, not
        # try/except: about a third of the calls miss, and a raised KeyError costs more.)
        user_data = tok.doc.user_data
        i = tok.i
        cache: dict[int, str] | None = user_data.get("mediamon_lemmas")
        if cache is None:
            cache = user_data["mediamon_lemmas"] = {}
        hit = cache.get(i)
        if hit is not None:
            return hit
        key = (tok.orth, tok.pos, tok.tag, hash(tok.morph))
        found = by_form.get(key)
        if found is None:
            if len(by_form) >= _LEMMA_CACHE_SIZE:
                by_form.clear()
            found = by_form[key] = _lemma(tok)
        cache[i] = found
        return found

    def _lemma(tok: Token) -> str:
        if tok.pos_ == "PROPN" or (tok.text.isupper() and len(tok.text) > 1):
            return singular(tok.text)
        if rules is not None and tok.pos_ in ("NOUN", "VERB", "ADJ", "AUX"):
            try:
                found = str(rules.rule_lemmatize(tok)[0]).lower()
            except (KeyError, IndexError, ValueError):
                found = tok.lower_
            # Plurals the rules do not know ("servicemen") come back unchanged.
            if found == tok.lower_ and (tok.tag_ in ("NNS", "NNPS") or found.endswith("men")):
                return singular(tok.text)
            return found
        return tok.lower_ if tok.pos_ != "NOUN" else singular(tok.text)

    return lemma


@dataclass(frozen=True)
class Ordinal:
    """An ordinal fact ("the fifth year of the war"): offsets in the searched text."""

    start: int
    end: int
    value: float
    unit: str | None
    owner: str | None
    # ordinal ("the fifth year"), multiple ("twice as much") or duration ("an 18-year
    # insurgency")
    kind: str = "ordinal"


# "a sixth fatality", "a fifth helicopter", "the third month in a row": a new instance counted.
_A_NTH = re.compile(
    rf"(?i)\b(?:a\s+(?P<ord>{_ORD})\s+(?:straight\s+|consecutive\s+)?(?P<unit>[a-z]+)\b"
    rf"|the\s+(?P<ord2>{_ORD})\s+(?P<unit2>[a-z]+)\s+(?:in\s+a\s+row|running|straight)\b)"
)
# Ordinals that name or rank a thing rather than count it ("a second round", "a third term").
_NAMING_NOUNS = {
    "night",
    "hour",
    "minute",
    "decade",
    "century",
    "of",
    "in",
    "to",
    "and",
    "or",
    "the",
    "a",
    "an",
    "as",
    "for",
    "at",
    "on",
    "by",
    "with",
    "from",
    "more",
    "less",
    "round",
    "term",
    "stage",
    "phase",
    "half",
    "quarter",
    "place",
    "edition",
    "season",
    "leg",
    "wave",
    "reading",
    "attempt",
    "time",
    "year",
    "month",
    "week",
    "day",
    "floor",
    "grade",
    "generation",
    "party",
    "person",
    "hand",
    "look",
    "opinion",
    "chance",
    "thought",
}
# Words after "a fifth" that show it is a share ("by a fifth over the past two years"): the
# ordinal needs a noun to count.
_NOT_NOUNS = {
    "over",
    "within",
    "under",
    "into",
    "since",
    "below",
    "above",
    "than",
    "per",
    "after",
    "before",
    "during",
    "through",
    "across",
    "between",
    "among",
    "last",
    "this",
    "next",
    "that",
    "which",
    "compared",
    "while",
    "but",
}
# "an 18-year insurgency", "a three-month siege": how long a named thing lasted.
# Also without an article ("16-hour shifts", "the full 40-hour course"). A compound that names
# a category ("ten-year government bonds", "a two-day meeting") is left out: only nouns whose
# length is news are listed.
_N_LONG = re.compile(
    r"(?i)(?<![\w-])(?P<num>\d{1,3}|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|fifteen|sixteen|eighteen|twenty|thirty|forty|forty-eight|seventy-two)-(?P<unit>year|month"
    r"|week|day|hour)(?:-long)?\s+(?P<owner>insurgency|war|conflict|siege|occupation|campaign"
    r"|blockade|strike|standoff|drought|shutdown|rebellion|walkout|stoppage|ceasefire|truce"
    r"|curfew|blackout|outage|lockdown|hunger strike|shifts?|course|search|manhunt|vigil"
    r"|stand-off|closure|suspension)\b"
)
_TWICE = re.compile(
    r"(?i)\btwice\s+(?:as\s+(?:much|many|high|large|long|likely|fast|big)\b"
    r"|(?:the|what|its|their|his|her|that)\s)"
)

# Every match of the patterns above holds an ordinal ("fifth", "3rd"), "twice" or a hyphenated
# length ("18-year"): a cheap look for them rules out most sentences.
_ORDINAL_HINTS = (*_ORDINAL_WORDS, "twice", "-year", "-month", "-week", "-day", "-hour")
_MAY_HOLD_ORDINAL = re.compile("(?i)" + "|".join(_ORDINAL_HINTS))
_NUMERIC_ORDINAL = re.compile(r"(?i)\d(?:st|nd|rd|th)")
# The ordinal words the ordinal patterns keep (a value of 2 or more).
_COUNTING_WORDS = tuple(w for w, v in _ORDINAL_WORDS.items() if v >= 2)
_MAY_HOLD_COUNTING = re.compile("(?i)" + "|".join(_COUNTING_WORDS))

_PERIOD_PREP = re.compile(
    r"\b(?:since|during|by|from|until|after|before|over|throughout|through|in)\s+$"
)


def find_ordinals(text: str) -> list[Ordinal]:
    """Ordinals that carry a countable fact; "for the first time" is left out (it is how news
    introduces events, rarely a figure anyone disputes)."""
    numeric = _NUMERIC_ORDINAL.search(text) is not None
    if not numeric and not may_hold(text, _ORDINAL_HINTS, _MAY_HOLD_ORDINAL):
        return []
    out: list[Ordinal] = []
    # The ordinal patterns keep only ordinals of 2 and more: without such a word (most sentences
    # that got here hold "first" or a hyphenated length) their scans cannot add anything.
    counting = numeric or may_hold(text, _COUNTING_WORDS, _MAY_HOLD_COUNTING)
    for k, pattern in enumerate(_ORDINAL_PATTERNS if counting else ()):
        for m in pattern.finditer(text):
            word = m.group("ord").lower()
            value = _ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word))
            if value < 2:
                continue  # "the first week of the offensive" dates, it does not count
            # "since the third week of the offensive": a period, not a fact ("in its fifth year"
            # is one: the possessive states where a thing has got to).
            before = text[max(0, m.start() - 12) : m.start()].lower()
            if _PERIOD_PREP.search(before) and not (k == 2 or (k == 0 and before.endswith("in "))):
                continue
            if any(o.start <= m.start("ord") < o.end for o in out):
                continue
            owner = m.groupdict().get("owner")
            out.append(
                Ordinal(m.start("ord"), m.end("unit"), value, m.group("unit").lower(), owner)
            )
    for m in _A_NTH.finditer(text) if counting else ():
        in_a_row = m.group("ord") is None
        g_ord, g_unit = ("ord2", "unit2") if in_a_row else ("ord", "unit")
        word = m.group(g_ord).lower()
        value = _ORDINAL_WORDS.get(word) or int(re.sub(r"\D", "", word))
        unit = m.group(g_unit).lower()
        if value < 2 or (unit in _NAMING_NOUNS and not in_a_row):
            continue
        if unit in _NOT_NOUNS:
            continue  # "cut deaths by a fifth within five years": a fraction, not an ordinal
        if any(o.start <= m.start(g_ord) < o.end for o in out):
            continue
        out.append(Ordinal(m.start(g_ord), m.end(g_unit), value, unit, None))
    for m in _N_LONG.finditer(text):
        raw = m.group("num").lower()
        length = float(raw) if raw.isdigit() else float(word_value(raw) or 0)
        if length and not any(o.start <= m.start("num") < o.end for o in out):
            out.append(
                Ordinal(
                    m.start("num"),
                    m.end("unit"),
                    length,
                    m.group("unit").lower(),
                    m.group("owner").lower(),
                    "duration",
                )
            )
    for m in _TWICE.finditer(text):
        if not any(o.start <= m.start() < o.end for o in out):
            out.append(Ordinal(m.start(), m.start() + len("twice"), 2, None, None, "multiple"))
    return sorted(out, key=lambda o: o.start)


_POSSESSIVE = re.compile(r"['’]s$")
_LEADING_THE = re.compile(r"(?i)^the\s+")


def place_matches(name: str, gpe: str) -> bool:
    """Whether a nationality or adjective ("Ostrelian", "Ukrainian") names the place ``gpe``."""
    a, b = name.lower(), gpe.lower()
    if a == b:
        return True
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 4 and common >= len(b) - 1 and len(a) - common <= 4


def canonical_place(text: str, known: list[str] | tuple[str, ...] = ()) -> str:
    """The place a GPE/NORP mention names: the lexicon's, else a known place it matches."""
    words = _POSSESSIVE.sub("", " ".join(text.split()))
    words = _LEADING_THE.sub("", words)
    lex = lexicon()
    hit = lex.places.get(words.lower())
    if hit:
        return hit
    for gpe in known:
        if place_matches(words, gpe):
            return gpe
    return words


def article_places(ents: list[Span]) -> list[str]:
    """Names of places in an article: GPE entities, and names the model took for something else
    ("Varnia" as ORG, common for names it has never seen) when the article also uses their
    nationality adjective ("Varnian")."""
    # Each entity's label and name, read once; an article names the same few entities again and
    # again, so each (label, name) pair is tested once (the result is a sorted set: the order
    # of the tests does not matter).
    named = {(e.label_, bare_name(ent_text(e))) for e in ents}
    names = {name for label, name in named if label == "GPE"}
    norps = {name for label, name in named if label == "NORP"}
    for label, name in named:
        if (
            label in ("ORG", "PERSON", "LOC", "FAC")
            and len(name.split()) == 1
            and any(place_matches(n, name) and n != name for n in norps)
        ):
            names.add(name)
    return sorted(n for n in names if n)


# Every entity of an article is asked for several times (places, then each figure's place).
@lru_cache(maxsize=4096)
def bare_name(text: str) -> str:
    """A name without dateline, leading article or possessive ("DRAVSK - Ostrel's" -> Ostrel)."""
    text = " ".join(text.split())
    text = text.rsplit(" - ", 1)[-1]  # "KELMOR - Ostrel": a dateline fused with the name
    return _POSSESSIVE.sub("", _LEADING_THE.sub("", text))


class ComparableRules:
    """Derives a numeric claim's comparable fields (unit_norm, event, place ...) from its
    sentence."""

    def __init__(self, lemma: Lemma) -> None:
        self.lemma = lemma
        self.lex = lexicon()

    # --- what is counted -----------------------------------------------------------------------

    def unit_tokens(self, sent: Span, offset: int, q: Quantity, unit: str | None) -> list[Token]:
        """The tokens of ``unit`` nearest after the figure (or anywhere in the sentence)."""
        if not unit:
            return []
        words = unit.split()
        # A blank unit: the word-by-word scan this replaced matched it (as no tokens) at every
        # position, and the lines below fail on such a match; kept as it was.
        found = _word_runs(sent, words) if words else [[] for _ in range(len(sent) + 1)]
        if not found:
            return []
        after = [f for f in found if offset + f[0].idx >= q.end]
        return after[0] if after else found[-1]

    def unit_norm(self, unit_toks: list[Token]) -> str | None:
        """The counted head noun as a lemma, or the lexicon's multi-word entry it ends in."""
        nouns = [t for t in unit_toks if t.pos_ in ("NOUN", "PROPN")]
        if not nouns:
            return None
        lemmas = [self.lemma(t) for t in unit_toks]
        # "civilian casualties": a population word before an event noun is what is counted.
        if lemmas[-1] in self.lex.event_of:
            for lem in lemmas[:-1]:
                if lem in self.lex.population_of:
                    return lem
        for k in range(len(lemmas)):
            phrase = " ".join(lemmas[k:])
            if phrase in self.lex.population_of:
                return phrase
        return self.lemma(nouns[-1])

    def population(self, unit_norm: str | None) -> str | None:
        """Canonical population of a unit ("servicemen" and "troops" -> soldier)."""
        if unit_norm is None:
            return None
        return self.lex.population_of.get(unit_norm, unit_norm)

    def unit_class(self, q: Quantity, unit_norm: str | None) -> tuple[str | None, str | None]:
        """(unit_class, currency): money and percent from the figure, else from the lexicon."""
        if q.currency:
            return "money", self.lex.currencies.get(q.currency.lower(), q.currency)
        if q.percent:
            return "percent", None
        if unit_norm is None:
            return None, None
        if unit_norm in self.lex.currencies:
            return "money", self.lex.currencies[unit_norm]
        pop = self.population(unit_norm)
        return self.lex.class_of.get(pop or "", "count"), None

    # --- what happened --------------------------------------------------------------------------

    def _event_word(self, tok: Token) -> str | None:
        return self.lex.event_of.get(self.lemma(tok))

    def _noun_event(self, noun: Token) -> str | None:
        """The event a noun stands for ("desertions", "deserters"), or its "of" object's
        ("the number of deserters")."""
        hit = self._event_word(noun)
        if hit:
            return hit
        if self.lemma(noun) in self.lex.number_nouns:
            for prep in (c for c in children_of(noun) if c.dep_ == "prep" and c.lower_ == "of"):
                for obj in (c for c in children_of(prep) if c.dep_ == "pobj"):
                    hit = self._noun_event(obj)
                    if hit:
                        return hit
        for mod in (c for c in children_of(noun) if c.dep_ in ("compound", "amod")):
            hit = self._event_word(mod)
            if hit:
                return hit
        return None

    def _verb_event(self, verb: Token, unit_lemma: str | None) -> str | None:
        lemma = self.lemma(verb)
        kids = children_of(verb)
        deps = [c.dep_ for c in kids]  # each read once
        objs = [
            c
            for c, dep in zip(kids, deps, strict=True)
            if dep in ("dobj", "prt", "acomp", "attr", "oprd", "advmod")
        ]
        preps = [
            obj
            for p, dep in zip(kids, deps, strict=True)
            if dep in ("prep", "agent")
            for obj in children_of(p)
            if obj.dep_ == "pobj"
        ]
        if self.lex.event_of.get(lemma) == "kill" and any(
            dep == "conj" and self._event_word(c) == "wound"
            for c, dep in zip(kids, deps, strict=True)
        ):
            return "casualty"  # "killed or wounded"
        if lemma == "lose":
            # "losing 1,200 soldiers each month to desertion": the loss is to the event named.
            for p in kids:
                if p.dep_ == "prep" and p.lower_ == "to":
                    for obj in (c for c in children_of(p) if c.dep_ == "pobj"):
                        hit = self._event_word(obj)
                        if hit:
                            return hit
        phrases = []
        if unit_lemma:
            phrases.append(f"{lemma} {unit_lemma}")
        phrases += [f"{lemma} {self.lemma(o)}" for o in objs]
        phrases += [f"{lemma} to {self.lemma(o)}" for o in preps] + [
            f"{lemma} {self.lemma(o)}" for o in preps
        ]
        for phrase in phrases:
            if phrase in self.lex.event_of:
                return self.lex.event_of[phrase]
        if lemma in self.lex.light_verbs or verb.pos_ == "AUX":
            return None
        return self.lex.event_of.get(lemma, lemma)

    def event(
        self, sent: Span, fig: list[Token], unit_toks: list[Token], cue_forms: set[str]
    ) -> str | None:
        """The predicate the figure is an argument of, as a canonical event."""
        head = unit_toks[-1] if unit_toks else (fig[-1] if fig else None)
        if head is None:
            return None
        unit_lemma = self.lemma(head) if unit_toks else None
        verb = governing_verb(head)
        tok = verb if verb is not None else head
        if unit_toks:
            hit = self._noun_event(head)
            if hit and (
                verb is None or self.lemma(verb) in self.lex.light_verbs or tok.lower_ in cue_forms
            ):
                return hit
        if verb is not None and verb.lower_ not in cue_forms:
            hit = self._verb_event(verb, unit_lemma)
            if hit:
                return hit
            # A light verb: the event is in its subject or object ("desertions rose to 21,600").
            for c in children_of(verb):
                if c.dep_ in ("nsubj", "nsubjpass", "dobj") and c.i != head.i:
                    hit = self._noun_event(c)
                    if hit:
                        return hit
        if unit_toks:
            return self._noun_event(head)
        return None

    # --- where ----------------------------------------------------------------------------------

    def place(
        self,
        sent: Span,
        offset: int,
        q: Quantity,
        unit_toks: list[Token],
        known: list[str],
        cue_forms: set[str],
    ) -> str | None:
        """The country or region the figure is about, in order: a nationality or place that
        modifies what is counted ("Ostrelian soldiers"); one that is the subject or object of the
        figure's verb ("Ostrel has lost", "have fled Varnia"); the nearest other place in the
        sentence; a place in the speaker's phrase ("Varnian Defence Minister ... said")."""
        places = _sentence_places_of(sent, known, cue_forms)
        ents = places.ents
        if not ents:
            return None
        head = unit_toks[-1] if unit_toks else None
        roots, root_heads, speaker = places.roots, places.root_heads, places.speaker
        if head is not None:
            head_i = head.i
            unit_ids = {t.i for t in unit_toks}
            for k, e in enumerate(ents):
                if root_heads[k] == head_i or roots[k] in unit_ids:
                    return places.canonical(e, known)
        if not head:  # as ``head or ...`` reads it
            fig = figure_tokens(sent, offset, q.start, q.end)
            head = fig[-1] if fig else sent.root
        verb = governing_verb(head)
        if verb is not None:
            args = _arguments(verb)
            # The subject or object of the figure's verb is a place or the party the figure is
            # about ("Ostrel has lost", "Varnia exported", "have fled Varnia"), whatever label the
            # model gave a name it does not know.
            for e, root in zip(places.named, places.named_roots, strict=True):
                if root in args and root not in speaker:
                    return places.canonical(e, known)
        pool = [e for k, e in enumerate(ents) if roots[k] not in speaker] or list(ents)
        best = min(pool, key=lambda e: abs(offset + e.start_char - q.start))
        # ent_text is ``best.text`` (the doc's text between the span's characters)
        return places.canonical(best, known)

    def measured(self, sent: Span, fig: list[Token]) -> str | None:
        """What a bare percentage is of: the subject of its verb ("the inflation rate reached
        11.4 percent" -> inflation, "prices rose 19 percent" -> price)."""
        verb = governing_verb(fig[-1]) if fig else None
        if verb is None:
            return None
        subj = next((c for c in children_of(verb) if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subj is None or subj.pos_ not in ("NOUN", "PROPN"):
            return None
        words = [c for c in children_of(subj) if c.dep_ in ("compound", "amod") and c.i < subj.i]
        lemmas = [self.lemma(t) for t in [*words, subj]]
        for k in range(len(lemmas)):
            phrase = " ".join(lemmas[k:])
            if phrase in self.lex.population_of:
                return phrase
        if lemmas[-1] in self.lex.number_nouns and len(lemmas) > 1:
            return lemmas[-2]
        return lemmas[-1]

    # --- the whole claim -----------------------------------------------------------------------

    def figure_kind(self, q: Quantity, rate_per: str | None) -> str:
        """total, rate, share (percent or fraction); change and ordinal are set by the caller."""
        if rate_per:
            return "rate"
        if q.percent or q.text.strip().lower() in FRACTIONS:
            return "share"
        return "total"

    def is_change(self, sent: Span, offset: int, start: int) -> bool:
        """Whether a "from X to Y" at ``start`` follows a verb of change ("rose from ... to")."""
        toks = tokens_in_chars(sent, sent.start_char, start - offset)
        if toks and toks[-1].lower_ == "from" and toks[-1].head.pos_ == "VERB":
            # "extends the presidential term from five years": the verb "from" hangs on.
            return self.lemma(toks[-1].head) in self.lex.change_verbs
        for t in reversed(toks[-4:]):
            if t.pos_ in ("VERB", "AUX") or t.dep_ == "ROOT":
                return self.lemma(t) in self.lex.change_verbs
        return False


def governing_verb(tok: Token) -> Token | None:
    """The nearest verb above ``tok`` in the parse (the predicate a figure is an argument of)."""
    # Walked on the cached head ids and tokens: ``Token.head`` builds a new Token per step.
    doc = tok.doc
    heads, toks = doc_heads(doc), doc_tokens(doc)
    i = tok.i
    for _ in range(8):
        h = heads[i]
        if h == i:
            return tok if tok.pos_ in ("VERB", "AUX") else None
        i = h
        tok = toks[i]
        pos = tok.pos_
        if pos == "VERB" or (
            pos == "AUX"
            and (tok.dep_ == "ROOT" or any(c.dep_ == "nsubj" for c in children_of(tok)))
        ):
            return tok
    return None


def _arguments(verb: Token) -> set[int]:
    """Token ids of a verb's subject and objects, with their possessors ("Ostrel's army")."""
    out: set[int] = set()
    for c in children_of(verb):
        heads = [c]
        if c.dep_ in ("prep", "agent"):
            heads = [g for g in children_of(c) if g.dep_ == "pobj"]
        elif c.dep_ not in ("nsubj", "nsubjpass", "dobj", "attr"):
            continue
        for h in heads:
            out.add(h.i)
            out.update(g.i for g in children_of(h) if g.dep_ in ("poss", "compound", "amod"))
    return out


class _Places:
    """What ``place`` reads of a sentence whatever the figure: the entities that can be places
    (a place label, or a name the article knows as one); those and the one-word organisations
    and locations, which can be the party a figure is about; the speakers' tokens; the
    entities' root ids and their heads' ids (``Span.root`` walks the span on every access); and
    the canonical place of each entity asked for (the figures of a sentence share them)."""

    def __init__(self, ents: list[Span], named: list[Span], speaker: set[int]) -> None:
        self.ents, self.named, self.speaker = ents, named, speaker
        root_of = {id(e): e.root for e in [*ents, *named]}
        self.roots = [root_of[id(e)].i for e in ents]
        self.root_heads = [root_of[id(e)].head.i for e in ents]
        self.named_roots = [root_of[id(e)].i for e in named]
        self._canonical: dict[tuple[int, int], str] = {}

    def canonical(self, ent: Span, known: list[str]) -> str:
        """``canonical_place(bare_name(ent_text(ent)), known)``, once per entity."""
        key = (ent.start, ent.end)  # ``known`` is the same for the whole cache entry
        hit = self._canonical.get(key)
        if hit is None:
            hit = self._canonical[key] = canonical_place(bare_name(ent_text(ent)), known)
        return hit


def _sentence_places_of(sent: Span, known: list[str], cue_forms: set[str]) -> _Places:
    """The sentence's ``_Places``, found once per sentence (``place`` asks once per figure)."""
    cache: dict[tuple[int, int, int, tuple[str, ...]], _Places] = sent.doc.user_data.setdefault(
        "mediamon_places", {}
    )
    key = (sent.start, sent.end, id(cue_forms), tuple(known))
    hit = cache.get(key)
    if hit is None:
        known_low = {k.lower() for k in known}
        inside = span_ents(sent)
        ents = [
            e
            for e in inside
            if e.label_ in PLACE_LABELS or _POSSESSIVE.sub("", ent_text(e)).lower() in known_low
        ]
        if not ents:
            # ``place`` reads nothing else of a sentence without a place: no roots, no speakers
            hit = cache[key] = _Places(ents, [], set())
            return hit
        named = [
            e
            for e in inside
            if e in ents
            or (e.label_ in ("ORG", "LOC") and len(bare_name(ent_text(e)).split()) == 1)
        ]
        hit = cache[key] = _Places(ents, named, _speaker_tokens(sent, cue_forms))
    return hit


def _speaker_tokens(sent: Span, cue_forms: set[str]) -> set[int]:
    """Token ids of the speaker phrases of the sentence's cues ("Tessaly's interior minister,
    Dora Kallas, said"), whose places say who speaks, not what the figure is about."""
    out: set[int] = set()
    toks = sent_tokens(sent)
    lows = doc_lowers(sent.doc)[sent.start : sent.end]
    # The cue words' positions in one comprehension: most words are none.
    for k in [k for k, low in enumerate(lows) if low == "according" or low in cue_forms]:
        low = lows[k]
        t = toks[k]
        if low == "according":
            out.update(subtree_ids(t))
        else:
            for c in children_of(t):
                if c.dep_ in ("nsubj", "nsubjpass"):
                    out.update(subtree_ids(c))
    return out


def _word_runs(sent: Span, words: list[str]) -> list[list[Token]]:
    """The runs of tokens of ``sent`` whose texts are ``words`` (not empty), in text order."""
    doc = sent.doc
    toks, lows = doc_tokens(doc), doc_lowers(doc)
    first, size = words[0].lower(), len(words)
    found: list[list[Token]] = []
    # A token whose text is the first word has it lower-cased as lower_: the candidates are
    # found by list.index on the doc's lower-case column (in C), not by a loop over tokens.
    i, stop = sent.start, sent.end - size + 1
    while i < stop:
        try:
            i = lows.index(first, i, stop)
        except ValueError:
            break
        if all(toks[i + k].text == w for k, w in enumerate(words)):
            found.append(toks[i : i + size])
        i += 1
    return found


def figure_tokens(sent: Span, offset: int, start: int, end: int) -> list[Token]:
    """Tokens of the sentence inside [start, end) (article offsets)."""
    return tokens_in_chars(sent, start - offset, end - offset)


__all__ = [
    "ComparableRules",
    "Lexicon",
    "Ordinal",
    "article_places",
    "bare_name",
    "canonical_place",
    "figure_tokens",
    "find_ordinals",
    "governing_verb",
    "lemmatizer_for",
    "lexicon",
    "place_matches",
    "singular",
]
