-- v_duplicates: one row per published article that repeats or copies an earlier article: it has a
-- duplicate_of (exact, same-title or near-duplicate) or a copied_from (provenance) link.
-- Only published articles are listed (article.status = 'published': passed the quality gate,
-- issue 7); quarantined articles and articles still in the pipeline are not. Originals and
-- articles with no earlier relative in their story are not listed either. The links come from
-- the dedupe stage (issue 5), which compares every deduped article, so duplicate_of and
-- copied_from may name an article that is not published itself (then duplicate_published or
-- copied_from_published is false, and v_articles does not show it).
--
-- columns:
--   article_id             the later article (published)
--   source                 its outlet
--   title                  its headline
--   seen_at                its publication time (discovery time when undated)
--   story_id               its story (see v_story_spread)
--   label                  original / wire_copy / rewrite / independent
--   agency                 agency named in its credit line or dateline, if any
--   duplicate_of           earliest article it duplicates (null when only related)
--   duplicate_kind         exact (same normalised text), title (same outlet, same headline
--                          within the title window) or near (MinHash similarity >= near
--                          threshold)
--   duplicate_source       outlet of duplicate_of
--   duplicate_published    whether duplicate_of is published (null when there is none)
--   copied_from            earlier article, preferably of another outlet, holding the largest
--                          share of its text
--   copied_from_source     outlet of copied_from
--   copied_from_published  whether copied_from is published (null when there is none)
--   overlap                estimated share of its text found in copied_from (0-1)
--   similarity             estimated Jaccard similarity with duplicate_of, else copied_from (0-1)
create view v_duplicates as
with related as (
    select
        d.article_id,
        d.story_id,
        d.label,
        d.agency,
        d.duplicate_of,
        d.duplicate_kind,
        d.copied_from,
        d.overlap,
        d.similarity
    from article_dedupe as d
    join article as a on a.id = d.article_id
    where
        a.status = 'published'
        and (d.duplicate_of is not null or d.copied_from is not null)
)
select
    r.article_id,
    s.name as source,
    a.title,
    sig.seen_at,
    r.story_id,
    r.label,
    r.agency,
    r.duplicate_of,
    r.duplicate_kind,
    ds.name as duplicate_source,
    case when r.duplicate_of is not null then da.status = 'published' end
        as duplicate_published,
    r.copied_from,
    cs.name as copied_from_source,
    case when r.copied_from is not null then ca.status = 'published' end
        as copied_from_published,
    r.overlap,
    r.similarity
from related as r
join article as a on a.id = r.article_id
join source as s on s.id = a.source_id
join article_signature as sig on sig.article_id = r.article_id
left join article as da on da.id = r.duplicate_of
left join source as ds on ds.id = da.source_id
left join article as ca on ca.id = r.copied_from
left join source as cs on cs.id = ca.source_id
