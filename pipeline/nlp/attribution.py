"""Attribution: cue words and their stance, the speaker of each cue, channels (`via`) and cited
sources (`cites`). Works on one spaCy sentence at a time; names, roles and pronoun resolution are
in :mod:`pipeline.nlp.speakers`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from spacy.tokens import Span, Token

from pipeline.nlp.records import Attribution
from pipeline.nlp.speakers import (
    SpeakerMemory,
    remember_subject,
    set_speaker,
)
from pipeline.nlp.tokens import (
    children_of,
    clean,
    doc_heads,
    doc_lowers,
    doc_tokens,
    ents_overlapping,
    np_tokens,
    pobj,
    span_text,
    strip_det,
    subject,
)

NEUTRAL, DISTANCING, EMPHATIC, DENIAL = "neutral", "distancing", "emphatic", "denial"
_CUE_LEMMAS = {
    NEUTRAL: "say state report note tell add announce confirm estimate write remark explain "
    "describe accuse acknowledge admit tweet post disclose counter reply retort",
    DISTANCING: "claim allege insist maintain assert contend",
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


# Heads of "according to <X>" phrases that are data, not a speaker: they go to `cites`, and
# whoever produced them ("figures from the ministry", "police estimates") is the speaker.
DATA_WORDS = {
    "figures",
    "data",
    "estimates",
    "estimate",
    "statistics",
    "count",
    "tally",
    "poll",
    "polls",
    "survey",
    "surveys",
    "records",
    "numbers",
    "calculations",
    "analysis",
    "study",
    "studies",
    "census",
    "report",
    "registry",
    "registries",
    "imagery",
    "documents",
    "assessment",
    "projections",
    "forecast",
    "research",
    "audit",
    "accounts",
    "filings",
    "filing",
}
# Of those, the ones that speak for themselves when nobody is named as their author:
# "according to a parliamentary report" -> speaker "a parliamentary report", nothing cited.
DOCUMENT_WORDS = {"report", "reports", "study", "studies", "assessment", "audit"}
# Participles that introduce the author of data: "a survey published by the Lenz Institute".
_AUTHORED = {"published", "conducted", "compiled", "released", "commissioned", "carried", "issued"}


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
    "rally",
    "rallies",
    "meeting",
    "gathering",
    "vigil",
    "summit",
    "forum",
    "hearing",
}
# Social platforms carry a speaker's own post: no outlet stands between speaker and reader.
SOCIAL_PLATFORMS = {
    "telegram",
    "tiktok",
    "twitter",
    "x",
    "facebook",
    "instagram",
    "youtube",
    "vk",
    "vkontakte",
    "threads",
    "bluesky",
    "weibo",
    "wechat",
    "whatsapp",
    "linkedin",
}
# A broadcast address is a channel the speaker did not own: "said in a televised address".
_BROADCAST = {"televised", "televized", "broadcast", "radio", "video"}


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


def _is_cue(tok: Token, low: str) -> bool:
    """Whether ``tok`` (lowercased ``low``) is a speech verb that attributes what it reports."""
    if low not in CUE_FORMS or tok.pos_ not in ("VERB", "AUX"):
        return False
    # The children's relations, read once: each ``dep_`` is a call and a string lookup.
    deps = {c.dep_ for c in children_of(tok)}
    if "auxpass" in deps:
        return False  # "were told to expect", "is said to be": the subject is not the source
    if (
        CUE_FORMS[low][0] in ("add", "post", "tweet", "claim")
        and "dobj" in deps
        and "ccomp" not in deps
    ):
        # "would add 300 roubles", "posted a video", "may claim up to 3,000 euros": doing,
        # not speaking
        return False
    dep = tok.dep_
    if dep == "acl" and "ccomp" in deps:
        return True  # "Education advocacy groups estimated on Monday that ...", misparsed
    return dep not in ("amod", "acl") or low in ("said", "told")


# Common nouns that are news outlets without a name: "told a news agency", "state television".
OUTLET_NOUNS = {
    "newspaper",
    "newspapers",
    "broadcaster",
    "television",
    "tv",
    "radio",
    "media",
    "outlet",
    "outlets",
    "daily",
    "weekly",
    "magazine",
    "website",
    "channel",
    "station",
    "wire",
    "podcast",
}
_NEWS_WORDS = {"news", "press", "wire", "media"}


def _outlet(tokens: list[Token]) -> bool:
    ids = {t.i for t in tokens}
    # The phrase's own head: "a news conference in Jakarta" is a conference, not Jakarta.
    heads = [t for t in tokens if t.head.i not in ids or t.head.i == t.i]
    last = tokens[-1]
    if (heads and heads[0].lower_ in NON_OUTLETS) or last.lower_ in NON_OUTLETS:
        return False
    # "X" alone is the platform; "Channel X" is an outlet's name.
    named = [t.lower_ for t in tokens if t.dep_ != "det"]
    if named == ["x"] or any(w in _PLATFORMS_BUT_X for w in named):
        return False
    # The speaker's own page ("on its website", "on her blog") and social media in general
    # carry a post, like "in a statement": no outlet stands between speaker and reader.
    if tokens[0].lower_ in ("its", "his", "her", "their", "our", "my"):
        return False
    if len(tokens) >= 2 and tokens[-2].lower_ == "social" and last.lower_ == "media":
        return False
    if any(t.pos_ == "PROPN" for t in tokens) or last.lower_ in OUTLET_NOUNS:
        return True
    # "a news agency", "a press service": an agency is an outlet when it is a news one
    return last.lower_ in ("agency", "agencies", "service") and any(
        t.lower_ in _NEWS_WORDS for t in tokens[:-1]
    )


_PLATFORMS_BUT_X = SOCIAL_PLATFORMS - {"x"}  # made once, not per word
_CHANNEL_WORDS = frozenset({"told", "tells", "tell", "on", "address"} | VIA_HEADS | CHANNEL_NOUNS)


def channels(sent: Span) -> list[str]:
    """Channels in the sentence: "told Nordpress", "shared with <agency>", "<outlet>'s
    correspondent", "in an interview with <outlet>"."""
    out: list[str] = []
    lows = doc_lowers(sent.doc)
    start, end = sent.start, sent.end
    if _CHANNEL_WORDS.isdisjoint(lows[start:end]):
        return out  # most sentences name no channel: one set test instead of a word loop
    toks = doc_tokens(sent.doc)
    for i in [i for i in range(start, end) if lows[i] in _CHANNEL_WORDS]:
        low = lows[i]
        tok = toks[i]
        np: list[Token] = []
        found: str | None = None
        if low in ("told", "tells", "tell") and tok.pos_ == "VERB":
            obj = next((c for c in children_of(tok) if c.dep_ in ("dobj", "dative", "iobj")), None)
            if obj is not None and obj.lower_ not in CHANNEL_NOUNS:
                np = np_tokens(obj)
        elif low in VIA_HEADS:
            prep = next(
                (c for c in children_of(tok) if c.dep_ == "prep" and c.lower_ in ("with", "to")),
                None,
            )
            obj = pobj(prep) if prep is not None else None
            if obj is not None:
                np = np_tokens(obj)
        elif low == "on" and lows[doc_heads(sent.doc)[i]] in CUE_FORMS and tok.dep_ == "prep":
            # "said on state television", "wrote on Telegram" (the head's cached word is tested
            # first: most "on"s hang on no cue)
            obj = pobj(tok)
            if obj is not None and (obj.lower_ in OUTLET_NOUNS or obj.ent_type_ == "ORG"):
                np = np_tokens(obj)
        elif low in CHANNEL_NOUNS:
            poss = next((c for c in children_of(tok) if c.dep_ == "poss"), None)
            if poss is not None:
                np = [t for t in np_tokens(poss) if t.tag_ != "POS"]
        elif (
            low == "address"
            and tok.head.lower_ == "in"
            and any(c.lower_ in _BROADCAST for c in children_of(tok))
        ):
            # "said in a televised address (on Friday)": the address as written, article kept
            # (it names no outlet).
            words = [c for c in tok.lefts if c.dep_ in ("det", "amod", "compound")] + [tok]
            found = clean(span_text(words))
        if np and _outlet(np):
            found = strip_det(clean(span_text(np)))
        if found and found not in out:
            out.append(found)
    return out


def citations(sent: Span) -> list[str]:
    """Sources a sentence cites: "citing data from the prosecutor's office"."""
    out: list[str] = []
    lows = doc_lowers(sent.doc)
    if "citing" not in lows[sent.start : sent.end]:
        return out
    toks = doc_tokens(sent.doc)
    for i in range(sent.start, sent.end):
        if lows[i] == "citing":
            tok = toks[i]
            obj = next((c for c in children_of(tok) if c.dep_ in ("dobj", "pobj")), None)
            if obj is None and tok.i + 1 < sent.end:
                obj = toks[tok.i + 1]
            np = np_tokens(obj) if obj is not None else []
            if np:
                out.append(clean(span_text(np)))
    return out


SHOW_FORMS = {
    "show",
    "shows",
    "showed",
    "shown",
    "found",
    "finds",
    "suggest",
    "suggests",
    "suggested",
    "indicate",
    "indicates",
    "indicated",
}


_FOUND = {"found", "finds"}
_DATA_OR_DOCUMENT = DATA_WORDS | DOCUMENT_WORDS  # made once, not per call


def _puts_at_figure(verb: Token) -> bool:
    """ "put the crowd at 20,000": an object and an "at" with a number."""
    if not any(c.dep_ == "dobj" for c in children_of(verb)):
        return False
    at = next((c for c in children_of(verb) if c.dep_ == "prep" and c.lower_ == "at"), None)
    obj = pobj(at) if at is not None else None
    return obj is not None and obj.like_num


def _reports_finding(verb: Token) -> bool:
    """Whether "found" reports a finding (a clause: "found that ...", "X rose, the agency
    found") rather than coming upon a thing ("Deputies found 38 dogs")."""
    if any(c.dep_ == "ccomp" for c in children_of(verb)):
        return True
    return verb.dep_ in ("parataxis", "ROOT") and any(
        c.dep_ in ("ccomp", "parataxis") and c.i < verb.i for c in children_of(verb)
    )


def _trailing_data_verb(tok: Token, sent: Span) -> list[Token]:
    """The data of a closing ", customs data show." that the parser read as one noun phrase
    ("show" as a noun, or a verb without a subject): the words between the comma and the verb;
    [] for anything else."""
    doc = sent.doc
    if tok.i + 1 >= sent.end or not doc[tok.i + 1].is_punct:
        return []
    subj = subject(tok) if tok.pos_ == "VERB" else None
    if subj is not None and subj.i != tok.i - 1 and doc[tok.i - 1].dep_ != "compound":
        return []  # a subject of its own; "Defense Department records show" (records a
        # compound, the department the subject) is still the records speaking
    if doc[tok.i + 1].text not in (".", "!", "?", ",", ";") or tok.i - 1 < sent.start:
        return []  # "..., customs data show." / "..., FEC records show, more than twice ..."
    if doc[tok.i - 1].lower_ not in _DATA_OR_DOCUMENT:
        return []
    k = tok.i - 1
    while k > sent.start and doc[k - 1].text != "," and tok.i - k < 6:
        k -= 1
    if k == sent.start or doc[k - 1].text != ",":
        return []
    return [doc[j] for j in range(k, tok.i)]


def _cite_data(data: Token, attr: Attribution) -> list[Token]:
    """Add cited data ("figures from the ministry") to ``attr.cites``; return the speaker tokens:
    the data's author, or a document that speaks for itself ("a parliamentary report")."""
    np = np_tokens(data)
    author = _data_author(data)
    if any(c.dep_ == "acl" and c.lower_ in _AUTHORED for c in children_of(data)):
        # keep "published by X" in what is cited, as "a poll by X" is
        np = [t for t in data.subtree if not t.is_punct or t.i < data.i]
    if author:
        attr.cites.append(clean(span_text(np)))
        return author
    # Nobody named as the author: the data speaks for itself ("Court records show ...",
    # "the figures show"), as a document does.
    return np


def _data_author(data: Token) -> list[Token]:
    """Who produced cited data: "figures from the ministry", "a poll by X", "a survey published
    by X", "police estimates", "the ministry's figures"; [] when nobody is named."""
    for p in ("by", "from", "of"):  # "a count of obituaries by X": the author is X
        prep = next((c for c in children_of(data) if c.dep_ == "prep" and c.lower_ == p), None)
        inner = pobj(prep) if prep is not None else None
        if inner is not None:
            return np_tokens(inner)
    for c in children_of(data):
        if c.dep_ == "acl" and c.lower_ in _AUTHORED:
            agent = next(
                (a for a in children_of(c) if a.dep_ in ("agent", "prep") and a.lower_ == "by"),
                None,
            )
            inner = pobj(agent) if agent is not None else None
            if inner is not None:
                return np_tokens(inner)
    # A modifier or an owner is not an author ("Court records", "customs data", "the justice
    # ministry's own figures", "China's customs data"): the records speak for themselves, under
    # their own name; only "figures from X" and "a report by X" name an author.
    return []


_ORDER_FORMS = {
    "order",
    "orders",
    "ordered",
    "rule",
    "rules",
    "ruled",
    "block",
    "blocks",
    "blocked",
    "sentence",
    "sentenced",
    "award",
    "awarded",
    "fine",
    "fined",
}
_COURT_WORDS = {"judge", "judges", "court", "courts", "tribunal", "justice", "magistrate", "jury"}


def _court(subj: Token | None, memory: SpeakerMemory | None = None, offset: int = 0) -> bool:
    """Whether a subject is a judge or court, or a pronoun for a judge named before ("Judge
    Miriam Oyelaran wrote ... She also ordered ...")."""
    if subj is None:
        return False
    if subj.lower_ in _COURT_WORDS:
        return True
    if memory is not None and subj.lower_ in ("he", "she"):
        found = memory.resolve(subj.lower_, offset + subj.idx)
        words = f"{found.role or ''} {found.text}".lower().split() if found else []
        return any(w in _COURT_WORDS for w in words)
    return subj.pos_ == "PROPN" and any(
        c.lower_ in _COURT_WORDS for c in children_of(subj) if c.dep_ == "compound"
    )


# Every word that can start a cue in find_cues.
_TRIGGERS = frozenset(
    {"according", "citing", "put", "puts"} | SHOW_FORMS | _ORDER_FORMS | set(CUE_FORMS)
)


def find_cues(
    sent: Span,
    memory: SpeakerMemory,
    offset: int,
    via: list[str] | None = None,
    cites: list[str] | None = None,
) -> list[Cue]:
    """Cues in ``sent`` with their attribution; ``offset`` maps doc offsets to the article.
    ``via``/``cites``: the sentence's channels and citations when the caller has them."""
    lows = doc_lowers(sent.doc)
    start, end = sent.start, sent.end
    if _TRIGGERS.isdisjoint(lows[start:end]):
        # Most sentences hold no cue word: one set test, and nothing else to find.
        remember_subject(sent, memory, offset)
        return []
    via = channels(sent) if via is None else via
    cites = citations(sent) if cites is None else cites
    cues: list[Cue] = []
    toks = doc_tokens(sent.doc)
    # Most words start no cue: only the trigger words go through the checks below.
    triggers = [i for i in range(start, end) if lows[i] in _TRIGGERS]
    for i in triggers:
        low = lows[i]
        tok = toks[i]
        if low == "according" and i + 1 < end and lows[i + 1] == "to":
            obj = pobj(toks[i + 1])
            attr = Attribution(
                cue="according to", cue_stance=NEUTRAL, via=list(via), cites=list(cites)
            )
            speaker_toks: list[Token] = []
            if obj is not None:
                if obj.lower_ in DATA_WORDS or obj.lower_ in DOCUMENT_WORDS:
                    speaker_toks = _cite_data(obj, attr)
                else:
                    speaker_toks = np_tokens(obj)
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, "according to", attr, frozenset(t.i for t in speaker_toks)))
        elif low == "citing" and tok.dep_ in ("advcl", "xcomp", "conj", "acl"):
            # "The ministry expects ..., citing surveys": whoever does the citing is the source.
            attr = Attribution(cue="citing", cue_stance=NEUTRAL, via=list(via), cites=list(cites))
            subj = subject(tok.head) if tok.head.i != tok.i else None
            speaker_toks = np_tokens(subj) if subj is not None else []
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, "citing", attr, frozenset(t.i for t in speaker_toks)))
        elif low in SHOW_FORMS and _trailing_data_verb(tok, sent):
            # "..., customs data show." parsed as one noun phrase: the data is the speaker.
            attr = Attribution(cue=tok.text, cue_stance=NEUTRAL, via=list(via), cites=list(cites))
            speaker_toks = _trailing_data_verb(tok, sent)
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, tok.text, attr, frozenset(t.i for t in speaker_toks)))
        elif low in SHOW_FORMS and tok.pos_ == "VERB":
            # "customs data showed", "the survey found": the data speaks, its author is the
            # speaker and the data is cited.
            subj = subject(tok)
            if subj is None or not (subj.lower_ in DATA_WORDS or subj.lower_ in DOCUMENT_WORDS):
                if subj is not None and low in _FOUND and _reports_finding(tok):
                    # "..., the agency found in its annual report": whoever finds, reports.
                    attr = Attribution(
                        cue=tok.text, cue_stance=NEUTRAL, via=list(via), cites=list(cites)
                    )
                    speaker_toks = np_tokens(subj)
                    set_speaker(attr, speaker_toks, memory, offset)
                    cues.append(Cue(tok, tok.text, attr, frozenset(t.i for t in speaker_toks)))
                continue
            attr = Attribution(cue=tok.text, cue_stance=NEUTRAL, via=list(via), cites=list(cites))
            speaker_toks = _cite_data(subj, attr)
            set_speaker(attr, speaker_toks, memory, offset)
            data_ids = frozenset(t.i for t in subj.subtree if t.i < tok.i)
            cues.append(Cue(tok, tok.text, attr, data_ids | {t.i for t in speaker_toks}))
        elif low in ("put", "puts") and tok.pos_ == "VERB" and _puts_at_figure(tok):
            # "organisers put the crowd at 20,000": an estimate, given by the subject.
            subj = subject(tok)
            attr = Attribution(cue=tok.text, cue_stance=NEUTRAL, via=list(via), cites=list(cites))
            speaker_toks = np_tokens(subj) if subj is not None else []
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, tok.text, attr, frozenset(t.i for t in speaker_toks)))
        elif low in _ORDER_FORMS and tok.pos_ == "VERB" and _court(subject(tok), memory, offset):
            # "a federal judge ordered the city to pay 1,200 dollars": the court is the source.
            subj = subject(tok)
            assert subj is not None
            attr = Attribution(cue=tok.text, cue_stance=NEUTRAL, via=list(via), cites=list(cites))
            speaker_toks = np_tokens(subj)
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, tok.text, attr, frozenset(t.i for t in speaker_toks)))
        elif _is_cue(tok, low):
            _, stance = CUE_FORMS[low]
            text = tok.text
            attr = Attribution(cue=text, cue_stance=stance, via=list(via), cites=list(cites))
            # The cue's relation and head, read once (each read is a call, the head a new
            # Token).
            dep = tok.dep_
            heads = doc_heads(sent.doc)
            subj = subject(tok)
            if subj is not None and dep == "relcl" and subj.tag_ in ("WDT", "WP"):
                subj = toks[heads[i]]  # "Varnia, which says ..." -> Varnia
            if subj is None and dep == "acl" and toks[heads[i]].pos_ in ("NOUN", "PROPN"):
                subj = toks[heads[i]]  # the noun the parser hung the cue on is its speaker
            if subj is not None and lows[subj.i] in _COUNTED_HEADS:
                continue  # "the number who said they had been paid": counted, not a source
            speaker_toks = np_tokens(subj) if subj is not None else []
            if subj is not None and dep == "acl" and subj.i == heads[i]:
                speaker_toks = [t for t in speaker_toks if t.i < i]
            if not speaker_toks or (
                not _before_without_quote(speaker_toks, tok) and (speaker_toks[0].i < i)
            ):
                speaker_toks = _inverted_speaker(tok, sent) or speaker_toks
            elif subj is not None and heads[subj.i] != i and subj.i < i:
                # The parser lent the cue another clause's subject ("The company would hire
                # 350 engineers ..., chief executive Elin Marsh told the Mercury"): a noun
                # phrase set off by a comma right before the cue is its own subject.
                speaker_toks = _inverted_noun_phrase(tok, sent) or speaker_toks
            speaker_toks = _with_named_appositive(speaker_toks, sent)
            set_speaker(attr, speaker_toks, memory, offset)
            cues.append(Cue(tok, text, attr, frozenset(t.i for t in speaker_toks)))
    cues = _participles_share_their_head(cues)
    remember_subject(sent, memory, offset)
    court = [c for c in cues if lows[c.token.i] in _ORDER_FORMS]
    if court and len(court) < len(cues):
        # "The court ruled ..., a decision that could reopen 6,000 claims, lawyers said": when
        # someone reports the ruling, the figure is theirs.
        return [c for c in cues if c not in court]
    return cues


# Nouns that count the people of a clause rather than name a source ("The number who said ...
# was closer to 5%", "the share who say ...").
_COUNTED_HEADS = {"number", "numbers", "share", "proportion", "percentage", "fraction", "majority"}


def _with_named_appositive(toks: list[Token], sent: Span) -> list[Token]:
    """ "said the trust's chair, Dave Pritchard.": the name set off after a role is part of the
    speaker phrase (the parser may hang it elsewhere)."""
    if not toks:
        return toks
    doc = sent.doc
    k = toks[-1].i + 1
    if k + 1 >= sent.end or doc_lowers(doc)[k] != ",":
        return toks
    name = next(
        (
            e
            for e in ents_overlapping(doc, k + 1, k + 2)
            if e.label_ == "PERSON" and e.start == k + 1
        ),
        None,
    )
    if name is None or any(t.i >= k for t in toks):
        return toks
    if name.end < sent.end and not doc[name.end].is_punct:
        return toks
    return [*toks, *doc[k : name.end]]


def _participles_share_their_head(cues: list[Cue]) -> list[Cue]:
    """ "said Laura Fontán, a lawyer for the union, adding that 14 players ...": a participle
    cue hung on another cue ("adding", "saying") speaks for that cue's speaker."""
    if len(cues) < 2:
        return list(cues)  # no other cue to hang on
    by_token = {c.token.i: c for c in cues}
    out: list[Cue] = []
    for c in cues:
        head = by_token.get(c.token.head.i)
        if (
            head is not None
            and head is not c
            and c.token.tag_ == "VBG"
            and c.token.dep_ in ("advcl", "xcomp", "conj")
            and head.attribution.speaker is not None
        ):
            attr = dataclasses.replace(
                head.attribution,
                cue=c.text,
                via=list(c.attribution.via),
                cites=list(c.attribution.cites),
            )
            c = Cue(c.token, c.text, attr, head.speaker_tokens)
        out.append(c)
    return out


_SEPARATORS = {",", "”", '"', "’", "'", ";", ":", "“", "‘", "—", "(", ")"}


# _SEPARATORS but the comma (a comma may stand between a subject and its cue).
_QUOTES_AND_BREAKS = _SEPARATORS - {","}


def _before_without_quote(toks: list[Token], cue: Token) -> bool:
    """Whether no quotation mark or clause comma stands between the subject and its cue."""
    # The cached lowercase words: a mark's lowercase form is the mark itself.
    between = doc_lowers(cue.doc)[toks[-1].i + 1 : cue.i]
    return _QUOTES_AND_BREAKS.isdisjoint(between)


def _inverted_noun_phrase(cue: Token, sent: Span) -> list[Token]:
    """ ", <noun phrase> told": the inverted speaker when it is a bare noun phrase, with at most
    a restrictive relative clause ("a Kelvaran official who asked not to be named")."""
    seg = _inverted_speaker(cue, sent)
    if not seg or seg[0].i == sent.start or seg[0].doc[seg[0].i - 1].text != ",":
        return []
    rel = next((k for k, t in enumerate(seg) if t.lower_ in ("who", "that")), len(seg))
    head = seg[:rel]
    if not head or head[-1].pos_ not in ("NOUN", "PROPN"):
        return []
    if any(t.pos_ in ("VERB", "AUX") for t in head):
        return []
    return seg


def _inverted_speaker(cue: Token, sent: Span) -> list[Token]:
    """The speaker of an attribution written after the reported words: "..., a source within
    the security services said." / "..., the institute's director, Mira Hal, said."""
    doc = sent.doc
    # The cached tokens and lowercase words (a mark's lowercase form is the mark itself).
    toks = doc_tokens(doc)
    lows = doc_lowers(doc)
    i = cue.i - 1
    if i >= sent.start and lows[i] == ",":  # "..., Mira Hal, said"
        i -= 1
    seg: list[Token] = []
    while i >= sent.start and lows[i] not in _SEPARATORS:
        seg.insert(0, toks[i])
        i -= 1
    if not seg or len(seg) > 14 or not any(t.pos_ in ("NOUN", "PROPN", "PRON") for t in seg):
        return []
    if seg[0].pos_ in ("VERB", "AUX", "CCONJ", "SCONJ", "ADP"):
        return []
    # ", <role>, <Name>, said": take the role in front of the name as well.
    if i > sent.start and lows[i] == "," and all(t.pos_ == "PROPN" for t in seg):
        j = i - 1
        role: list[Token] = []
        while j >= sent.start and lows[j] not in _SEPARATORS:
            role.insert(0, toks[j])
            j -= 1
        if (
            role
            and len(role) <= 6
            and j >= sent.start
            and lows[j] == ","
            and not any(t.pos_ in ("VERB", "AUX") for t in role)
        ):
            return [*role, doc[i], *seg]
    return seg
