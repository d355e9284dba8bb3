-- v_story_spread: one row per story (a cluster of articles reporting the same thing) that has at
-- least one published article, with who published it first, how far it spread, and how much of
-- the spread is copies of one text.
-- Only published articles count (article.status = 'published': passed the quality gate, issue 7):
-- quarantined articles and articles still in the pipeline are left out of every column, so the
-- first/latest article and the counts are those of the story's published members. Stories and
-- labels themselves come from the dedupe stage (issue 5), which clusters every deduped article.
-- Story size has one definition, its published articles: story.article_count and
-- story.outlet_count hold the same figures as article_count and outlet_count here (dedupe writes
-- them from the statuses it sees; the quality gate recounts them when it publishes, through
-- pipeline.dedupe.refresh_story_counts). A story with no published article has size 0 there
-- and no row here.
--
-- columns:
--   story_id             story key: the id of its first deduped article (which may itself be
--                        unpublished; first_article_id is the first published one)
--   first_article_id     earliest published article of the story (by publication time, then id)
--   first_outlet         outlet of first_article_id
--   first_title          headline of first_article_id
--   first_seen_at        publication time of first_article_id (discovery time when undated)
--   article_count        published articles in the story
--   outlet_count         distinct outlets among them
--   wire_copies          published articles labelled wire_copy (agency credit or long shared
--                        passages)
--   rewrites             published articles labelled rewrite (same story, low textual overlap)
--   independent          published articles labelled independent (same event, own text)
--   independent_outlets  distinct outlets with a published original or independent article: how
--                        many outlets reported it on their own rather than reprinting
--   last_seen_at         publication time of the latest published article
--   latest_outlet        outlet of the latest published article
--   latest_title         headline of the latest published article
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
    where a.status = 'published'
),
story_counts as (
    select
        m.story_id,
        count(*) as article_count,
        count(distinct m.source_id) as outlet_count,
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
        m.article_id,
        m.source_id,
        m.title,
        m.seen_at,
        row_number() over (
            partition by m.story_id order by m.seen_at, m.article_id
        ) as firstness,
        row_number() over (
            partition by m.story_id order by m.seen_at desc, m.article_id desc
        ) as recency
    from members as m
)
select
    s.id as story_id,
    f.article_id as first_article_id,
    fs.name as first_outlet,
    f.title as first_title,
    f.seen_at as first_seen_at,
    c.article_count,
    c.outlet_count,
    c.wire_copies,
    c.rewrites,
    c.independent,
    c.independent_outlets,
    l.seen_at as last_seen_at,
    ls.name as latest_outlet,
    l.title as latest_title
from story as s
join story_counts as c on c.story_id = s.id
join ranked as f on f.story_id = s.id and f.firstness = 1
join source as fs on fs.id = f.source_id
join ranked as l on l.story_id = s.id and l.recency = 1
join source as ls on ls.id = l.source_id
