-- v_claim_ledger: one row per numeric claim of a published article that the ledger linked to a
-- measure: every figure for a measure, by outlet and speaker, over time. Filter on measure_id
-- (or measure) and order by seen_at to read one measure's history. Claims the quality gate holds
-- back (claim.held) are left out.
--
-- columns:
--   measure_id, measure     the measure (measure.label: "desert · soldier · Ostrel")
--   event, population, place, unit_class   the parts of the measure's key
--   seen_at                 when the article was first out
--   outlet                  who published it
--   speaker, speaker_kind   canonical speaker (actor) and its kind
--   via, cites              canonical channel and cited source (first of each)
--   value_low, value_high, qualifier   the figure as claimed
--   figure_kind, rate_per   total | rate | share | change | ordinal, and the rate's unit
--   low, high               the interval the claim allows ("about" +-10%, "more than" open)
--   per_day_low, per_day_high   the same as a daily rate (rates, totals over a dated period)
--   period, period_start, period_end   the period words and dates
--   hedged                  whether a hedge qualifies it
--   cluster_id, role        its figure cluster and role: origin | repeat | copy | attributed |
--                           independent (see v_claim_spread)
--   claim_id, article_id, url, claim_text, value_start, value_end   the evidence
--   speaker_actor_id        the speaker's actor id (filter by a speaker through actor)
create view v_claim_ledger as
select
    cm.measure_id,
    m.label as measure,
    m.event,
    m.population,
    m.place,
    m.unit_class,
    cm.seen_at,
    s.name as outlet,
    coalesce(sp.name, c.speaker) as speaker,
    sp.kind as speaker_kind,
    vi.name as via,
    ci.name as cites,
    c.value_low,
    c.value_high,
    c.qualifier,
    c.figure_kind,
    c.rate_per,
    cm.low,
    cm.high,
    cm.per_day_low,
    cm.per_day_high,
    c.period,
    c.period_start,
    c.period_end,
    c.hedged,
    mem.cluster_id,
    mem.role,
    c.id as claim_id,
    c.article_id,
    a.url,
    c.text as claim_text,
    c.value_start,
    c.value_end,
    c.speaker_actor_id
from claim_measure as cm
join measure as m on m.id = cm.measure_id
join claim as c on c.id = cm.claim_id
join article as a on a.id = c.article_id
join source as s on s.id = cm.source_id
left join actor as sp on sp.id = c.speaker_actor_id
left join actor as vi on vi.id = c.via_actor_id
left join actor as ci on ci.id = c.cites_actor_id
left join claim_cluster_member as mem on mem.claim_id = c.id
where a.status = 'published' and not c.held
