-- v_claim_spread: one row per figure cluster: one figure of one measure repeated by published
-- articles (same values, kind and rate), with where it was first seen and how it spread. Claims
-- the quality gate holds back (claim.held) are not members.
--
-- columns:
--   cluster_id              claim_cluster.id
--   measure_id, measure     the measure
--   figure                  the cluster's figure key ("rate|15000|18000|month")
--   origin_claim_id         the first seen claim (role origin)
--   first_outlet            its outlet; first_seen_at when its article was first out
--   first_speaker           canonical speaker of the origin; first_via its channel
--   first_url               the origin article
--   claims                  member claims (repeats in one article included)
--   articles                distinct articles; outlets distinct outlets
--   copies                  members whose article copies an earlier member's (dedupe: wire or
--                           near copy)
--   attributed              members that go via or cite the origin's outlet or channel
--   independent             members reported on their own
--   last_seen_at            latest member's time
create view v_claim_spread as
with members as (
    select
        mem.cluster_id,
        mem.claim_id,
        mem.role,
        c.article_id,
        cm.source_id,
        cm.seen_at
    from claim_cluster_member as mem
    join claim as c on c.id = mem.claim_id
    join claim_measure as cm on cm.claim_id = mem.claim_id
    join article as a on a.id = c.article_id
    where a.status = 'published' and not c.held
),
counts as (
    select
        cluster_id,
        count(*) as claims,
        count(distinct article_id) as articles,
        count(distinct source_id) as outlets,
        sum(case when role = 'copy' then 1 else 0 end) as copies,
        sum(case when role = 'attributed' then 1 else 0 end) as attributed,
        sum(case when role = 'independent' then 1 else 0 end) as independent,
        max(seen_at) as last_seen_at
    from members
    group by cluster_id
)
select
    cl.id as cluster_id,
    cl.measure_id,
    m.label as measure,
    cl.figure,
    o.claim_id as origin_claim_id,
    s.name as first_outlet,
    o.seen_at as first_seen_at,
    coalesce(sp.name, c.speaker) as first_speaker,
    vi.name as first_via,
    a.url as first_url,
    n.claims,
    n.articles,
    n.outlets,
    n.copies,
    n.attributed,
    n.independent,
    n.last_seen_at
from claim_cluster as cl
join measure as m on m.id = cl.measure_id
join counts as n on n.cluster_id = cl.id
join members as o on o.cluster_id = cl.id and o.role = 'origin'
join claim as c on c.id = o.claim_id
join article as a on a.id = c.article_id
join source as s on s.id = o.source_id
left join actor as sp on sp.id = c.speaker_actor_id
left join actor as vi on vi.id = c.via_actor_id
