"""Speakers: splitting a speaker phrase into name and role, and remembering speakers and people
through an article so "She claimed" / "They argue" resolve to the right name."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from spacy.tokens import Span, Token

from pipeline.nlp.records import Attribution
from pipeline.nlp.tokens import (
    ANONYMOUS_HEADS,
    NAME_PARTICLES,
    children_of,
    clean,
    doc_ents,
    doc_heads,
    doc_lowers,
    doc_text,
    doc_tokens,
    ent_text,
    ents_at_char,
    ents_ordered,
    ents_overlapping,
    is_possessive,
    np_tokens,
    strip_det,
    subject,
)

PRONOUNS = {"he": "person", "she": "person", "they": "group", "it": "group", "we": "group"}


TITLES = {
    "president",
    "minister",
    "governor",
    "mayor",
    "general",
    "colonel",
    "prime",
    "defence",
    "defense",
    "foreign",
    "finance",
    "mp",
    "senator",
    "dr",
    "mr",
    "ms",
    "mrs",
    "opposition",
    "leader",
    "spokesperson",
    "spokesman",
    "spokeswoman",
    "director",
    "chief",
    "deputy",
    "ambassador",
    "commander",
    "secretary",
    "chairman",
    "chairwoman",
    "judge",
    "envoy",
    "prosecutor",
    "lt",
    "col",
    "gen",
    "maj",
    "capt",
    "sgt",
    "adm",
    "ombudsman",
    "treasurer",
    "superintendent",
    "commissioner",
    "inspector",
    "sheriff",
    "chancellor",
    "councillor",
    "councilor",
    "sen",
    "rep",
    "gov",
    "supt",
    "insp",
    "forecaster",
    "chair",
    "ceo",
    "cfo",
    "head",
}
# Small words inside an organisation's name ("Water Supply and Sewerage Board", "Ministry of
# SMEs and Startups", "Citizens for Water", "Brennan & Co.").
_NAME_LINKS = {"and", "of", "for", "&", "la", "le"} | NAME_PARTICLES


SPEAKER_LABELS = ("PERSON", "ORG", "NORP", "GPE")


ORG_WORDS = {
    "agency",
    "authority",
    "association",
    "bureau",
    "chamber",
    "federation",
    "society",
    "board",
    "office",
    "ministry",
    "institute",
    "cell",
    "council",
    "union",
    "party",
    "group",
    "bank",
    "radio",
    "press",
    "service",
    "services",
    "committee",
    "court",
    "news",
    "staff",
    "army",
    "police",
    "government",
    "commission",
    "department",
    "times",
    "post",
    "gazette",
    "wire",
    "television",
    "tv",
    "network",
    "centre",
    "center",
    "foundation",
    "university",
    "company",
    "corp",
    "inc",
    "ltd",
}


@dataclass
class Mention:
    text: str
    role: str | None
    start: int
    end: int
    person: bool
    # A subject that can speak for a group: a name or an organisation, people or officials
    # ("The Pelko Chamber of Commerce published ... They estimate"), not "The crossing".
    source_like: bool = False


@dataclass
class SpeakerMemory:
    """Earlier speakers and people of one article, newest last, for pronoun resolution."""

    speakers: list[Mention] = field(default_factory=list)
    people: list[Mention] = field(default_factory=list)
    # Every sentence so far as (sentence, article offset, article offset of its end), in text
    # order; its subject is described when a pronoun first asks for it (_subject). Describing a
    # subject is most of what remembering it costs, and a pronoun needs only the newest few.
    sentences: list[tuple[Span, int, int]] = field(default_factory=list)
    _described: dict[int, Mention | None] = field(default_factory=dict)

    def _subject(self, k: int) -> Mention | None:
        if k not in self._described:
            sent, offset, _ = self.sentences[k]
            self._described[k] = subject_mention(sent, offset)
        return self._described[k]

    def _newest_subject(
        self, before: int, accept: Callable[[Mention], bool], beaten_by: Mention | None = None
    ) -> Mention | None:
        """The accepted subject that starts last before ``before`` (of equals, the earliest
        sentence's); None when there is none, or none starts after ``beaten_by``.

        Walks back from the newest sentence and stops at the first whose end is before the best
        start found: a sentence's subject starts inside it or earlier."""
        best: Mention | None = None
        for k in range(len(self.sentences) - 1, -1, -1):
            end = self.sentences[k][2]
            if (best is not None and end < best.start) or (
                beaten_by is not None and end <= beaten_by.start
            ):
                break
            m = self._subject(k)
            if m is None or m.start >= before or not accept(m):
                continue
            if best is None or m.start >= best.start:
                best = m
        if best is not None and beaten_by is not None and best.start <= beaten_by.start:
            return None
        return best

    def _fullest(self, m: Mention) -> Mention:
        """A surname-only mention ("Banfi said") as the person's full name met before it
        ("Health Minister Aurelio Banfi"): a pronoun resolves to the fullest written name."""
        if " " in m.text:
            return m
        full = [
            p
            for p in self.people + self.speakers
            if p.person and p.start < m.start and p.text.split()[-1] == m.text and " " in p.text
        ]
        return max(full, key=lambda p: p.start) if full else m

    def resolve(self, pronoun: str, before: int) -> Mention | None:
        """The most recent compatible mention that starts before offset ``before`` (of mentions
        that start together, a speaker before a subject, the earlier sentence's subject first)."""
        kind = PRONOUNS[pronoun]
        if kind == "person":
            # Speakers and sentence subjects first: a place the model took for a person
            # ("... in Lenz") is rarely the subject.
            spoke = _latest([m for m in self.speakers if m.person and m.start < before])
            subj = self._newest_subject(before, lambda m: m.person, spoke)
            chosen = subj or spoke
            if chosen is not None:
                return self._fullest(chosen)
            found = _latest([m for m in self.people if m.person and m.start < before])
            return self._fullest(found) if found is not None else None
        # The nearest antecedent that can speak: an earlier speaker, or a subject since then
        # that names an organisation or a group ("X said ... . The chamber published its own
        # figures. They estimate ...").
        spoke = _latest([m for m in self.speakers if not m.person and m.start < before])
        named = self._newest_subject(before, lambda m: m.source_like and not m.person, spoke)
        if named is not None or spoke is not None:
            return named or spoke
        return self._newest_subject(before, lambda m: True)


def _latest(mentions: list[Mention]) -> Mention | None:
    """The mention that starts last (the first of equals)."""
    return max(mentions, key=lambda m: m.start, default=None)


Described = tuple[str, str | None, int, int]


def describe(tokens: list[Token]) -> Described | None:
    """Split a speaker noun phrase into (name, role, start, end): "Foreign ministry spokesperson
    Vesna Tarakova" -> ("Vesna Tarakova", "Foreign ministry spokesperson")."""
    if not tokens:
        return None
    # A sentence's subject is often also its cue's speaker: the same phrase, described once.
    cache: dict[tuple[int, ...], Described | None] = tokens[0].doc.user_data.setdefault(
        "mediamon_described", {}
    )
    key = tuple([t.i for t in tokens])
    if key not in cache:
        cache[key] = _describe(tokens)
    return cache[key]


def _describe(tokens: list[Token]) -> Described | None:
    doc = tokens[0].doc
    toks = doc_tokens(doc)
    lows = doc_lowers(doc)
    # The phrase's bounds as token indices (making a Span of them is a slow call).
    start, end = tokens[0].i, tokens[-1].i + 1
    # Only entities that overlap the phrase can change it, and stretching it to one of them
    # reaches no other (entities do not overlap).
    near = ents_overlapping(doc, start, end) if ents_ordered(doc) else doc_ents(doc)
    for e in near:
        label = e.label_
        if label not in ("PERSON", "ORG"):
            continue  # only names stretch the phrase
        e_start, e_end = e.start, e.end
        # "Park Min-ji": a name the phrase cut inside a hyphenated word runs to its end.
        if label == "PERSON" and start <= e_start < end < e_end and not toks[end - 1].whitespace_:
            end = e_end
        # "Maria do Carmo Silva": a name the parse split at a particle starts where it starts.
        if e_start < start < e_end <= end:
            start = e_start
        elif start <= e_start < end < e_end and toks[end].text in NAME_PARTICLES:
            end = e_end
    # "A federal judge in Tulsa on Wednesday": when it spoke is not who spoke.
    k = end
    while k - 1 > start and toks[k - 1].ent_type_ in ("DATE", "TIME"):
        k -= 1
    if k < end and toks[k - 1].pos_ == "ADP" and k - 1 > start:
        end = k - 1  # "... on Wednesday"
    elif k < end and lows[k] in ("last", "this", "earlier", "yesterday", "today"):
        end = k  # "... last week"
    # The entities inside the phrase are among those near it: it grew only over those.
    ents = [e for e in near if e.start >= start and e.end <= end]
    # A name that modifies a noun ("Korvanets police", "Holub's office") is not the speaker.
    people = [
        e
        for e in ents
        if e.label_ == "PERSON"
        and e.root.dep_ not in ("compound", "poss")
        and not _inside_clause(e, start, end)
    ]
    # Titles come before names ("Defence Minister Taras Holub"): the last person is the name.
    best: Span | None = people[-1] if people else None
    if (
        len(people) >= 2
        and people[-1].start == people[-2].end + 1
        and lows[people[-2].end] in ("and", "&")
    ):
        best = doc[people[-2].start : people[-1].end]  # "The authors, Priya Anand and Tom Hallett"
    if best is not None:
        # "Treasurer Kyle Ambrose" taken whole as a name: the title is the role.
        k, best_end = best.start, best.end
        while k < best_end - 1 and _is_title(lows[k]):
            k += 1
        if k > best.start:
            best = doc[k:best_end]
    if best is None:
        best = _appositive_name(tokens)
    if best is None:
        best = _trailing_name(tokens)
    if best is None:
        best = _speaker_entity(ents, start, end)
    if best is None:
        best = _titled_owner(ents, start, end)
    text = doc_text(doc)
    start_char, end_char = toks[start].idx, toks[end - 1].idx + len(toks[end - 1])
    if best is None:
        # Whitespace tokens at the edges ("& Co.\n\n") are not part of the name or its span.
        raw = text[start_char:end_char]
        lead = len(raw) - len(raw.lstrip())
        trail = len(raw) - len(raw.rstrip())
        return (clean(raw), None, start_char + lead, end_char - trail)
    name = ent_text(best)
    role = _role(text[start_char : best.start_char] + " " + text[best.end_char : end_char])
    return (clean(name), role, best.start_char, best.end_char)


def _speaker_entity(ents: list[Span], start: int, end: int) -> Span | None:
    """Of ``ents``, the entities inside the phrase [start, end), the one that names its speaker,
    if any."""
    if not ents:
        return None
    doc = ents[0].doc
    toks = doc_tokens(doc)
    # The phrase's own head: when it is a common noun ("prosecutors in Calder", "Education
    # advocacy groups", "Labour ministry data"), a name inside it only modifies it.
    inner = {i for e in ents for i in range(e.start + 1, e.end)}  # a misparsed name's tail
    head_of = doc_heads(doc)
    heads = [
        i
        for i in range(start, end)
        if not (start <= head_of[i] < end and head_of[i] != i) and i not in inner
    ]
    common_head = heads[0] if len(heads) == 1 and toks[heads[0]].pos_ == "NOUN" else None
    for e in ents:
        label = e.label_
        if label not in SPEAKER_LABELS:
            continue
        e_start, e_end = e.start, e.end
        if (
            common_head is not None
            and not (e_start <= common_head < e_end)
            # an appositive name, unless it is a misparsed object ("at the Centro ...")
            and (e.root.dep_ != "appos" or any(u.dep_ == "pobj" for u in e))
            and not (e_start > 0 and toks[e_start - 1].text == ",")  # ", Per Lunde,"
        ):
            continue
        poss = (e_end < end and is_possessive(toks[e_end])) or is_possessive(toks[e_end - 1])
        if e_start > start and is_possessive(toks[e_start - 1]):
            continue  # "Ostrel's defence ministry" is one name, not "defence ministry"
        placed = e_end == end or (e_start == start and not poss)
        whole = e_start == start and e_end == end
        # A place or nationality names the speaker only when it is all there is
        # ("Varnia said"), not in "Varnian prosecutor".
        if (placed or e.root.dep_ == "appos") and (label not in ("GPE", "NORP") or whole):
            return _with_level(_whole_org_name(e, start, end), start) if label == "ORG" else e
    return None


def _is_title(low: str) -> bool:
    """Whether a lowercase word is a title ("Gen." as well as "gen")."""
    return low.rstrip(".") in TITLES


def _titled_owner(ents: list[Span], start: int, end: int) -> Span | None:
    """ "Democratic Sen. Luis Arriaga's campaign" -> "Luis Arriaga's campaign": the titles before
    a person who owns the speaking noun (of the phrase [start, end), its entities ``ents``) are
    the person's, not part of the speaker's name."""
    if not ents:
        return None
    doc = ents[0].doc
    for e in ents:
        if e.label_ != "PERSON" or e.start == start or e.end >= end:
            continue
        if not (is_possessive(doc[e.end]) or is_possessive(doc[e.end - 1])):
            continue
        before = doc[start : e.start]
        titled = any(t.lower_.rstrip(".") in TITLES for t in before)
        if titled and all(
            t.lower_.rstrip(".") in TITLES or t.ent_type_ in ("NORP", "GPE") or t.dep_ == "det"
            for t in before
        ):
            return doc[e.start : end]
    return None


def _inside_clause(ent: Span, start: int, end: int) -> bool:
    """Whether a name sits in a clause that modifies the head of the phrase [start, end) ("A
    committee backing Dunmore", "a group that supports Lind"): it is not the speaker."""
    for anc in ent.root.ancestors:
        if anc.i < start or anc.i >= end:
            return False
        if anc.dep_ in ("acl", "relcl"):  # "backing" is often tagged a noun
            return True
    return False


def _whole_org_name(ent: Span, start: int, end: int) -> Span:
    """An organisation's name with the capitalised words the model left out of its entity (in
    the phrase [start, end)): "the Marlow County Sheriff's Office", not "Sheriff's Office"."""
    doc = ent.doc
    k = ent.start
    while k > start:
        prev = doc[k - 1]
        if (
            prev.pos_ == "PROPN"
            and prev.text[:1].isupper()
            and (prev.dep_ == "compound" or (k < ent.end and doc[k].dep_ == "compound"))
            and prev.lower_ not in TITLES
            and not is_possessive(prev)
        ):
            k -= 1
        elif (
            prev.lower_ in _NAME_LINKS
            and k - 1 > start
            and _capitalised_word(doc[k - 2])
            and doc[k].text[:1].isupper()
        ):
            k -= 2  # "the Water Supply and Sewerage Board": one name across "and"
        else:
            break
    e = ent.end
    while (
        e + 1 < end
        and doc[e].lower_ in _NAME_LINKS
        and _capitalised_word(doc[e + 1])
        and not is_possessive(doc[e + 1])
    ):
        e += 2  # "Citizens for Water"
    return ent if (k, e) == (ent.start, ent.end) else doc[k:e]


# The level of government an institution belongs to is part of how it is named ("the federal
# Security Ministry", "the state Division of Forestry"), unlike a descriptor ("the opposition
# Green Alliance", "the rights group Civic Watch").
_LEVELS = {"federal", "state", "provincial", "regional", "national", "municipal", "county"}


def _with_level(name: Span, start: int) -> Span:
    """An organisation's name with the level of government written just before it (in a phrase
    that starts at token ``start``)."""
    doc = name.doc
    k = name.start
    while k > start and doc[k - 1].lower_ in _LEVELS and doc[k - 1].text.islower():
        k -= 1
    return name if k == name.start else doc[k : name.end]


def _capitalised_word(tok: Token) -> bool:
    return tok.text[:1].isupper() and tok.is_alpha and tok.lower_ not in TITLES


@lru_cache(maxsize=4096)  # pure, and the same role is written again and again
def _role(text: str) -> str | None:
    """Tidy what is left of a speaker phrase once the name is cut out."""
    pieces = [strip_det(clean(p)) for p in text.split(",")]
    pieces = [p for p in pieces if p and p.lower() not in ("the", "a", "an", "'s", "’s")]
    # "Anna Berg, 34, said": an age is not a role.
    pieces = [p for p in pieces if not p.isdigit()]
    return ", ".join(pieces) or None


def _trailing_name(tokens: list[Token]) -> Span | None:
    """Names the model does not know: a trailing run of capitalised proper nouns after a role
    ("port director Anton Veres", "Varnian Defence Minister Taras Holub")."""
    doc = tokens[0].doc
    lows = doc_lowers(doc)
    n = len(tokens)
    run = n
    while run > 0 and tokens[run - 1].pos_ == "PROPN" and tokens[run - 1].text[:1].isupper():
        run -= 1
    if run == n:
        return None  # no trailing run: no name (most phrases end in a common noun)
    if (
        run >= 2
        and lows[tokens[run - 1].i] == "of"
        and _is_title(lows[tokens[run - 2].i])
        and n - run >= 3
    ):
        # "Superintendent of Police Rakesh Banerji", "Director General of Police X Y": the
        # title names its force, then the person.
        return doc[tokens[run + 1].i : tokens[-1].i + 1]
    if run > 0:
        last = tokens[run - 1]
        low = lows[last.i]
        if (
            is_possessive(last)
            or last.pos_ == "ADP"
            # "a senior officer of the Economic Offences Wing": the run names what the head
            # belongs to, and the head is the speaker.
            or (run > 1 and low == "the" and tokens[run - 2].pos_ == "ADP")
            or (low in _NAME_LINKS and run > 1 and tokens[run - 2].text[:1].isupper())
        ):
            # "Varnia's General Staff", "Headquarters for Prisoners of War", "the Water Supply
            # and Sewerage Board": the run ends an organisation's name, not a person's.
            return None
    if lows[tokens[-1].i] in ORG_WORDS:
        return None  # "Seoul Metro Board", "The Defence Ministry": an organisation
    k = run
    # The phrase's place and nationality words, looked up only when a non-title word leads
    # the run (only the phrase's own tokens are looked up: the entities over its range do).
    nationality: set[int] | None = None
    while k < n - 1:
        if _is_title(lows[tokens[k].i]):
            k += 1
            continue
        if nationality is None:
            nationality = {
                i
                for e in ents_overlapping(doc, tokens[0].i, tokens[-1].i + 1)
                if e.label_ in ("NORP", "GPE")
                for i in range(e.start, e.end)
            }
        if tokens[k].i in nationality and _title_follows(tokens, k):
            k += 1
            continue
        break
    # "Health Minister Agnes Rautio": the name starts after the last title word.
    titled = [j for j in range(k, n - 1) if _is_title(lows[tokens[j].i])]
    if titled:
        k = titled[-1] + 1
    if k >= n:
        return None
    if k > run or (run > 0 and not is_possessive(tokens[run - 1])):
        name = doc[tokens[k].i : tokens[-1].i + 1]
        return None if _inside_clause(name, tokens[0].i, tokens[-1].i + 1) else name
    return None


def _title_follows(tokens: list[Token], k: int) -> bool:
    """Whether a place or nationality word leads a title ("Varnian Defence Minister Taras
    Holub") rather than begins a name ("Seoul Metro", a first name the model took for a
    place)."""
    lows = doc_lowers(tokens[0].doc)
    return any(_is_title(lows[t.i]) for t in tokens[k + 1 : k + 4])


def _appositive_name(tokens: list[Token]) -> Span | None:
    """ "Open Cell, a rights group" -> Open Cell; "the group's coordinator, Arkady Lind" -> the
    latter: of a noun and its appositive, the one that is a capitalised proper name."""
    doc = tokens[0].doc
    ids = {t.i for t in tokens}
    for t in tokens:
        if t.dep_ != "appos" or t.head.i not in ids:
            continue
        if any(
            e.start < t.i < e.end and any(u.dep_ == "pobj" for u in e)
            for e in ents_overlapping(doc, t.i, t.i + 1)
        ):
            # "Analysts at the Centro de Estudos do Norte": the name's last word, taken for an
            # appositive, ends the object of "at".
            continue
        for cand in (t.head, t):
            if cand.pos_ == "PROPN" and cand.text[:1].isupper():
                whole = next(
                    (
                        e
                        for e in ents_overlapping(doc, cand.i, cand.i + 1)
                        if e.label_ in ("ORG", "PERSON")
                        and e.start <= cand.i < e.end
                        and all(i in ids for i in range(e.start, e.end))
                        and all(
                            t.text[:1].isupper()
                            or t.lower_ in _NAME_LINKS
                            or t.dep_ == "det"
                            or t.is_punct
                            or t.tag_ == "POS"
                            or (t.i > e.start and not doc[t.i - 1].whitespace_)
                            for t in e
                        )
                    ),
                    None,
                )
                if whole is not None:
                    return whole  # "The Maharashtra Chamber of Housing Industry, a ... body"
                parts = [c for c in cand.lefts if c.dep_ == "compound"] + [cand]
                end = cand.i + 1
                while (
                    end + 1 in ids
                    and doc[end].lower_ in _NAME_LINKS
                    and _capitalised_word(doc[end + 1])
                ):
                    end += 2  # "the residents' group Citizens for Water"
                return doc[min(p.i for p in parts) : end]
    return None


_DOCUMENT_HEADS = {
    "figures",
    "data",
    "estimates",
    "statistics",
    "records",
    "report",
    "reports",
    "study",
    "studies",
    "survey",
    "surveys",
    "poll",
    "polls",
    "census",
    "documents",
    "filing",
    "filings",
    "analysis",
    "assessment",
    "audit",
    "registry",
    "imagery",
    "count",
    "tally",
    "numbers",
    "accounts",
}


_HEAD_ENDS = {"from", "of", "by", "published", "who", "which", "that", "speaking", "in", "at"}
_DETERMINERS = {
    "the",
    "a",
    "an",
    "those",
    "these",
    "some",
    "one",
    "two",
    "three",
    "several",
    "many",
    "its",
    "their",
    "his",
    "her",
    "other",
    "senior",
    "newly",
}


def speaker_kind(name: str | None, *, person: bool | None = None) -> str | None:
    """person, organisation, document or anonymous, from the words of a speaker's name
    (``person``: the parse found a person there). None without a speaker."""
    if not name:
        return None
    return _speaker_kind(name, person)


# A pure function of its arguments, asked again for each cue of a speaker named many times.
@lru_cache(maxsize=4096)
def _speaker_kind(name: str, person: bool | None) -> str | None:
    words = [w.strip(".,'’\"").lower() for w in name.split()]
    words = [w for w in words if w]
    if not words:
        return None
    head_words = words
    for k, w in enumerate(words):
        if k and w in _HEAD_ENDS:
            head_words = words[:k]
            break
    if head_words[-1] in _DOCUMENT_HEADS:
        return "document"  # "court records", "the report", "newly disclosed filings"
    if person:
        return "person"
    if any(w in ORG_WORDS for w in head_words):
        return "organisation"
    if (
        words[0] in _DETERMINERS
        or not name.strip()[:1].isupper()
        or head_words[-1] in ANONYMOUS_HEADS
    ):
        return "anonymous"  # "a diplomat", "Those prosecutors", "security sources"
    return "person" if len(head_words) <= 4 else "organisation"


def looks_like_person(name: str, span_is_person: bool) -> bool:
    """Whether a speaker name is a person (an antecedent for he/she)."""
    if span_is_person:
        return True
    return _looks_like_person(name)


@lru_cache(maxsize=4096)  # pure, and asked again for each mention of a name
def _looks_like_person(name: str) -> bool:
    words = name.split()
    return (
        2 <= len(words) <= 3
        and all(w[:1].isupper() for w in words)
        and not any(w.lower().strip(".,") in ORG_WORDS for w in words)
    )


# Heads of unnamed speakers that are one person ("a military analyst who asked not to be
# named"): antecedents for a later "he"/"she".
PERSON_NOUNS = {
    "analyst",
    "official",
    "officer",
    "commander",
    "soldier",
    "diplomat",
    "resident",
    "witness",
    "employee",
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "man",
    "woman",
    "doctor",
    "nurse",
    "lawyer",
    "minister",
    "source",
    "insider",
    "expert",
    "economist",
    "researcher",
    "teacher",
    "farmer",
    "volunteer",
    "activist",
    "aide",
    "adviser",
    "advisor",
}


def _person_head(toks: list[Token]) -> bool:
    ids = {t.i for t in toks}
    head_of = doc_heads(toks[0].doc)  # ``Token.head`` makes a new Token on every access
    head = next((t for t in toks if head_of[t.i] not in ids or head_of[t.i] == t.i), None)
    return head is not None and doc_lowers(toks[0].doc)[head.i] in PERSON_NOUNS


def _after_dateline(toks: list[Token]) -> list[Token]:
    """Drop a dateline the parser joined to the speaker ("OKLAHOMA CITY — Education advocacy
    groups", "HONOLULU, Hawaii (Outlet) — officials"): a place is never the speaker."""
    if not toks:
        return toks
    lows = doc_lowers(toks[0].doc)
    for k, t in enumerate(toks[:12]):
        # The cached lowercase word (a dash's lowercase form is the dash itself).
        if lows[t.i] in _DASHES and k and k + 1 < len(toks):
            head = toks[:k]
            if (
                head[0].text.isupper()
                and len(head[0].text) > 1
                and all(
                    u.text.isupper()
                    or u.is_punct
                    or u.ent_type_ in ("GPE", "ORG")
                    or u.pos_ == "PROPN"
                    for u in head
                )
            ):
                return toks[k + 1 :]
            break
    return toks


_DASHES = ("—", "–", "-")
_BIG_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d{4,}")


def _counted(toks: list[Token]) -> bool:
    """A measured or counted amount is what is claimed, never who claims it: "1,100 square
    kilometres of forest", "more than 280,000 citizens", "$4 million" ("Two officials" and
    "three residents" still speak)."""
    ids = {t.i for t in toks}
    head_of = doc_heads(toks[0].doc)
    # The phrase's head: its first word whose head is outside it (or itself).
    head = next((t for t in toks if head_of[t.i] not in ids or head_of[t.i] == t.i), None)
    if head is None:
        return False
    lows = doc_lowers(toks[0].doc)  # digits and commas are their own lowercase form
    for t in [head, *(c for c in children_of(head) if c.dep_ in ("nummod", "quantmod"))]:
        if t.ent_type_ in ("QUANTITY", "MONEY", "PERCENT"):
            return True
        low = lows[t.i]
        if _BIG_NUMBER.fullmatch(low) and t.like_num and float(low.replace(",", "")) >= 1000:
            return True
    return False


def set_speaker(attr: Attribution, toks: list[Token], memory: SpeakerMemory, offset: int) -> None:
    toks = _after_dateline(toks)
    if not toks or _counted(toks):
        return
    low = doc_lowers(toks[0].doc)[toks[0].i] if len(toks) == 1 else ""
    if low in PRONOUNS:
        found = memory.resolve(low, offset + toks[0].idx)
        if found is None:
            attr.speaker = toks[0].text
            attr.speaker_start = offset + toks[0].idx
            attr.speaker_end = attr.speaker_start + len(toks[0])
            attr.speaker_kind = "person" if PRONOUNS[low] == "person" else "anonymous"
            return
        attr.speaker, attr.speaker_role = found.text, found.role
        attr.speaker_start, attr.speaker_end = found.start, found.end
        attr.speaker_kind = speaker_kind(found.text, person=found.person)
        attr.resolved = True
        return
    document = _document_speaker(toks)
    if document:
        # "Federal Election Commission records", "the justice ministry's own figures", "Their
        # report": a document with no author named speaks under its own name, as written.
        doc = toks[0].doc
        start, end = document[0].idx, document[-1].idx + len(document[-1])
        attr.speaker = clean(doc_text(doc)[start:end])
        attr.speaker_start, attr.speaker_end = offset + start, offset + end
        attr.speaker_kind = "document"
        memory.speakers.append(Mention(attr.speaker, None, offset + start, offset + end, False))
        return
    found = _description_of(toks, memory, offset)
    if found is not None:
        # "The 56-year-old", "the president": a description of a person named earlier.
        attr.speaker, attr.speaker_role = found.text, found.role
        attr.speaker_start, attr.speaker_end = found.start, found.end
        attr.speaker_kind = "person"
        attr.resolved = True
        return
    described = describe(toks)
    if described is None:
        return
    name, role, start, end = described
    attr.speaker, attr.speaker_role = name, role
    attr.speaker_start, attr.speaker_end = offset + start, offset + end
    at_start = ents_at_char(toks[0].doc, start)
    named_person = any(e.label_ == "PERSON" for e in at_start)
    named_org = any(e.label_ == "ORG" for e in at_start)
    person = not named_org and (
        looks_like_person(name, named_person)
        or (role is None and _person_head(toks))
        or _surname_of_known_person(name, memory)
    )
    attr.speaker_kind = speaker_kind(name, person=named_person)
    memory.speakers.append(Mention(name, role, offset + start, offset + end, person))


def _document_speaker(toks: list[Token]) -> list[Token]:
    """The words of a speaker phrase that is a document or data set (its head one of
    _DOCUMENT_HEADS), up to a comma ("Their report, published on Monday," -> "Their report");
    [] for any other speaker."""
    lows = doc_lowers(toks[0].doc)  # a mark's lowercase form is the mark itself
    # The document word must end a head of at most 8 words: most phrases have none.
    if _DOCUMENT_HEADS.isdisjoint([lows[t.i] for t in toks[:8]]):
        return []
    cut = next(
        (
            k
            for k, t in enumerate(toks)
            if lows[t.i] in (",", "(", "—") or (k and t.i != toks[k - 1].i + 1)
        ),
        len(toks),
    )
    head = toks[:cut]
    while head and head[-1].is_punct:
        head.pop()
    if not head or len(head) > 8 or lows[head[-1].i] not in _DOCUMENT_HEADS:
        return []
    if not head[-1].text.islower():
        return []  # "the monitoring group Street Count": a name, not a document
    if any(lows[t.i] in ("from", "by", "of") for t in head):
        return []  # "figures from the ministry": the author speaks, the data is cited
    return head


def _surname_of_known_person(name: str, memory: SpeakerMemory) -> bool:
    """A one-word name that ends a person's full name met earlier ("Olvé" after "Katrin Olvé")
    is that person: a later "she" may refer to it, a "they" may not."""
    if " " in name or not name[:1].isupper():
        return False
    return any(m.person and m.text.split()[-1] == name for m in memory.people + memory.speakers)


# Roles that only a person holds, beyond TITLES and PERSON_NOUNS ("the statistician said").
_ROLE_NOUNS = {"statistician", "economist", "lawyer", "physician", "doctor", "professor", "author"}
_AGE_DESCRIPTION = re.compile(r"^(?:the|The)\s+\d{1,3}-year-old$")


def _description_of(toks: list[Token], memory: SpeakerMemory, offset: int) -> Mention | None:
    """The person a definite description refers to: "The 56-year-old" -> the most recent person
    named before; "the president" -> the most recent person whose role has that word."""
    # "The 56-year-old, a former A320 captain,": the description is what precedes the comma.
    lows = doc_lowers(toks[0].doc)  # a comma's lowercase form is the comma
    if lows[toks[0].i] != "the":
        return None  # not a definite description (checked again below, after the cut)
    comma = next((k for k, t in enumerate(toks) if lows[t.i] == ","), None)
    if comma is not None:
        toks = toks[:comma]
    if not toks or lows[toks[0].i] != "the" or len(toks) > 6:
        return None
    text = doc_text(toks[0].doc)[toks[0].idx : toks[-1].idx + len(toks[-1])]
    before = offset + toks[0].idx
    people = [m for m in memory.speakers + memory.people if m.person and m.start < before]
    if not people:
        return None
    if _AGE_DESCRIPTION.match(text):
        return max(people, key=lambda m: m.start)
    if (
        len(toks) == 2
        and toks[1].pos_ == "NOUN"
        and (
            toks[1].lower_ in TITLES
            or toks[1].lower_ in PERSON_NOUNS
            or toks[1].lower_ in _ROLE_NOUNS
        )
    ):
        word = toks[1].lower_
        roles = [m for m in people if m.role and word in m.role.lower().split()]
        if roles:
            return max(roles, key=lambda m: m.start)
    return None


def remember_people(sent: Span, memory: SpeakerMemory, offset: int) -> None:
    """Record the people named in ``sent`` (antecedents for he/she)."""
    doc = sent.doc
    start, end = sent.start, sent.end
    for e in ents_overlapping(doc, start, end):
        if not (start <= e.start < end) or e.label_ != "PERSON":
            continue
        # A title written before the name ("President Ilya Marek") is the person's role, for a
        # later "the president".
        lows = doc_lowers(doc)
        k = e.start
        while k > start and lows[k - 1] in TITLES:
            k -= 1
        role = ent_text(doc[k : e.start]) or None if k < e.start else None
        memory.people.append(
            Mention(ent_text(e), role, offset + e.start_char, offset + e.end_char, True)
        )


def remember_subject(sent: Span, memory: SpeakerMemory, offset: int) -> None:
    """Record the subject of ``sent`` as an antecedent for later pronouns (described when a
    pronoun first needs it: SpeakerMemory._subject)."""
    memory.sentences.append((sent, offset, offset + sent.end_char))


# Common nouns whose phrase can speak for a group (made once, not per subject).
_SOURCE_WORDS = ORG_WORDS | ANONYMOUS_HEADS


def subject_mention(sent: Span, offset: int) -> Mention | None:
    """The subject of ``sent`` as a mention, when it is a noun phrase that is not a pronoun."""
    root = sent.root  # found anew on each access
    subj = subject(root) if root.pos_ in ("VERB", "AUX") else None
    if subj is None or subj.lower_ in PRONOUNS or subj.pos_ not in ("NOUN", "PROPN"):
        return None
    described = describe(np_tokens(subj))
    if not described:
        return None
    name, role, start, end = described
    doc = sent.doc
    person = looks_like_person(
        name,
        any(e.label_ == "PERSON" for e in ents_at_char(doc, start)),
    )
    source_like = subj.pos_ == "PROPN" or subj.lower_ in _SOURCE_WORDS
    return Mention(name, role, offset + start, offset + end, person, source_like)
