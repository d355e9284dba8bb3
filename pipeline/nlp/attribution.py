"""Attribution: cue words and their stance, the speaker of each cue, channels (`via`) and cited
sources (`cites`). Works on one spaCy sentence at a time; names, roles and pronoun resolution are
in :mod:`pipeline.nlp.speakers`."""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Span, Token

from pipeline.nlp.records import Attribution
from pipeline.nlp.speakers import (
    SpeakerMemory,
    remember_subject,
    set_speaker,
)
from pipeline.nlp.tokens import clean, np_tokens, pobj, span_text, strip_det, subject

NEUTRAL, DISTANCING, EMPHATIC, DENIAL = "neutral", "distancing", "emphatic", "denial"
_CUE_LEMMAS = {
    NEUTRAL: "say state report note tell add announce confirm estimate write remark explain "
    "describe accuse acknowledge admit",
    DISTANCING: "claim allege insist maintain assert",
    EMPHATIC: "argue emphasize emphasise stress warn",
    DENIAL: "deny",
}


_IRREGULAR = {
    "say": ("said", "says", "saying"),
    "tell": ("told", "tells", "telling"),
    "write": ("wrote", "writes", "written", "writing"),
}


def _forms(lemma: str) -> set[str]:
    if lemma in _IRREGULAR:
        return {lemma, *_IRREGULAR[lemma]}
    stem = lemma[:-1] if lemma.endswith("e") else lemma
    past = stem + ("ied" if lemma.endswith("y") and lemma[-2] not in "aeiou" else "ed")
    if lemma.endswith("y") and lemma[-2] not in "aeiou":
        past, third = lemma[:-1] + "ied", lemma[:-1] + "ies"
    else:
        third = lemma + ("es" if lemma.endswith(("s", "sh", "ch", "x")) else "s")
    if lemma == "admit":
        past = "admitted"
    return {lemma, past, third, stem + "ing"}


CUE_FORMS: dict[str, tuple[str, str]] = {
    form: (lemma, stance)
    for stance, lemmas in _CUE_LEMMAS.items()
    for lemma in lemmas.split()
    for form in _forms(lemma)
}


# Heads of "according to <X>" phrases that are data, not a speaker: they go to `cites`.
DATA_WORDS = {
    "figures",
    "data",
    "estimates",
    "estimate",
    "statistics",
    "count",
    "tally",
    "poll",
    "survey",
    "records",
    "numbers",
    "calculations",
    "analysis",
    "study",
    "census",
    "report",
    "registry",
    "registries",
    "imagery",
    "documents",
}


NON_OUTLETS = {
    "reporters",
    "journalists",
    "parliament",
    "lawmakers",
    "briefing",
    "students",
    "council",
    "congress",
    "committee",
    "conference",
    "crowd",
    "supporters",
    "court",
    "senate",
    "audience",
    "members",
    "troops",
}


# Words that lead to a channel: "shared with X", "in an interview with X", "speaking to X".
VIA_HEADS = {"shared", "interview", "speaking", "comments", "remarks", "spoke", "statement"}


CHANNEL_NOUNS = {"correspondent", "reporter", "journalist", "correspondents"}


@dataclass
class Cue:
    """A cue in a sentence and what it attributes."""

    token: Token
    text: str
    attribution: Attribution
    speaker_tokens: frozenset[int] = frozenset()


def _is_cue(tok: Token) -> bool:
    if tok.lower_ not in CUE_FORMS or tok.pos_ not in ("VERB", "AUX"):
        return False
    if any(c.dep_ == "auxpass" for c in tok.children):
        return False  # "were told to expect", "is said to be": the subject is not the source
    return tok.dep_ not in ("amod", "acl") or tok.lower_ in ("said", "told")


def _outlet(tokens: list[Token]) -> bool:
    return any(t.pos_ == "PROPN" for t in tokens) and tokens[-1].lower_ not in NON_OUTLETS


def channels(sent: Span) -> list[str]:
    """Channels in the sentence: "told Nordpress", "shared with <agency>", "<outlet>'s
    correspondent", "in an interview with <outlet>"."""
    out: list[str] = []
    for tok in sent:
        np: list[Token] = []
        if tok.lower_ in ("told", "tells", "tell") and tok.pos_ == "VERB":
            obj = next((c for c in tok.children if c.dep_ in ("dobj", "dative", "iobj")), None)
            if obj is not None and obj.lower_ not in CHANNEL_NOUNS:
                np = np_tokens(obj)
        elif tok.lower_ in VIA_HEADS:
            prep = next(
                (c for c in tok.children if c.dep_ == "prep" and c.lower_ in ("with", "to")), None
            )
            obj = pobj(prep) if prep is not None else None
            if obj is not None:
                np = np_tokens(obj)
        elif tok.lower_ in CHANNEL_NOUNS:
            poss = next((c for c in tok.children if c.dep_ == "poss"), None)
            if poss is not None:
                np = [t for t in np_tokens(poss) if t.tag_ != "POS"]
        if np and _outlet(np):
            text = strip_det(clean(span_text(np)))
            if text and text not in out:
                out.append(text)
    return out


def citations(sent: Span) -> list[str]:
    """Sources a sentence cites: "citing data from the prosecutor's office"."""
    out = []
    for tok in sent:
        if tok.lower_ == "citing":
            obj = next((c for c in tok.children if c.dep_ in ("dobj", "pobj")), None)
            if obj is None and tok.i + 1 < sent.end:
                obj = sent.doc[tok.i + 1]
            np = np_tokens(obj) if obj is not None else []
            if np:
                out.append(clean(span_text(np)))
    return out


def find_cues(sent: Span, memory: SpeakerMemory, offset: int) -> list[Cue]:
    """Cues in ``sent`` with their attribution; ``offset`` maps doc offsets to the article."""
    via = channels(sent)
    cites = citations(sent)
    cues: list[Cue] = []
    for tok in sent:
        if (
            tok.lower_ == "according"
            and tok.i + 1 < sent.end
            and sent.doc[tok.i + 1].lower_ == "to"
        ):
            obj = pobj(sent.doc[tok.i + 1])
            attr = Attribution(
                cue="according to", cue_stance=NEUTRAL, via=list(via), cites=list(cites)
            )
            speaker_toks: list[Token] = []
            if obj is not None:
                np = np_tokens(obj)
                if obj.lower_ in DATA_WORDS:
                    attr.cites.append(clean(span_text(np)))
                    prep = next(
                        (
                            c
                            for p in ("by", "from", "of")
                            for c in obj.children
                            if c.dep_ == "prep" and c.lower_ == p
                        ),
                        None,
                    )
                    inner = pobj(prep) if prep is not None else None
                    speaker_toks = np_tokens(inner) if inner is not None else []
                else:
                    speaker_toks = np
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, "according to", attr, frozenset(t.i for t in speaker_toks)))
        elif tok.lower_ == "citing" and tok.dep_ in ("advcl", "xcomp", "conj", "acl"):
            # "The ministry expects ..., citing surveys": whoever does the citing is the source.
            attr = Attribution(cue="citing", cue_stance=NEUTRAL, via=list(via), cites=list(cites))
            subj = subject(tok.head) if tok.head.i != tok.i else None
            speaker_toks = np_tokens(subj) if subj is not None else []
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, "citing", attr, frozenset(t.i for t in speaker_toks)))
        elif _is_cue(tok):
            _, stance = CUE_FORMS[tok.lower_]
            attr = Attribution(cue=tok.text, cue_stance=stance, via=list(via), cites=list(cites))
            subj = subject(tok)
            if subj is not None and subj.tag_ in ("WDT", "WP") and tok.dep_ == "relcl":
                subj = tok.head  # "Varnia, which says ..." -> Varnia
            speaker_toks = np_tokens(subj) if subj is not None else []
            if not speaker_toks or (
                not _before_without_quote(speaker_toks, tok) and (speaker_toks[0].i < tok.i)
            ):
                speaker_toks = _inverted_speaker(tok, sent) or speaker_toks
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, tok.text, attr, frozenset(t.i for t in speaker_toks)))
    remember_subject(sent, memory, offset)
    return cues


_SEPARATORS = {",", "”", '"', "’", "'", ";", ":", "“", "‘", "—", "(", ")"}


def _before_without_quote(toks: list[Token], cue: Token) -> bool:
    """Whether no quotation mark or clause comma stands between the subject and its cue."""
    between = toks[0].doc[toks[-1].i + 1 : cue.i]
    return not any(t.text in _SEPARATORS and t.text != "," for t in between)


def _inverted_speaker(cue: Token, sent: Span) -> list[Token]:
    """The speaker of an attribution written after the reported words: "..., a source within
    the security services said." / "..., the institute's director, Mira Hal, said."""
    doc = sent.doc
    i = cue.i - 1
    if i >= sent.start and doc[i].text == ",":  # "..., Mira Hal, said"
        i -= 1
    seg: list[Token] = []
    while i >= sent.start and doc[i].text not in _SEPARATORS:
        seg.insert(0, doc[i])
        i -= 1
    if not seg or len(seg) > 14 or not any(t.pos_ in ("NOUN", "PROPN", "PRON") for t in seg):
        return []
    if seg[0].pos_ in ("VERB", "AUX", "CCONJ", "SCONJ", "ADP"):
        return []
    # ", <role>, <Name>, said": take the role in front of the name as well.
    if i > sent.start and doc[i].text == "," and all(t.pos_ == "PROPN" for t in seg):
        j = i - 1
        role: list[Token] = []
        while j >= sent.start and doc[j].text not in _SEPARATORS:
            role.insert(0, doc[j])
            j -= 1
        if (
            role
            and len(role) <= 6
            and j >= sent.start
            and doc[j].text == ","
            and not any(t.pos_ in ("VERB", "AUX") for t in role)
        ):
            return [*role, doc[i], *seg]
    return seg
