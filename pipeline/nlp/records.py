"""Typed records at the boundary of the NLP stage: claims, entity counts, one article's analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipeline.warehouse.schema_claims import CLAIM_RATES

# Bump when rules change, so stored claims can be told apart from newer extractions.
EXTRACTOR_VERSION = "mm-claims-6"

KINDS = ("numeric", "quote", "statement")
QUALIFIERS = ("exact", "approximately", "more_than", "less_than", "up_to", "at_least", "range")
RATES = CLAIM_RATES

# The CLI contract (issue 6): exactly these keys, in this order.
JSON_KEYS = (
    "kind",
    "text",
    "start",
    "end",
    "quote",
    "cue",
    "cue_stance",
    "speaker",
    "speaker_role",
    "speaker_kind",
    "via",
    "cites",
    "hedges",
    "hedged",
    "value_low",
    "value_high",
    "qualifier",
    "unit",
    "rate_per",
    "period",
    "period_start",
    "period_end",
    # Comparable fields (issue 15): what is counted, what happened to it, where, which kind.
    "unit_norm",
    "unit_class",
    "currency",
    "event",
    "place",
    "figure_kind",
    "value_from",
    "value_to",
)


@dataclass
class Attribution:
    """Who said it, how, through which channel, citing what. Spans are article offsets."""

    cue: str | None = None
    cue_stance: str | None = None
    speaker: str | None = None
    speaker_role: str | None = None
    speaker_start: int | None = None
    speaker_end: int | None = None
    # person / organisation / document / anonymous (issue 16)
    speaker_kind: str | None = None
    via: list[str] = field(default_factory=list)
    cites: list[str] = field(default_factory=list)
    # True when the speaker was a pronoun resolved to an earlier mention (the span points there).
    resolved: bool = False


@dataclass
class Claim:
    """One extracted claim. ``start``/``end`` delimit ``text`` (the evidence sentence or sentences)
    in the article; ``value_start``/``value_end`` the claimed content: the figure (numeric), the
    quoted words (quote) or the reported clause (statement)."""

    kind: str
    text: str
    start: int
    end: int
    value_start: int | None = None
    value_end: int | None = None
    quote: str | None = None
    attribution: Attribution = field(default_factory=Attribution)
    hedges: list[str] = field(default_factory=list)
    value_low: float | None = None
    value_high: float | None = None
    qualifier: str | None = None
    unit: str | None = None
    rate_per: str | None = None
    period: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    unit_norm: str | None = None
    unit_class: str | None = None
    currency: str | None = None
    event: str | None = None
    place: str | None = None
    # total / rate / share / change / ordinal; None for quotes and statements.
    figure_kind: str | None = None
    # A change ("rose from 0.90 to 1.23 percent"): the level it came from and went to; the
    # claimed figure (value_low/value_high) is the level reached.
    value_from: float | None = None
    value_to: float | None = None

    def comparable(self) -> dict[str, Any]:
        """The comparable fields, as the CLI and the claim table name them."""
        return {
            "unit_norm": self.unit_norm,
            "unit_class": self.unit_class,
            "currency": self.currency,
            "event": self.event,
            "place": self.place,
            "figure_kind": self.figure_kind,
            "value_from": self.value_from,
            "value_to": self.value_to,
        }

    @property
    def hedged(self) -> bool:
        """Whether any hedge word qualifies the claim."""
        return bool(self.hedges)

    def to_json(self) -> dict[str, Any]:
        """The claim in the CLI contract's shape (exactly JSON_KEYS)."""
        a = self.attribution
        out: dict[str, Any] = {
            "kind": self.kind,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
            "cue": a.cue,
            "cue_stance": a.cue_stance,
            "speaker": a.speaker,
            "speaker_role": a.speaker_role,
            "speaker_kind": a.speaker_kind,
            "via": list(a.via),
            "cites": list(a.cites),
            "hedges": list(self.hedges),
            "hedged": self.hedged,
            "value_low": self.value_low,
            "value_high": self.value_high,
            "qualifier": self.qualifier,
            "unit": self.unit,
            "rate_per": self.rate_per,
            "period": self.period,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
        }
        out.update(self.comparable())
        return out

    def to_row(self) -> dict[str, Any]:
        """Column values for the ``claim`` table (without ids and timestamps)."""
        a = self.attribution
        return {
            "kind": self.kind,
            "text": self.text,
            "start_offset": self.start,
            "end_offset": self.end,
            "quote": self.quote,
            "cue": a.cue,
            "cue_stance": a.cue_stance,
            "speaker": a.speaker,
            "speaker_role": a.speaker_role,
            "speaker_kind": a.speaker_kind,
            "speaker_start": a.speaker_start,
            "speaker_end": a.speaker_end,
            "value_start": self.value_start,
            "value_end": self.value_end,
            "via": list(a.via),
            "cites": list(a.cites),
            "hedges": list(self.hedges),
            "hedged": self.hedged,
            "value_low": self.value_low,
            "value_high": self.value_high,
            "qualifier": self.qualifier,
            "unit": self.unit,
            "rate_per": self.rate_per,
            "period": self.period,
            "period_start": self.period_start,
            "period_end": self.period_end,
            **self.comparable(),
            "extractor_version": EXTRACTOR_VERSION,
        }


@dataclass(frozen=True)
class EntityCount:
    """A named entity of an article: text as first written, normalised key, label, mentions."""

    text: str
    normalized: str
    label: str
    count: int


@dataclass
class Analysis:
    """What analysing one article produced."""

    claims: list[Claim]
    entities: list[EntityCount]
    words: int = 0
