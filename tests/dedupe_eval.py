"""The labeled evaluation set for dedupe, generated from the bundled corpus (issue 5).

Every article of ``samples/`` is extracted with ``pipeline.extract.extract`` (no network), keeps its
manifest story id, and then:

* variants are generated from each original: headline changed, agency credit or dateline added,
  paragraphs trimmed or reordered, boilerplate added, and 5-30 % of words edited (substituted,
  deleted or inserted); each variant belongs to its original's story;
* hard negatives: the corpus's own hard-negative pairs moved to the same day as the story they
  resemble, and generated "transplants": another story's text carrying this story's names
  and figures, published the same day. Each is a story of its own.

The set is deterministic for a given seed. ``pairwise_scores`` measures a predicted partition
against the truth over all unordered pairs.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from pipeline.extract import extract
from pipeline.samples import render

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BASE_URL = "http://127.0.0.1:8765"
VARIANT_OPS = ("headline", "wire_credit", "trim", "reorder", "boilerplate", "edit")
# Fictional outlets for generated copies; agencies from the default agency list.
OUTLETS = ("Riverside Daily", "Northgate Times", "Valley Herald", "Coastline News", "Ridge Courier")
DATELINES = ("KELMOR", "ALDMOOR", "DRAVSK", "BRENNA", "PORT ILSEN")
AGENCIES = ("Continental Press Agency", "Nordpress", "Reuters", "AP")
BOILERPLATE = (
    "War in Varnia",
    "Sign up for our morning briefing to get the day's top stories in your inbox.",
    "Read more: our live coverage of the conflict.",
    "Share this article",
    "Follow us for the latest updates from the region.",
)
# Replacement words for edits: the kind of wording changes a copy desk makes.
EDIT_WORDS = (
    "reportedly",
    "officials",
    "stated",
    "added",
    "noted",
    "several",
    "roughly",
    "earlier",
    "later",
    "local",
    "regional",
    "senior",
    "claimed",
    "according",
    "also",
    "however",
    "meanwhile",
    "still",
    "nearly",
    "about",
)


@dataclass(frozen=True)
class EvalDoc:
    """One input of the evaluation set with its true story."""

    key: str
    outlet: str
    title: str
    text: str
    published_at: datetime
    story: str
    kind: str  # corpus_original, corpus_repost, corpus_hard_negative, variant, hard_negative


_PUBLISHED_META = re.compile(r'article:published_time"\s+content="([^"]+)"')


def load_corpus(samples: Path = SAMPLES) -> list[EvalDoc]:
    """Every extractable article of the bundled corpus, with its manifest story."""
    manifest: dict[str, Any] = yaml.safe_load((samples / "manifest.yaml").read_text())
    docs = []
    for entry in manifest["articles"]:
        if entry["expected"] != "ok":
            continue
        path = samples / "site" / entry["path"]
        result = extract(
            render(path, BASE_URL),
            url=f"{BASE_URL}/{entry['path']}",
            content_type="text/html",
            fetched_at=datetime(2026, 11, 22, tzinfo=UTC),
        )
        art = result.article
        assert art is not None and art.published_at is not None, entry["path"]
        # Extraction keeps only the date; the page's meta tag has the minute, which decides
        # who was first when two outlets ran the story on the same day.
        meta = _PUBLISHED_META.search(path.read_text(encoding="utf-8"))
        published = datetime.fromisoformat(meta.group(1)) if meta else art.published_at
        docs.append(
            EvalDoc(
                key=entry["path"],
                outlet=entry["outlet"],
                title=art.title or "",
                text=art.text,
                published_at=published,
                story=entry["story"],
                kind=f"corpus_{entry['role']}",
            )
        )
    return docs


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def _edit_words(paragraph: str, rate: float, rng: random.Random) -> str:
    out = []
    for word in paragraph.split(" "):
        if rng.random() >= rate:
            out.append(word)
            continue
        action = rng.random()
        if action < 0.6:
            out.append(rng.choice(EDIT_WORDS))
        elif action < 0.8:
            continue  # deleted
        else:
            out.extend([word, rng.choice(EDIT_WORDS)])
    return " ".join(out)


def make_variant(doc: EvalDoc, n: int, rng: random.Random) -> EvalDoc:
    """A copy of ``doc`` by another outlet, with 2-4 of the variant operations applied."""
    ops = set(rng.sample(VARIANT_OPS, rng.randint(2, 4)))
    paras = _paragraphs(doc.text)
    title = doc.title
    if "headline" in ops:
        head = title.split()
        rng.shuffle(head)
        title = " ".join(head[: max(4, len(head) - 2)]) + " " + rng.choice(EDIT_WORDS)
    if "trim" in ops and len(paras) > 4:
        for _ in range(rng.randint(1, max(1, len(paras) // 4))):
            paras.pop(rng.randrange(1, len(paras)))
    if "reorder" in ops and len(paras) > 3:
        i = rng.randrange(1, len(paras) - 1)
        paras[i], paras[i + 1] = paras[i + 1], paras[i]
    if "edit" in ops:
        rate = rng.uniform(0.05, 0.30)
        paras = [_edit_words(p, rate, rng) for p in paras]
    if "wire_credit" in ops:
        agency = rng.choice(AGENCIES)
        if rng.random() < 0.5:
            paras[0] = f"{rng.choice(DATELINES)} ({agency}) — {paras[0]}"
        else:
            paras.append(f"— {agency}")
    if "boilerplate" in ops:
        paras.insert(0, rng.choice(BOILERPLATE))
        paras.append(rng.choice(BOILERPLATE))
    outlet = rng.choice([o for o in OUTLETS if o != doc.outlet])
    return EvalDoc(
        key=f"{doc.key}#variant{n}",
        outlet=outlet,
        title=f"{title} | {outlet}",
        text="\n".join(paras),
        published_at=doc.published_at + timedelta(hours=rng.randint(1, 48)),
        story=doc.story,
        kind="variant:" + "+".join(sorted(ops)),
    )


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")


def make_transplant(doc: EvalDoc, others: list[EvalDoc], rng: random.Random) -> EvalDoc:
    """A different story on the same topic: names and figures of ``doc``, same day, told in
    paragraphs taken one each from ``others`` (so it copies no single article either)."""
    names = _NAME.findall(doc.text) or ["Varnia"]
    numbers = _NUMBER.findall(doc.text) or ["1"]
    name_iter = itertools.cycle(rng.sample(names, len(names)))
    number_iter = itertools.cycle(rng.sample(numbers, len(numbers)))
    paras = [rng.choice(_paragraphs(o.text)[1:] or _paragraphs(o.text)) for o in others]
    text = _NAME.sub(lambda _m: next(name_iter), "\n".join(paras))
    text = _NUMBER.sub(lambda _m: next(number_iter), text)
    return EvalDoc(
        key=f"{doc.key}#transplant",
        outlet=rng.choice(OUTLETS),
        title=" ".join(text.split()[:9]),
        text=text,
        published_at=doc.published_at + timedelta(hours=rng.randint(0, 24)),
        story=f"{doc.story}~transplant",
        kind="hard_negative",
    )


def build_eval_set(*, seed: int = 5, variants_per_original: int = 4) -> list[EvalDoc]:
    """The labeled set: corpus articles, generated variants and generated hard negatives."""
    rng = random.Random(seed)
    manifest: dict[str, Any] = yaml.safe_load((SAMPLES / "manifest.yaml").read_text())
    corpus = load_corpus()
    by_key = {d.key: d for d in corpus}
    # The corpus's hard negatives are weeks apart from the story they resemble; move each to the
    # same day, so only the text can keep them apart.
    for pair in manifest["hard_negative_pairs"]:
        negative, resembled = by_key[pair["hard_negative"]], by_key[pair["resembles"]]
        by_key[negative.key] = replace(
            negative, published_at=resembled.published_at + timedelta(hours=6)
        )
    corpus = [by_key[d.key] for d in corpus]
    docs = list(corpus)
    originals = [d for d in corpus if d.kind in ("corpus_original", "corpus_hard_negative")]
    for doc in originals:
        docs.extend(make_variant(doc, n, rng) for n in range(variants_per_original))
    for doc in originals:
        others = rng.sample([o for o in originals if o.story != doc.story], 4)
        docs.append(make_transplant(doc, others, rng))
    return docs


def partition(stories: Iterable[tuple[str, str]]) -> set[frozenset[str]]:
    """The set of clusters from (item, cluster) pairs: comparable whatever the cluster names."""
    groups: dict[str, set[str]] = {}
    for item, cluster in stories:
        groups.setdefault(cluster, set()).add(item)
    return {frozenset(g) for g in groups.values()}


@dataclass(frozen=True)
class Scores:
    """Pairwise precision and recall of a predicted partition against the truth."""

    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int


def pairwise_scores(truth: dict[str, str], predicted: dict[str, str]) -> Scores:
    """Precision and recall over unordered pairs: a pair is positive when both share a cluster."""
    keys = sorted(truth)
    tp = fp = fn = 0
    for a, b in itertools.combinations(keys, 2):
        same_true = truth[a] == truth[b]
        same_pred = predicted[a] == predicted[b]
        tp += same_true and same_pred
        fp += same_pred and not same_true
        fn += same_true and not same_pred
    return Scores(
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        true_pairs=tp + fn,
        predicted_pairs=tp + fp,
    )


# --- groups with weak evidence and other scripts (issue 20) ------------------------------------

MULTILINGUAL = Path(__file__).resolve().parent / "fixtures" / "dedupe_multilingual"
# Headlines outlets put on many unrelated articles, and the lead line of a live page.
GENERIC_TITLES = ("Updated: the latest on this story.", "Live updates", "What we know so far")
LEAD_LINE = "Updated: the latest on this story."
# A daily column's fixed opening and closing, around a different story each day.
BRIEFING_OPEN = "Good morning. Here is what you need to know to start your day."
BRIEFING_CLOSE = (
    "That is all for this morning. Send us your questions and we will answer them in "
    "tomorrow's briefing."
)
GROUP_START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def _edit_tokens(
    tokens: list[str], rate: float, fillers: Sequence[str], rng: random.Random
) -> list[str]:
    """Tokens with about ``rate`` of them substituted, deleted or followed by a filler."""
    out: list[str] = []
    for token in tokens:
        if rng.random() >= rate:
            out.append(token)
            continue
        action = rng.random()
        if action < 0.6:
            out.append(rng.choice(fillers))
        elif action >= 0.8:
            out.extend([token, rng.choice(fillers)])
    return out


def _originals(rng: random.Random, count: int) -> list[EvalDoc]:
    corpus = [d for d in load_corpus() if d.kind in ("corpus_original", "corpus_hard_negative")]
    return rng.sample(corpus, count)


def _same_outlet_update(doc: EvalDoc, n: int, rng: random.Random) -> EvalDoc:
    """The outlet's own update of ``doc``: same headline, a few words changed, hours later."""
    paras = [
        " ".join(_edit_tokens(p.split(" "), rng.uniform(0.03, 0.10), EDIT_WORDS, rng))
        for p in _paragraphs(doc.text)
    ]
    return replace(
        doc,
        key=f"{doc.key}#update{n}",
        text="\n".join(paras),
        published_at=doc.published_at + timedelta(hours=rng.randint(1, 8)),
        kind="update",
    )


def generic_title_group(*, seed: int = 20) -> list[EvalDoc]:
    """Twelve unrelated stories from one outlet within five days, all under generic headlines and
    opening with the same lead line; each has the outlet's own update (same headline) and a copy
    by another outlet. Only the text may decide."""
    rng = random.Random(seed)
    docs: list[EvalDoc] = []
    for i, original in enumerate(_originals(rng, 12)):
        doc = EvalDoc(
            key=f"generic/{i:02d}",
            outlet="Ridge Courier",
            title=GENERIC_TITLES[i % 2],
            text=f"{LEAD_LINE}\n{original.text}",
            published_at=GROUP_START + timedelta(hours=10 * i),
            story=f"generic-{i:02d}",
            kind="generic_title",
        )
        docs += [doc, _same_outlet_update(doc, 0, rng), make_variant(doc, 0, rng)]
    return docs


def recurring_title_group(*, seed: int = 21) -> list[EvalDoc]:
    """A daily "Morning briefing" column (fixed opening and closing around a different story
    each day, two days with a corrected re-post) and four "Live updates" pages of one outlet,
    each published in three growing versions (different addresses, as when an outlet links
    every update separately)."""
    rng = random.Random(seed)
    originals = _originals(rng, 14)
    docs: list[EvalDoc] = []
    for day, original in enumerate(originals[:10]):
        body = _paragraphs(original.text)[1:3]
        doc = EvalDoc(
            key=f"briefing/{day:02d}",
            outlet="Valley Herald",
            title="Morning briefing",
            text="\n".join([BRIEFING_OPEN, *body, BRIEFING_CLOSE]),
            published_at=GROUP_START + timedelta(days=day),
            story=f"briefing-{day:02d}",
            kind="column",
        )
        docs.append(doc)
        if day in (3, 7):
            docs.append(_same_outlet_update(doc, 0, rng))
    for blog, original in enumerate(originals[10:]):
        paras = _paragraphs(original.text)
        # Each version adds an entry or two, as a live page does between two crawls.
        for version, upto in enumerate((3, 5, len(paras))):
            docs.append(
                EvalDoc(
                    key=f"live/{blog}/v{version}",
                    outlet="Coastline News",
                    title="Live updates",
                    text="\n".join([LEAD_LINE, *paras[:upto]]),
                    published_at=GROUP_START + timedelta(days=blog, hours=3 * version),
                    story=f"live-{blog}",
                    kind="live_blog",
                )
            )
    return docs


def _language_variant(
    doc: EvalDoc, n: int, lang: dict[str, Any], rng: random.Random, *, unspaced: bool
) -> EvalDoc:
    """A copy of ``doc`` by another outlet: an exact repost, or 2-3 of trim, reorder, edit (words,
    or characters in an unspaced script), agency credit and boilerplate."""
    outlet = rng.choice([o for o in OUTLETS if o != doc.outlet])
    when = doc.published_at + timedelta(hours=rng.randint(1, 48))
    if n == 0:
        return replace(
            doc, key=f"{doc.key}#repost", outlet=outlet, published_at=when, kind="repost"
        )
    ops = set(rng.sample(("trim", "reorder", "edit", "credit", "boilerplate"), rng.randint(2, 3)))
    paras = _paragraphs(doc.text)
    if "trim" in ops:
        paras.pop(rng.randrange(1, len(paras)))
    if "reorder" in ops:
        i = rng.randrange(1, len(paras) - 1)
        paras[i], paras[i + 1] = paras[i + 1], paras[i]
    if "edit" in ops:
        rate = rng.uniform(0.05, 0.15)
        if unspaced:
            paras = ["".join(_edit_tokens(list(p), rate, lang["fillers"], rng)) for p in paras]
        else:
            paras = [
                " ".join(_edit_tokens(p.split(" "), rate, lang["fillers"], rng)) for p in paras
            ]
    if "credit" in ops:
        paras.append(rng.choice(lang["credits"]))
    if "boilerplate" in ops:
        paras.insert(0, rng.choice(lang["boilerplate"]))
    return EvalDoc(
        key=f"{doc.key}#variant{n}",
        outlet=outlet,
        title=doc.title,
        text="\n".join(paras),
        published_at=when,
        story=doc.story,
        kind="variant:" + "+".join(sorted(ops)),
    )


def multilingual_group(*, seed: int = 22) -> list[EvalDoc]:
    """Russian, Ukrainian, Greek, Arabic and Chinese articles (tests/fixtures/dedupe_multilingual),
    three stories per language (two of them on the same topic) published the same week, each with
    an exact repost and three near-copies by other outlets."""
    rng = random.Random(seed)
    data: dict[str, Any] = yaml.safe_load((MULTILINGUAL / "stories.yaml").read_text("utf-8"))
    docs: list[EvalDoc] = []
    for lang_no, (code, lang) in enumerate(data.items()):
        for i, entry in enumerate(lang["stories"]):
            doc = EvalDoc(
                key=f"{code}/{entry['id']}",
                outlet=OUTLETS[i % len(OUTLETS)],
                title=entry["title"],
                text=entry["text"],
                published_at=GROUP_START + timedelta(hours=6 * lang_no + 2 * i),
                story=entry["id"],
                kind=f"original:{code}",
            )
            docs.append(doc)
            docs += [_language_variant(doc, n, lang, rng, unspaced=code == "zh") for n in range(4)]
    return docs


def build_groups() -> dict[str, list[EvalDoc]]:
    """The evaluation groups of issue 20, by name; each is deduped in a warehouse of its own."""
    return {
        "generic_title": generic_title_group(),
        "recurring_title": recurring_title_group(),
        "multilingual": multilingual_group(),
    }
