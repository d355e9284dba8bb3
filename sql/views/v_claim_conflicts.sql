-- v_claim_conflicts: one row per pair of claims about the same measure whose figures diverge
-- (comparable, no overlap within 10 %) or contradict (different ordinals: "fourth year" vs
-- "fifth year"), both from published articles and neither held back by the quality gate
-- (claim.held). Side a is the earlier seen claim.
--
-- columns:
--   measure_id, measure     the measure both claims count
--   relation                diverges | contradicts
--   ratio                   larger over smaller midpoint (after normalizing rates and periods)
--   reason                  how they were compared ("daily rates (total over its dated period)")
--   a_claim_id, b_claim_id  the two claims
--   a_seen_at, b_seen_at    when each article was first out
--   a_outlet, b_outlet      outlets
--   a_speaker, b_speaker    canonical speakers
--   a_via, b_via            channels; a_cites, b_cites cited sources
--   a_value_low, a_value_high, b_value_low, b_value_high   the figures
--   a_rate_per, b_rate_per  rate units; a_period, b_period the period words
--   a_url, b_url            the articles
--   a_text, b_text          the evidence sentences
create view v_claim_conflicts as
with side as (
    select
        c.id as claim_id,
        cm.seen_at,
        s.name as outlet,
        coalesce(sp.name, c.speaker) as speaker,
        vi.name as via,
        ci.name as cites,
        c.value_low,
        c.value_high,
        c.rate_per,
        c.period,
        a.url,
        c.text
    from claim as c
    join claim_measure as cm on cm.claim_id = c.id
    join article as a on a.id = c.article_id
    join source as s on s.id = cm.source_id
    left join actor as sp on sp.id = c.speaker_actor_id
    left join actor as vi on vi.id = c.via_actor_id
    left join actor as ci on ci.id = c.cites_actor_id
    where a.status = 'published' and not c.held
),
pairs as (
    select
        r.measure_id,
        r.relation,
        r.ratio,
        r.reason,
        case when x.seen_at <= y.seen_at then r.claim_a else r.claim_b end as first_id,
        case when x.seen_at <= y.seen_at then r.claim_b else r.claim_a end as second_id
    from claim_relation as r
    join side as x on x.claim_id = r.claim_a
    join side as y on y.claim_id = r.claim_b
    where r.relation in ('diverges', 'contradicts')
)
select
    p.measure_id,
    m.label as measure,
    p.relation,
    p.ratio,
    p.reason,
    a.claim_id as a_claim_id,
    b.claim_id as b_claim_id,
    a.seen_at as a_seen_at,
    b.seen_at as b_seen_at,
    a.outlet as a_outlet,
    b.outlet as b_outlet,
    a.speaker as a_speaker,
    b.speaker as b_speaker,
    a.via as a_via,
    b.via as b_via,
    a.cites as a_cites,
    b.cites as b_cites,
    a.value_low as a_value_low,
    a.value_high as a_value_high,
    b.value_low as b_value_low,
    b.value_high as b_value_high,
    a.rate_per as a_rate_per,
    b.rate_per as b_rate_per,
    a.period as a_period,
    b.period as b_period,
    a.url as a_url,
    b.url as b_url,
    a.text as a_text,
    b.text as b_text
from pairs as p
join measure as m on m.id = p.measure_id
join side as a on a.claim_id = p.first_id
join side as b on b.claim_id = p.second_id
