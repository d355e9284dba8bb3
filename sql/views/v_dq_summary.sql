-- v_dq_summary: one row per gate run, suite and expectation (summed over the run's batches).
-- Written by the quality gate (issue 7, pipeline/quality/); GX Data Docs under MEDIAMON_HOME/dq_docs.
--
-- columns:
--   run_id            pipeline run (Airflow run id) that ran the gate
--   suite             article, article_source, claim or feed_poll
--   expectation       <suite>.<check>, as in quarantine.expectation
--   level             'row' (failing rows quarantined) or 'batch' (batch rejected, nothing published)
--   validations       batches this expectation was evaluated on
--   failed_validations  of those, how many it failed
--   rows_evaluated    rows it looked at (null for table-level checks such as row counts)
--   unexpected_rows   rows that failed it
--   quarantined_open  quarantine rows of this run and expectation not yet released
--   rejected          1 when a batch of the run was rejected, else 0
--   finished_at       when the last validation of the run with this expectation finished
create view v_dq_summary as
with results as (
    select
        r.run_id,
        r.suite,
        d.expectation,
        d.level,
        d.success,
        d.element_count,
        d.unexpected_count,
        r.outcome,
        r.finished_at
    from dq_result as d
    join dq_run as r on r.id = d.dq_run_id
),
held as (
    select q.run_id, q.expectation, count(*) as quarantined_open
    from quarantine as q
    where q.released_at is null
    group by q.run_id, q.expectation
),
summary as (
    select
        s.run_id,
        s.suite,
        s.expectation,
        s.level,
        count(*) as validations,
        sum(case when s.success then 0 else 1 end) as failed_validations,
        sum(s.element_count) as rows_evaluated,
        sum(coalesce(s.unexpected_count, 0)) as unexpected_rows,
        max(case when s.outcome = 'rejected' then 1 else 0 end) as rejected,
        max(s.finished_at) as finished_at
    from results as s
    group by s.run_id, s.suite, s.expectation, s.level
)
select
    m.run_id,
    m.suite,
    m.expectation,
    m.level,
    m.validations,
    m.failed_validations,
    m.rows_evaluated,
    m.unexpected_rows,
    coalesce(h.quarantined_open, 0) as quarantined_open,
    m.rejected,
    m.finished_at
from summary as m
left join held as h on h.run_id = m.run_id and h.expectation = m.expectation
