"""Dedupe on real PostgreSQL: two worker processes at once give what one gives (issue 5); the
weak-evidence and multilingual groups score the same as on SQLite (issue 20)."""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import replace
from multiprocessing.synchronize import Event

import pytest
import sqlalchemy as sa

from pipeline.config import Settings
from pipeline.dedupe import (
    DedupeConfig,
    Document,
    DocumentResult,
    dedupe_documents,
    document_results,
    refresh_story_counts,
    run_dedupe,
    store_documents,
)
from pipeline.demo import demo_agencies
from pipeline.warehouse import make_engine
from pipeline.warehouse.migrate import downgrade, upgrade
from pipeline.warehouse.schema import article
from pipeline.warehouse.schema_dedupe import (
    article_dedupe,
    article_signature,
    dedupe_link,
    lsh_band,
    story,
)
from tests.dedupe_eval import build_eval_set, build_groups, pairwise_scores, partition
from tests.test_dedupe import check_band_index_restored_after_loss, story_sizes, view_sizes

pytestmark = pytest.mark.postgres

# The evaluation set spans two months but is deduped at one sitting, over many runs here: keep
# story bands for the retention window so the runs see what one run sees (pruning is tested in
# tests/test_dedupe.py).
_DEFAULT = DedupeConfig.from_settings(Settings(dedupe_agencies=demo_agencies(Settings())))
CFG = replace(_DEFAULT, story_band_keep=_DEFAULT.retention)
BATCH = 8


def _worker(url: str, batches: list[list[str]], start: Event) -> None:
    """One dedupe worker: its own process, engine and connections; waits for the start signal."""
    engine = make_engine(url)
    start.wait(30)
    for batch in batches:
        run_dedupe(engine, CFG, batch_size=BATCH, ids=batch)
    engine.dispose()


def _partition(results: list[DocumentResult]) -> set[frozenset[str]]:
    return partition((r.input, r.story) for r in results)


def _reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in (article_dedupe, story, dedupe_link, lsh_band, article_signature):
            conn.execute(sa.delete(table))
        conn.execute(sa.update(article).values(status="extracted"))


def test_two_worker_processes_on_postgres_give_the_same_stories_as_one(pg_url: str) -> None:
    evals = build_eval_set()
    docs = [Document(d.key, d.outlet, d.title, d.text, d.published_at) for d in evals]
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        ids = store_documents(engine, docs)
        run_dedupe(engine, CFG, batch_size=BATCH, ids=ids)
        one_worker = document_results(engine, docs)
        scores = pairwise_scores(
            {d.key: d.story for d in evals}, {r.input: r.story for r in one_worker}
        )
        assert scores.precision >= 0.95 and scores.recall >= 0.90
        # The views count published articles only: publish all, then quarantine three copies.
        copies = [i for i, r in zip(ids, one_worker, strict=True) if r.duplicate_of][:3]
        with engine.begin() as conn:
            conn.execute(sa.update(article).values(status="published"))
            conn.execute(
                sa.update(article).where(article.c.id.in_(copies)).values(status="quarantined")
            )
            # What the gate does in the transaction that publishes.
            refresh_story_counts(conn, ids)
        # One definition of story size: the story table and the view agree.
        assert story_sizes(engine) == view_sizes(engine)
        with engine.connect() as conn:
            spread = conn.execute(sa.text("select * from v_story_spread")).mappings().all()
            dups = conn.execute(sa.text("select * from v_duplicates")).mappings().all()
        assert len(copies) == 3
        assert sum(s["article_count"] for s in spread) == len(docs) - 3
        assert len(spread) == len(_partition(one_worker))
        assert {d["label"] for d in dups} <= {"wire_copy", "rewrite", "independent"} and dups
        assert not {d["article_id"] for d in dups} & set(copies)

        _reset(engine)
        # Interleaved: worker A gets batches 0, 2, 4 ..., worker B 1, 3, 5 ..., in publication
        # order, so originals and their copies land in different workers at the same time.
        ordered = [
            doc_id for _, doc_id in sorted(zip((d.published_at for d in docs), ids, strict=True))
        ]
        batches = [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)]
        ctx = mp.get_context("spawn")
        start = ctx.Event()
        workers = [ctx.Process(target=_worker, args=(pg_url, batches[k::2], start)) for k in (0, 1)]
        for w in workers:
            w.start()
        start.set()
        for w in workers:
            w.join(120)
        assert [w.exitcode for w in workers] == [0, 0]
        two_workers = document_results(engine, docs)
        assert _partition(two_workers) == _partition(one_worker)
        assert [(r.story, r.duplicate_of, r.label, r.copied_from) for r in two_workers] == [
            (r.story, r.duplicate_of, r.label, r.copied_from) for r in one_worker
        ]
        with engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(article_dedupe)).scalar()
            bands = conn.execute(sa.select(sa.func.count()).select_from(lsh_band)).scalar()
            statuses = set(conn.execute(sa.select(article.c.status).distinct()).scalars())
        # Every article indexed and assigned exactly once.
        assert count == len(docs) and bands == len(docs) * CFG.bands_per_article
        assert statuses == {"deduped"}
    finally:
        engine.dispose()


def test_band_index_is_unlogged_and_restored_after_loss(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        _reset(engine)

        def persistence() -> str:
            with engine.connect() as conn:
                query = "select relpersistence from pg_class where relname = 'lsh_band'"
                return str(conn.execute(sa.text(query)).scalar_one())

        assert persistence() == "u"  # unlogged: crash recovery empties it
        downgrade(engine, "20261130_0008")
        assert persistence() == "p"
        upgrade(engine)
        assert persistence() == "u"
        check_band_index_restored_after_loss(engine)
    finally:
        _reset(engine)
        engine.dispose()


def test_weak_evidence_and_multilingual_groups_on_postgres(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        for name, evals in build_groups().items():
            _reset(engine)
            with engine.begin() as conn:
                conn.execute(sa.delete(article))
            docs = [Document(d.key, d.outlet, d.title, d.text, d.published_at) for d in evals]
            results = dedupe_documents(engine, docs, CFG, batch_size=BATCH)
            scores = pairwise_scores(
                {d.key: d.story for d in evals}, {r.input: r.story for r in results}
            )
            print(
                f"\n{name} on PostgreSQL: precision {scores.precision:.3f}, "
                f"recall {scores.recall:.3f}"
            )
            assert scores.precision >= 0.97 and scores.recall >= 0.97, name
    finally:
        engine.dispose()
