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
from collections.abc import Iterable
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
