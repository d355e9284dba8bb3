"""Score the claim extractor on a hand-written gold set (default tests/gold/claims).

Numeric claims match on (value_low, value_high), in article order; quotes on their words;
statements on their speaker. Text fields compare case-insensitively without leading articles
and edge punctuation; a gold `via`/`cites` item matches a predicted one that contains it or is
contained by it. Run: ``.venv/bin/python -m tests.claims_scoring [GOLD_DIR]``; a gold directory
holds ``NAME.txt`` articles next to ``NAME.json`` expectations.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.seed import add_source_and_feed

GOLD = Path(__file__).resolve().parent / "gold" / "claims"
FIELDS = ("qualifier", "unit", "rate_per", "speaker", "via", "cites", "hedged")
# Reported for information, not asserted: the gate names the fields above.
EXTRA_FIELDS = ("period",)


def norm(value: Any) -> str:
    """Case-folded text without leading articles, curly apostrophes or edge punctuation."""
    if value is None:
        return ""
    s = " ".join(str(value).replace("’", "'").split()).lower().strip(" ,.;:\"'“”‘")
    return re.sub(r"^(?:the|a|an)\s+", "", s)


def _items_match(gold: list[str], pred: list[str]) -> bool:
    g, p = [norm(x) for x in gold], [norm(x) for x in pred]
    if not g:
        return not p
    return all(any(a in b or b in a for b in p if b) for a in g) and len(p) >= len(g)


def field_equal(name: str, gold: Any, pred: Any) -> bool:
    """Whether a predicted field value counts as right."""
    if name in ("via", "cites"):
        return _items_match(list(gold or []), list(pred or []))
    if name == "hedged":
        return bool(gold) == bool(pred)
    return norm(gold) == norm(pred)


@dataclass
class Score:
    """Counts over the gold set."""

    gold_numeric: int = 0
    pred_numeric: int = 0
    matched_numeric: int = 0
    gold_quotes: int = 0
    pred_quotes: int = 0
    matched_quotes: int = 0
    quote_speaker_ok: int = 0
    # Numeric claims right in every gated field; attributed gold figures (a speaker) found.
    fully_right: int = 0
    gold_attributed: int = 0
    matched_attributed: int = 0
    gold_statements: int = 0
    pred_statements: int = 0
    matched_statements: int = 0
    field_ok: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.matched_numeric / self.gold_numeric if self.gold_numeric else 1.0

    @property
    def precision(self) -> float:
        return self.matched_numeric / self.pred_numeric if self.pred_numeric else 1.0

    @property
    def strict_precision(self) -> float:
        """Numeric claims right in every gated field, over claims emitted (issue 16)."""
        return self.fully_right / self.pred_numeric if self.pred_numeric else 1.0

    @property
    def attributed_recall(self) -> float:
        """Gold figures with a speaker that were found."""
        return self.matched_attributed / self.gold_attributed if self.gold_attributed else 1.0

    @property
    def quote_recall(self) -> float:
        return self.matched_quotes / self.gold_quotes if self.gold_quotes else 1.0

    @property
    def quote_speaker_accuracy(self) -> float:
        """Quotes found with the right speaker, over quotes found."""
        return self.quote_speaker_ok / self.matched_quotes if self.matched_quotes else 1.0

    @property
    def statement_recall(self) -> float:
        return self.matched_statements / self.gold_statements if self.gold_statements else 1.0

    def accuracy(self, name: str) -> float:
        return self.field_ok.get(name, 0) / self.matched_numeric if self.matched_numeric else 0.0

    def report(self) -> str:
        lines = [
            f"numeric claims: gold {self.gold_numeric}, predicted {self.pred_numeric}, "
            f"matched {self.matched_numeric}: recall {self.recall:.3f}, "
            f"precision {self.precision:.3f}; fully right {self.fully_right} "
            f"(strict precision {self.strict_precision:.3f}); attributed figures found "
            f"{self.matched_attributed}/{self.gold_attributed} ({self.attributed_recall:.3f})",
        ]
        lines += [
            f"  {name:<10} accuracy {self.accuracy(name):.3f}" for name in FIELDS + EXTRA_FIELDS
        ]
        lines.append(
            f"quotes: gold {self.gold_quotes}, predicted {self.pred_quotes}, matched "
            f"{self.matched_quotes}, speaker right {self.quote_speaker_ok}: recall "
            f"{self.quote_recall:.3f}, speaker accuracy {self.quote_speaker_accuracy:.3f}"
        )
        lines.append(
            f"statements: gold {self.gold_statements}, predicted {self.pred_statements}, "
            f"matched (speaker) {self.matched_statements}: recall {self.statement_recall:.3f}"
        )
        return "\n".join(lines)


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-3)


def score_article(
    name: str, gold: list[dict[str, Any]], pred: list[dict[str, Any]], s: Score
) -> None:
    """Add one article's counts to ``s``."""
    g_num = [c for c in gold if c["kind"] == "numeric"]
    p_num = [c for c in pred if c["kind"] == "numeric"]
    s.gold_numeric += len(g_num)
    s.pred_numeric += len(p_num)
    free = list(p_num)
    for g in g_num:
        s.gold_attributed += g.get("speaker") is not None
        hit = next(
            (
                p
                for p in free
                if _close(g["value_low"], p["value_low"])
                and _close(g["value_high"], p["value_high"])
            ),
            None,
        )
        if hit is None:
            s.errors.append(f"{name}: missed {g['value_low']}..{g['value_high']} {g['unit']}")
            continue
        free.remove(hit)
        s.matched_numeric += 1
        s.matched_attributed += g.get("speaker") is not None
        s.fully_right += all(field_equal(f, g.get(f), hit.get(f)) for f in FIELDS)
        for f in FIELDS + EXTRA_FIELDS:
            if field_equal(f, g.get(f), hit.get(f)):
                s.field_ok[f] = s.field_ok.get(f, 0) + 1
            elif f in FIELDS:
                s.errors.append(
                    f"{name}: {g['value_low']} {f}: gold {g.get(f)!r} got {hit.get(f)!r}"
                )
    for p in free:
        s.errors.append(f"{name}: spurious {p['value_low']}..{p['value_high']} {p['unit']}")
    g_q = [c for c in gold if c["kind"] == "quote"]
    p_q = [c for c in pred if c["kind"] == "quote"]
    s.gold_quotes += len(g_q)
    s.pred_quotes += len(p_q)
    for g in g_q:
        hit = next((p for p in p_q if norm(p["quote"]) == norm(g["quote"])), None)
        if hit is None:
            s.errors.append(f"{name}: missed quote {g['quote'][:40]!r}")
            continue
        s.matched_quotes += 1
        if norm(hit["speaker"]) == norm(g["speaker"]):
            s.quote_speaker_ok += 1
        else:
            s.errors.append(f"{name}: quote speaker gold {g['speaker']!r} got {hit['speaker']!r}")
    g_s = [c for c in gold if c["kind"] == "statement"]
    p_s = [c for c in pred if c["kind"] == "statement"]
    s.gold_statements += len(g_s)
    s.pred_statements += len(p_s)
    for g in g_s:
        if any(norm(p["speaker"]) == norm(g["speaker"]) for p in p_s):
            s.matched_statements += 1
        else:
            s.errors.append(f"{name}: missed statement by {g['speaker']!r}")


def seed_articles(engine: sa.Engine, texts: dict[str, str], *, published: datetime) -> None:
    """Deduped article rows (one source, one feed) holding ``texts`` keyed by article id: the
    analyse stage's input, for tests and the benchmark."""
    from pipeline.warehouse.schema import article

    with engine.begin() as conn:
        sid, fid = add_source_and_feed(
            conn, name="Test Wire", feed_url="http://127.0.0.1/feed.xml", now=published
        )
        rows = [
            {
                "id": key,
                "url": f"http://127.0.0.1/{key}",
                "source_id": sid,
                "feed_id": fid,
                "discovered_at": published,
                "discovered_run_id": "seed",
                "status": "deduped",
                "attempts": 1,
                "updated_at": published,
                "text": text,
                "published_at": published,
                "sitename": "Test Wire",
            }
            for key, text in texts.items()
        ]
        if rows:
            conn.execute(sa.insert(article), rows)


Extract = Callable[[list[tuple[str, date | None]]], list[list[dict[str, Any]]]]


def score(extract: Extract, gold_dir: Path = GOLD) -> Score:
    """Run ``extract`` (texts with publication dates -> claims as CLI JSON) over the gold set."""
    files = sorted(gold_dir.glob("*.txt"))
    golds = [json.loads(f.with_suffix(".json").read_text(encoding="utf-8")) for f in files]
    inputs = [
        (
            f.read_text(encoding="utf-8"),
            date.fromisoformat(g["published"]) if g.get("published") else None,
        )
        for f, g in zip(files, golds, strict=True)
    ]
    s = Score()
    for f, g, pred in zip(files, golds, extract(inputs), strict=True):
        score_article(f.stem, g["claims"], pred, s)
    return s


def score_dir(path: Path | str = GOLD) -> Score:
    """Score the configured spaCy model's extractor on the gold set in ``path``."""
    from pipeline.config import get_settings
    from pipeline.nlp import ClaimExtractor, get_nlp

    gold_dir = Path(path)
    if not any(gold_dir.glob("*.txt")):
        raise FileNotFoundError(f"no gold articles (*.txt) in {gold_dir}")
    extractor = ClaimExtractor(get_nlp(get_settings().spacy_model))

    def run(items: list[tuple[str, date | None]]) -> list[list[dict[str, Any]]]:
        return [[c.to_json() for c in a.claims] for a in extractor.analyse_many(items)]

    return score(run, gold_dir)


def main(argv: list[str] | None = None) -> int:
    """Score the gold directory given as the only argument (default tests/gold/claims) and print
    every disagreement, then the figures."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print("usage: python -m tests.claims_scoring [GOLD_DIR]", file=sys.stderr)
        return 2
    gold_dir = Path(args[0]) if args else GOLD
    try:
        s = score_dir(gold_dir)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print("\n".join(s.errors))
    print(f"gold: {gold_dir}")
    print(s.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
