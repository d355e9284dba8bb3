"""spaCy loading (once per process) and safe splitting of long texts.

The parser and NER need about 1 GB of memory per 100k characters, so long articles are cut into
chunks at paragraph (or, failing that, sentence) boundaries before they reach ``nlp.pipe``.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.nlp.tokens import seed_text

# The lemmatizer is the only component the rules never read (cues are matched on word forms).
DISABLED = ("lemmatizer",)
_BREAK = re.compile(r"\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘'])")


BREAKS = "mediamon_sentence_breaks"
_CLOSERS = {"”", '"', "’", "'"}


@Language.component(BREAKS)
def sentence_breaks(doc: Doc) -> Doc:
    """Fix sentence starts the small parser misses: after a paragraph break, and after a
    sentence that ends inside a quotation (``... none." Korvanets, ...``)."""
    for tok in doc[1:]:
        prev = doc[tok.i - 1]
        if (prev.is_space and "\n" in prev.text and not tok.is_space) or (
            prev.text in _CLOSERS
            and tok.i >= 2
            and doc[tok.i - 2].text in (".", "!", "?")
            and tok.text[:1].isupper()
            and not tok.is_space
        ):
            tok.is_sent_start = True
    return doc


@lru_cache(maxsize=2)
def get_nlp(model: str) -> Language:
    """The spaCy pipeline ``model`` with unneeded components disabled, loaded once per process."""
    nlp = spacy.load(model, disable=list(DISABLED))
    nlp.add_pipe(BREAKS, before="parser")
    # The model is some 150,000 objects that live as long as the process. Frozen, they are no
    # longer walked by every full collection the rules' allocations set off (GC time in the
    # rules: 0.15 -> 0.03 s CPU per 200 articles). Collect first, so no garbage is frozen.
    gc.collect()
    gc.freeze()
    return nlp


def split_text(text: str, max_chars: int) -> list[tuple[int, str]]:
    """Cut ``text`` into (offset, chunk) pieces of at most ``max_chars``, never inside a paragraph
    when avoidable, else at a sentence end, else (one huge "sentence") at a space."""
    if len(text) <= max_chars:
        return [(0, text)]
    cuts = [m.end() for m in _BREAK.finditer(text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        if len(text) - start <= max_chars:
            pieces.append((start, text[start:]))
            break
        limit = start + max_chars
        cut = max((c for c in cuts if start < c <= limit), default=None)
        if cut is None:
            ends = [m.end() for m in _SENTENCE_END.finditer(text, start, limit)]
            cut = ends[-1] if ends else None
        if cut is None:
            space = text.rfind(" ", start + 1, limit)
            cut = space + 1 if space > start else limit
        pieces.append((start, text[start:cut]))
        start = cut
    return pieces


def pipe_chunks(
    nlp: Language, texts: Iterable[str], *, max_chars: int, batch_size: int
) -> Iterator[list[tuple[int, Doc]]]:
    """For each text, its docs with their offsets; all chunks of all texts go through one
    ``nlp.pipe`` stream so batching spans articles."""
    texts = list(texts)
    pieces = [split_text(t, max_chars) for t in texts]
    flat = ((chunk, (i, k)) for i, ps in enumerate(pieces) for k, (_, chunk) in enumerate(ps))
    out: list[list[tuple[int, Doc]]] = [[] for _ in texts]
    counts = [len(ps) for ps in pieces]
    nxt = 0
    for doc, (i, k) in nlp.pipe(flat, as_tuples=True, batch_size=batch_size):
        off, chunk = pieces[i][k]
        seed_text(doc, chunk)
        out[i].append((off, doc))
        while nxt < len(texts) and len(out[nxt]) == counts[nxt]:
            yield out[nxt]
            out[nxt] = []
            nxt += 1
    while nxt < len(texts):
        yield out[nxt]
        nxt += 1
