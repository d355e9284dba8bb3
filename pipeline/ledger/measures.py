"""Which measure a numeric claim counts (issue 15): a key of event x population x unit class
(x currency) x place x figure group, built from the claim's comparable fields.

Lexical: populations and events are already canonical words from ``pipeline/nlp/data/
lexicon.yaml`` ("servicemen" and "troops" are both ``soldier``; "abandoned their units" is
``desert``), so equal keys are the same measure. The evidence of each link is the words that
made the key, stored with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.nlp.comparable import canonical_place, lexicon

UNKNOWN = "?"


@dataclass(frozen=True)
class MeasureKey:
    """The parts of a measure key; ``key`` joins them."""

    event: str | None
    population: str | None
    unit_class: str | None
    currency: str | None
    place: str | None
    figure_group: str

    @property
    def key(self) -> str:
        parts = (
            self.figure_group,
            self.event,
            self.population,
            self.unit_class,
            self.currency,
            self.place.lower() if self.place else None,
        )
        return "|".join(p or UNKNOWN for p in parts)[:400]

    @property
    def label(self) -> str:
        """Readable name: "desert · soldier · Ostrel", "war · year (ordinal)"."""
        what = " · ".join(p for p in (self.event, self.population, self.currency, self.place) if p)
        if self.figure_group == "ordinal":
            what += " (ordinal)"
        elif self.unit_class == "percent":
            what += " (%)"
        return what[:400] or UNKNOWN


def measure_key(
    claim: Any, known_places: list[str], article_place: str | None = None
) -> tuple[MeasureKey | None, dict[str, Any]]:
    """The claim's measure key and the evidence for it; (None, {"reason": ...}) when the claim
    names nothing to compare (neither what happened nor what is counted). A figure whose
    sentence names no place takes ``article_place`` (what most of its article's figures are
    about); ordinal facts keep no place unless they state one."""
    lex = lexicon()
    population = (
        lex.population_of.get(claim.unit_norm, claim.unit_norm) if claim.unit_norm else None
    )
    evidence: dict[str, Any] = {
        "event": claim.event,
        "unit": claim.unit,
        "unit_norm": claim.unit_norm,
        "population": population,
        "unit_class": claim.unit_class,
        "place_as_written": claim.place,
    }
    if claim.event is None and population is None:
        return None, evidence | {"reason": "no event and no unit"}
    if claim.unit_class == "percent" and claim.event is None and population in (None, "percent"):
        return None, evidence | {"reason": "a percentage of nothing named"}
    written = claim.place
    if written is None and claim.figure_kind != "ordinal" and article_place:
        written = article_place
        evidence["place_from"] = "article"
    place = canonical_place(written, known_places) if written else None
    evidence["place"] = place
    if population == "percent":
        population = None
    key = MeasureKey(
        event=claim.event,
        population=population,
        unit_class=claim.unit_class,
        currency=claim.currency,
        place=place,
        figure_group="ordinal" if claim.figure_kind == "ordinal" else "value",
    )
    return key, evidence


__all__ = ["MeasureKey", "measure_key"]
