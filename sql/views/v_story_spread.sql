-- v_story_spread: one row per story (a cluster of articles reporting the same thing), with who
-- published it first, how far it spread, and how much of the spread is copies of one text.
-- Stories come from the dedupe stage (issue 5); articles not yet deduped are not counted.
--
-- columns:
--   story_id             story key: the id of its first article
--   first_article_id     earliest article of the story (by publication time, then id)
--   first_outlet         outlet that published it first
--   first_title          headline of the first article
--   first_seen_at        publication time of the first article (discovery time when undated)
--   article_count        articles in the story
--   outlet_count         distinct outlets that carried it
--   wire_copies          articles labelled wire_copy (agency credit or long shared passages)
--   rewrites             articles labelled rewrite (same story, low textual overlap)
--   independent          articles labelled independent (same event, own text)
--   independent_outlets  distinct outlets with an original or independent article: how many
--                        outlets reported it on their own rather than reprinting
--   last_seen_at         publication time of the latest article
--   latest_outlet        outlet of the latest article
--   latest_title         headline of the latest article
create view v_story_spread as
with members as (
    select
        d.story_id,
        d.article_id,
        d.label,
        a.source_id,
        a.title,
        sig.seen_at
    from article_dedupe as d
    join article as a on a.id = d.article_id
    join article_signature as sig on sig.article_id = d.article_id
),
label_counts as (
    select
        m.story_id,
        sum(case when m.label = 'wire_copy' then 1 else 0 end) as wire_copies,
        sum(case when m.label = 'rewrite' then 1 else 0 end) as rewrites,
        sum(case when m.label = 'independent' then 1 else 0 end) as independent,
        count(distinct case
            when m.label in ('original', 'independent') then m.source_id
        end) as independent_outlets
    from members as m
    group by m.story_id
),
ranked as (
    select
        m.story_id,
        m.source_id,
        m.title,
        row_number() over (
            partition by m.story_id order by m.seen_at desc, m.article_id desc
        ) as recency
    from members as m
)
select
    s.id as story_id,
    s.first_article_id,
    fs.name as first_outlet,
    fa.title as first_title,
    s.first_seen_at,
    s.article_count,
    s.outlet_count,
    lc.wire_copies,
    lc.rewrites,
    lc.independent,
    lc.independent_outlets,
    s.last_seen_at,
    ls.name as latest_outlet,
    r.title as latest_title
from story as s
join label_counts as lc on lc.story_id = s.id
join article as fa on fa.id = s.first_article_id
join source as fs on fs.id = s.first_source_id
join ranked as r on r.story_id = s.id and r.recency = 1
join source as ls on ls.id = r.source_id
