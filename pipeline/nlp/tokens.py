"""Small syntax helpers shared by the attribution rules: noun phrases, subjects, cached text."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy
from spacy.attrs import LOWER
from spacy.tokens import Doc, Span, Token

# An anonymous source keeps its relative clause ("an analyst who asked not to be named").
ANONYMOUS_HEADS = {
    "source",
    "sources",
    "analyst",
    "official",
    "officials",
    "person",
    "people",
    "commander",
    "soldier",
    "resident",
    "residents",
    "diplomat",
    "officer",
    "insider",
    "witness",
    "witnesses",
    "member",
    "members",
    "employee",
    "employees",
    "analysts",
    "commanders",
    "soldiers",
    "diplomats",
    "officers",
    "insiders",
    "staff",
    "worker",
    "workers",
}


_DETERMINERS = ("the ", "a ", "an ")


def doc_text(doc: Doc) -> str:
    """The doc's text, built once: ``Doc.text`` re-joins every token on each access."""
    # Called for nearly every entity and phrase: a hit is one subscript (no .get, no str()).
    user_data = doc.user_data
    try:
        text: str = user_data["mediamon_text"]
    except KeyError:
        text = user_data["mediamon_text"] = doc.text
    return text


def seed_text(doc: Doc, text: str) -> None:
    """Record the text ``doc`` was parsed from as its cached text (spaCy's tokenizer keeps every
    character, so the two are equal), sparing ``doc_text`` a re-join of the tokens."""
    doc.user_data["mediamon_text"] = text


def doc_ents(doc: Doc) -> tuple[Span, ...]:
    """The doc's entities, built once: ``Doc.ents`` re-creates its spans on each access."""
    user_data = doc.user_data
    try:
        ents: tuple[Span, ...] = user_data["mediamon_ents"]
    except KeyError:
        found = doc.ents
        # Nothing to join in a doc without a name particle (a token whose text is one has it as
        # its lower case too): spaCy's own spans, in order and apart, are what the join returns.
        if NAME_PARTICLES.isdisjoint(doc_lowers(doc)):
            ents = user_data["mediamon_ents"] = tuple(found)
        else:
            ents = user_data["mediamon_ents"] = _with_particles(doc, found)
    return ents  # a tuple already: callers cannot change it


# Every cache the rules keep on a doc; release_doc drops them.
_CACHE_KEYS = (
    "mediamon_text",
    "mediamon_ents",
    "mediamon_tokens",
    "mediamon_lowers",
    "mediamon_heads",
    "mediamon_children",
    "mediamon_idx",
    "mediamon_ent_index",
    "mediamon_lemmas",
    "mediamon_described",
    "mediamon_nps",
    "mediamon_places",
    "mediamon_pos",
    "mediamon_child_ids",
)


def release_doc(doc: Doc) -> None:
    """Drop the rules' caches: they hold tokens and spans, which point back at the doc, so
    without this a parsed doc lives until the cyclic garbage collector finds it."""
    for key in _CACHE_KEYS:
        doc.user_data.pop(key, None)


def doc_tokens(doc: Doc) -> list[Token]:
    """The doc's tokens, made once: ``doc[i]`` and iterating a span build a new Token object on
    every access, and the rules walk each sentence many times."""
    user_data = doc.user_data
    try:
        toks: list[Token] = user_data["mediamon_tokens"]
    except KeyError:
        toks = user_data["mediamon_tokens"] = list(doc)
    return toks


def doc_heads(doc: Doc) -> list[int]:
    """Each token's head index, read once (``Token.head`` builds a new Token on every access)."""
    user_data = doc.user_data
    try:
        heads: list[int] = user_data["mediamon_heads"]
    except KeyError:
        relative = doc.to_array("HEAD").astype("int64")
        heads = user_data["mediamon_heads"] = (relative + numpy.arange(len(doc))).tolist()
    return heads


def doc_pos_ids(doc: Doc) -> list[int]:
    """Each token's ``pos`` (the coarse tag's symbol id, comparable with ``spacy.symbols.VERB``
    and the like), read as one column: ``Token.pos_`` costs a string lookup per call."""
    user_data = doc.user_data
    try:
        pos: list[int] = user_data["mediamon_pos"]
    except KeyError:
        pos = user_data["mediamon_pos"] = doc.to_array("POS").tolist()
    return pos


def children_of(tok: Token) -> list[Token]:
    """``tok.children`` (in text order), from lists made once per doc: spaCy builds a new Token
    per child on every walk, and the rules walk the same heads' children many times."""
    doc = tok.doc
    i = tok.i
    try:
        made = doc.user_data["mediamon_children"]
    except KeyError:
        made = doc.user_data["mediamon_children"] = {}
    kids: list[Token] | None = made.get(i)
    if kids is None:
        # Made on the first ask, from the child ids: the rules ask about a third of the heads,
        # and a Token list for every head was most of the cost of the children's table.
        ids = _doc_child_ids(doc).get(i)
        if ids is None:
            return []  # a leaf: a new empty list, as callers may extend it
        toks = doc_tokens(doc)
        kids = made[i] = [toks[j] for j in ids]
    return kids


def _doc_child_ids(doc: Doc) -> dict[int, list[int]]:
    """The children's ids of each token that has children, in text order, made once per doc."""
    # One pass in Python over the cached head ids costs less than ``Token.children`` on the
    # heads the rules ask about (a generator that scans the head's subtree span and creates a
    # new Token per child), and gives subtree_ids its child ids. Appending in index order keeps
    # text order, as ``Token.children`` yields them (lefts, then rights). Keyed by head id: only
    # about half the tokens have children. (Measured against a numpy argsort of the heads,
    # sliced per token: that was slower.)
    user_data = doc.user_data
    try:
        ids: dict[int, list[int]] = user_data["mediamon_child_ids"]
    except KeyError:
        ids = {}
        for j, h in enumerate(doc_heads(doc)):
            if h != j:
                found = ids.get(h)
                if found is None:
                    ids[h] = [j]
                else:
                    found.append(j)
        user_data["mediamon_child_ids"] = ids
    return ids


def subtree_ids(tok: Token) -> list[int]:
    """The ids of ``tok.subtree``, in the same order (each left child's subtree, the token, each
    right child's subtree), walked on the cached child ids: ``Token.subtree`` nests a generator
    per token and builds a Token per word. An explicit stack, so no parse is too deep for it."""
    kids = _doc_child_ids(tok.doc)
    i = tok.i
    if i not in kids:
        return [i]  # a leaf (about half the tokens)
    out: list[int] = []
    # The stack holds plain ints (no tuples to build): an id ``k >= 0`` is a token whose
    # subtree is still to walk, ``~k`` (negative) one whose left side is done, to be written.
    stack = [i]
    while stack:
        k = stack.pop()
        if k < 0:
            out.append(~k)
            continue
        ks = kids.get(k)
        if ks is None:
            out.append(k)  # a leaf: nothing to walk first
            continue
        # The children are in text order: those after ``k`` are its right ones.
        split = bisect_right(ks, k)
        if split < len(ks):
            stack.extend(reversed(ks[split:]))
        stack.append(~k)
        if split:
            stack.extend(reversed(ks[:split]))
    return out


def subtree_tokens(tok: Token) -> list[Token]:
    """``list(tok.subtree)``, from the doc's cached tokens (see ``subtree_ids``)."""
    toks = doc_tokens(tok.doc)
    return [toks[i] for i in subtree_ids(tok)]


def doc_lowers(doc: Doc) -> list[str]:
    """Each token's ``lower_``, read once: word lookups scan these before touching tokens."""
    user_data = doc.user_data
    try:
        lowers: list[str] = user_data["mediamon_lowers"]
    except KeyError:
        lowers = user_data["mediamon_lowers"] = _column_strings(doc, LOWER)
    return lowers


# String of each hash the columns below have met. spaCy's string hashes are the same in every
# vocab (a hash of the text itself), so one memo serves all docs; bounded like the lemma cache.
_STRINGS: dict[int, str] = {}
_STRINGS_SIZE = 200_000


def _column_strings(doc: Doc, attr: int) -> list[str]:
    # One column read (``Doc.to_array``) and a dict hit per token: ``Token.lower_`` and the like
    # cost a Token attribute walk and a StringStore lookup per token.
    hashes: list[int] = doc.to_array(attr).tolist()
    memo = _STRINGS
    try:
        return [memo[h] for h in hashes]
    except KeyError:
        # Only the words the memo has not met cost a StringStore lookup: nearly every article
        # brings a few new words, and looking up all its words again cost more than the rest.
        if len(memo) >= _STRINGS_SIZE:
            memo.clear()
        strings = doc.vocab.strings
        for h in set(hashes).difference(memo):
            memo[h] = strings[h]
        return [memo[h] for h in hashes]


def _doc_idx(doc: Doc) -> list[int]:
    user_data = doc.user_data
    try:
        idx: list[int] = user_data["mediamon_idx"]
    except KeyError:
        # One column read: the same offsets as each token's ``idx``.
        idx = user_data["mediamon_idx"] = doc.to_array("IDX").tolist()
    return idx


def sent_tokens(span: Span) -> list[Token]:
    """The tokens of ``span``, from the doc's list (no new Token objects)."""
    return doc_tokens(span.doc)[span.start : span.end]


def tokens_in_chars(span: Span, start: int, end: int) -> list[Token]:
    """The tokens of ``span`` whose first character (doc offset ``idx``) is in [start, end)."""
    doc = span.doc
    first, last = span.start, span.end
    idx = _doc_idx(doc)
    lo = bisect_left(idx, start, first, last)
    hi = bisect_left(idx, end, lo, last) if end > start else lo
    return doc_tokens(doc)[lo:hi]


def _ent_index(doc: Doc) -> tuple[list[int], list[int], list[int], bool]:
    """Token starts, token ends and char starts of ``doc_ents``, and whether the entities are
    in order without overlaps (then a range of them can be found by bisection)."""
    return _ent_table(doc)[1:]


# doc_ents with _ent_index's lists: one cache lookup for the hot entity searches.
_EntTable = tuple[tuple[Span, ...], list[int], list[int], list[int], bool]


def _ent_table(doc: Doc) -> _EntTable:
    user_data = doc.user_data
    try:
        table: _EntTable = user_data["mediamon_ent_index"]
    except KeyError:
        ents = doc_ents(doc)
        starts = [e.start for e in ents]
        ends = [e.end for e in ents]
        ordered = all(
            starts[k] < ends[k] and (k == 0 or ends[k - 1] <= starts[k]) for k in range(len(ents))
        )
        chars = [e.start_char for e in ents]
        table = user_data["mediamon_ent_index"] = (ents, starts, ends, chars, ordered)
    return table


def ents_ordered(doc: Doc) -> bool:
    """Whether ``doc_ents`` are in text order without overlaps (as spaCy makes them)."""
    return _ent_index(doc)[3]


def ents_overlapping(doc: Doc, start: int, end: int) -> Sequence[Span]:
    """The entities (``doc_ents``, in their order) that share a token with [start, end)."""
    ents, starts, ends, _, ordered = _ent_table(doc)
    if not ordered:
        return [e for e in ents if e.end > start and e.start < end]
    return ents[bisect_right(ends, start) : bisect_left(starts, end)]


def ents_at_char(doc: Doc, char: int) -> Sequence[Span]:
    """The entities (``doc_ents``) whose characters include doc offset ``char``."""
    ents, _, _, chars, ordered = _ent_table(doc)
    if not ordered:
        return [e for e in ents if e.start_char <= char < e.end_char]
    k = bisect_right(chars, char) - 1
    return ents[k : k + 1] if k >= 0 and char < ents[k].end_char else ()


# Lowercase words inside names: "Maria do Carmo Silva", "Instituto Tropical do Sul", "Ludwig
# van Houten". The small model often ends an entity at them and tags the rest apart.
NAME_PARTICLES = {"da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "van", "von"}


def _with_particles(doc: Doc, ents: Sequence[Span]) -> tuple[Span, ...]:
    """Entities joined across a name particle: a person or organisation the particle splits
    ("Maria" + "do" + "Carmo Silva", "the Centro de Estudos" + "do" + "Norte") is one entity;
    an organisation or a building the model saw in one part makes the whole an organisation."""

    def capitalised(i: int) -> bool:
        return 0 <= i < len(doc) and doc[i].is_alpha and doc[i].text[:1].isupper()

    spans: list[tuple[int, int, str]] = []
    for e in ents:
        start, end = e.start, e.end
        if e.label_ in ("PERSON", "ORG", "FAC"):
            if start >= 2 and doc[start - 1].text in NAME_PARTICLES and capitalised(start - 2):
                start -= 2
                while capitalised(start - 1) and doc[start - 1].pos_ == "PROPN":
                    start -= 1
            while end + 1 < len(doc) and doc[end].text in NAME_PARTICLES and capitalised(end + 1):
                end += 2
                while capitalised(end) and doc[end].pos_ == "PROPN":
                    end += 1
        if spans and start < spans[-1][1]:
            # Joined into the entity before it: one name.
            p_start, p_end, p_label = spans[-1]
            labels = {p_label, e.label_}
            label = (
                "ORG" if labels & {"ORG", "FAC"} else "PERSON" if "PERSON" in labels else p_label
            )
            spans[-1] = (min(p_start, start), max(p_end, end), label)
            continue
        spans.append((start, end, e.label_))
    if spans == [(e.start, e.end, e.label_) for e in ents]:
        return tuple(ents)  # nothing joined: keep the model's own spans
    return tuple(Span(doc, s, e, lab) for s, e, lab in spans)


def clean(text: str) -> str:
    text = " ".join(text.split()).strip(" ,;:")
    return text


def strip_det(text: str) -> str:
    low = text.lower()
    for d in _DETERMINERS:
        if low.startswith(d):
            return text[len(d) :]
    return text


def np_tokens(head: Token) -> list[Token]:
    """The noun phrase of ``head``: its subtree without relative clauses (kept for anonymous
    sources) and without trailing punctuation."""
    # A subject is often asked for twice (as the sentence's subject and as a cue's speaker),
    # and walking a subtree is slow: one answer per head and doc (a copy, as callers may edit).
    cache: dict[int, list[Token]] = head.doc.user_data.setdefault("mediamon_nps", {})
    i = head.i
    found = cache.get(i)
    if found is None:
        found = cache[i] = _np_tokens(head)
    return list(found)


def _np_tokens(head: Token) -> list[Token]:
    # Subtrees as token ids (subtree_ids): the words are only filtered by position.
    drop: set[int] = set()
    kids = children_of(head)
    head_i = head.i
    for c in kids:
        if c.dep_ in ("appos", "npadvmod", "nummod") and c.like_num and c.i > head_i:
            drop.update(subtree_ids(c))  # "The minister, 58, said": an age
    anonymous = head.text.lower() in ANONYMOUS_HEADS or (
        head.pos_ == "NOUN" and head.dep_ != "pobj"
    )
    for c in kids:
        if c.dep_ in ("relcl", "acl") and c.i > head_i:
            clause = subtree_ids(c)
            first = min(clause)
            # An anonymous source keeps a restrictive clause ("an analyst who asked not to be
            # named"), not one set off by a comma ("The official, who was not authorised ...").
            if not anonymous or (first > 0 and head.doc[first - 1].text == ","):
                drop.update(clause)
    ids = [i for i in subtree_ids(head) if i not in drop]
    # the words after a dropped clause are not part of the name ("X, which mediated ..., said")
    if drop:
        cut = min(drop)
        ids = [i for i in ids if i < cut]
    doc_toks = doc_tokens(head.doc)
    toks = [doc_toks[i] for i in ids]
    while toks and (toks[-1].is_punct or toks[-1].dep_ == "cc"):
        toks.pop()
    while toks and toks[0].is_punct:
        toks.pop(0)
    return toks


def subject(verb: Token) -> Token | None:
    """The verb's subject; of two (the parser sometimes hangs a fronted clause's subject on the
    cue too: "Two thousand volunteers registered ..., organisers said"), the one nearest
    before the verb."""
    subjects = [c for c in children_of(verb) if c.dep_ in ("nsubj", "nsubjpass")]
    if subjects:
        before = [c for c in subjects if c.i < verb.i]
        after = [c for c in subjects if c.i > verb.i]
        if before and after and _quote_between(before[-1], verb):
            # '"... a deal ... is not a victory," said Ron Kessler': the quoted clause's
            # subject is not the cue's; the name after the cue is.
            return after[0]
        if not before:
            return subjects[0]
        first = before[-1]
        if len(before) >= 2:
            # "Researchers at the Instituto Tropical do Sul estimate": the parse took a name's
            # last word for a second subject; the name belongs to the first subject's phrase.
            earlier = before[-2]
            span = range(earlier.left_edge.i, earlier.right_edge.i + 1)
            for e in ents_overlapping(verb.doc, first.i, first.i + 1):
                if e.start <= first.i < e.end and e.start in span:
                    return earlier
        # "Choi Min-ji" parsed as three subjects: a word split at its hyphens is one subject,
        # headed by its first piece (which holds the title and given name).
        while (
            first.i > 0
            and first.doc[first.i - 1] in before
            and not first.doc[first.i - 1].whitespace_
        ):
            first = first.doc[first.i - 1]
        return first
    if verb.dep_ in ("conj", "xcomp", "advcl") and verb.head.i != verb.i:
        return subject(verb.head)
    return None


_QUOTE_MARKS = {'"', "“", "”", "‘", "’", "'"}


def _quote_between(a: Token, b: Token) -> bool:
    return any(t.text in _QUOTE_MARKS for t in a.doc[a.i + 1 : b.i])


def is_possessive(tok: Token) -> bool:
    """A possessive marker: "'s", or the bare apostrophe after a plural ("Teachers’ Union"), which
    the tagger often leaves untagged as a closing quote."""
    if tok.tag_ == "POS" or (tok.dep_ == "case" and tok.text in ("'", "’", "'s", "’s")):
        return True
    if tok.text not in ("'", "’") or tok.i == 0:
        return False
    # An apostrophe glued to a plural it hangs on ("Nurses’ Federation") marks its owner.
    prev = tok.doc[tok.i - 1]
    return tok.head.i == prev.i and not prev.whitespace_ and prev.lower_.endswith("s")


def pobj(prep: Token) -> Token | None:
    return next((c for c in children_of(prep) if c.dep_ == "pobj"), None)


def ent_text(span: Span) -> str:
    """``span.text`` read from the doc's cached text: ``Span.text`` joins a new Token object per
    word on every access, and the rules read entity texts again and again."""
    doc = span.doc
    try:  # doc_text inlined: this runs for every entity of every article
        text: str = doc.user_data["mediamon_text"]
    except KeyError:
        text = doc_text(doc)
    return text[span.start_char : span.end_char]


def span_text(tokens: list[Token]) -> str:
    doc = tokens[0].doc
    return doc_text(doc)[tokens[0].idx : tokens[-1].idx + len(tokens[-1])]


def span_ents(span: Span) -> list[Span]:
    """The entities inside ``span``, from the doc's cached list (``Span.ents`` rebuilds them)."""
    first, last = span.start, span.end
    return [
        e for e in ents_overlapping(span.doc, first, last) if e.start >= first and e.end <= last
    ]
