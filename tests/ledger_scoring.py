"""Score the claim ledger on hand-labeled claim pairs (tests/gold/ledger/pairs.yaml).

Each pair names two figures by file and exact words; the figure's claim is the numeric claim
whose figure span overlaps those words. Same-measure precision and recall are over pairs;
relation accuracy over the pairs labeled same-measure that the ledger also put in one measure
(``relation_accuracy``), and over every pair labeled same-measure (``relation_accuracy_all``,
a missed link counting as wrong). Run: ``.venv/bin/python -m tests.ledger_scoring [DIR]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from pipeline.ledger.files import FileClaim, FileLedger, build_file_ledger

GOLD = Path(__file__).resolve().parent / "gold" / "ledger"


@dataclass
class LedgerScore:
    """Counts over the labeled pairs."""

    pairs: int = 0
    gold_same: int = 0
    pred_same: int = 0
    true_same: int = 0
    relation_ok: int = 0
    missing_figures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_same / self.pred_same if self.pred_same else 1.0

    @property
    def recall(self) -> float:
        return self.true_same / self.gold_same if self.gold_same else 1.0

    @property
    def relation_accuracy(self) -> float:
        return self.relation_ok / self.true_same if self.true_same else 1.0

    @property
    def relation_accuracy_all(self) -> float:
        return self.relation_ok / self.gold_same if self.gold_same else 1.0

    def summary(self) -> str:
        return (
            f"pairs {self.pairs} (same measure {self.gold_same}); same-measure precision "
            f"{self.precision:.3f} ({self.true_same}/{self.pred_same}), recall {self.recall:.3f} "
            f"({self.true_same}/{self.gold_same}); relation accuracy {self.relation_accuracy:.3f} "
            f"({self.relation_ok}/{self.true_same}), over all labeled same-measure pairs "
            f"{self.relation_accuracy_all:.3f}; figures not found {len(self.missing_figures)}"
        )


def load(gold_dir: Path = GOLD) -> tuple[dict[str, date], list[dict[str, Any]]]:
    """(file -> publication date, pairs) of a labeled set."""
    data = yaml.safe_load((gold_dir / "pairs.yaml").read_text(encoding="utf-8"))
    articles = {
        name: v["published"]
        if isinstance(v["published"], date)
        else date.fromisoformat(v["published"])
        for name, v in data["articles"].items()
    }
    return articles, list(data["pairs"])


def locate(text: str, figure: str, occurrence: int = 1) -> tuple[int, int]:
    """Offsets of the ``occurrence``-th appearance of ``figure`` in ``text``."""
    start = -1
    for _ in range(occurrence):
        start = text.index(figure, start + 1)
    return start, start + len(figure)


def _claim_at(claims: list[FileClaim], span: tuple[int, int]) -> FileClaim | None:
    hits = [c for c in claims if c.value_start < span[1] and c.value_end > span[0]]
    return min(hits, key=lambda c: abs(c.value_start - span[0])) if hits else None


def score_ledger(
    ledger: FileLedger, texts: dict[str, str], pairs: list[dict[str, Any]]
) -> LedgerScore:
    """Compare a built ledger with the labeled pairs."""
    by_file: dict[str, list[FileClaim]] = {}
    for c in ledger.claims:
        by_file.setdefault(c.input, []).append(c)
    s = LedgerScore()
    for p in pairs:
        s.pairs += 1
        found = []
        for side in (p["a"], p["b"]):
            span = locate(texts[side["file"]], str(side["figure"]), int(side.get("occurrence", 1)))
            c = _claim_at(by_file.get(side["file"], []), span)
            if c is None:
                s.missing_figures.append(f"{side['file']}: {side['figure']}")
            found.append(c)
        a, b = found
        same = (
            a is not None
            and b is not None
            and a.measure_id is not None
            and a.measure_id == b.measure_id
        )
        gold = bool(p["same_measure"])
        s.gold_same += gold
        s.pred_same += same
        label = f"{p['a']['file']}:{p['a']['figure']} ~ {p['b']['file']}:{p['b']['figure']}"
        if gold and same:
            s.true_same += 1
            assert a is not None and b is not None
            key = (min(a.claim_id, b.claim_id), max(a.claim_id, b.claim_id))
            got = ledger.relations.get(key, ("none", None))[0]
            if got == p["relation"]:
                s.relation_ok += 1
            else:
                s.errors.append(f"relation {got} != {p['relation']}: {label}")
        elif gold != same:
            s.errors.append(f"same_measure {same} != {gold}: {label}")
    return s


def score(extractor: Any, gold_dir: Path = GOLD) -> LedgerScore:
    """Build the ledger of every labeled file in one throwaway warehouse and score it."""
    articles, pairs = load(gold_dir)
    texts = {name: (gold_dir / "articles" / name).read_text(encoding="utf-8") for name in articles}
    inputs = [(name, texts[name], articles[name]) for name in sorted(articles)]
    return score_ledger(build_file_ledger(inputs, extractor), texts, pairs)


if __name__ == "__main__":  # pragma: no cover - a manual report
    from pipeline.config import get_settings
    from pipeline.nlp.stage import extractor_for

    result = score(extractor_for(get_settings()), Path(sys.argv[1]) if len(sys.argv) > 1 else GOLD)
    print(result.summary())
    for line in result.errors + [f"missing {m}" for m in result.missing_figures]:
        print("  " + line)
