-- v_duplicates: one row per deduped article that repeats or copies an earlier article: it has a
-- duplicate_of (exact, same-title or near-duplicate) or a copied_from (provenance) link.
-- Originals and articles with no earlier relative in their story are not listed.
--
-- columns:
--   article_id           the later article
--   source               its outlet
--   title                its headline
--   seen_at              its publication time (discovery time when undated)
--   story_id             its story (see v_story_spread)
--   label                original / wire_copy / rewrite / independent
--   agency               agency named in its credit line or dateline, if any
--   duplicate_of         earliest article it duplicates (null when only related)
--   duplicate_kind       exact (same normalised text), title (same outlet, same headline within
--                        the title window) or near (MinHash similarity >= near threshold)
--   duplicate_source     outlet of duplicate_of
--   copied_from          earlier article, preferably of another outlet, holding the largest
--                        share of its text
--   copied_from_source   outlet of copied_from
--   overlap              estimated share of its text found in copied_from (0-1)
--   similarity           estimated Jaccard similarity with duplicate_of, else copied_from (0-1)
create view v_duplicates as
with related as (
    select d.*
    from article_dedupe as d
    where d.duplicate_of is not null or d.copied_from is not null
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
    r.copied_from,
    cs.name as copied_from_source,
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
