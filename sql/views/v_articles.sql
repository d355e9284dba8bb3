-- v_articles: one row per published article, i.e. one that passed the quality gate (issue 7).
-- Articles still in the pipeline, failed or quarantined are not listed (see v_failures and the
-- quarantine table / `mediamon quarantine list`).
--
-- columns:
--   article_id      SHA-256 of the canonical entry URL (stable key)
--   source          outlet name from the feed registry
--   url             canonical entry URL as discovered in the feed
--   canonical_url   rel=canonical of the page when it points to the same site, else null
--   title           extracted headline
--   authors         extracted byline, as written
--   published_at    publication time from the page (null when missing or not plausible)
--   feed_published_at  publication time the feed announced (null when missing or not plausible)
--   language        page language (ISO 639-1)
--   word_count      words in the extracted text
--   text            the extracted article text
--   status          pipeline status: always 'published' here (kept for compatibility)
--   fetched_at      when the page was fetched
--   extractor_version  trafilatura version + our post-processing revision
--   nlp_status      "ok" when claims and entities were extracted, else why not ("skipped:
--                   language de": no model is configured for the article's language)
--   paywall_suspected  true when the page carried paywall markup (a paywall element, a
--                   subscription prompt, isAccessibleForFree=false) around a full text, which
--                   was kept; check such a text is the whole article before quoting its absence
create view v_articles as
with extracted as (
    select a.*
    from article as a
    where a.status = 'published'
)
select
    e.id as article_id,
    s.name as source,
    e.url,
    e.canonical_url,
    e.title,
    e.authors,
    e.published_at,
    e.feed_published_at,
    e.language,
    e.word_count,
    e.text,
    e.status,
    e.fetched_at,
    e.extractor_version,
    e.nlp_status,
    e.paywall_suspected
from extracted as e
join source as s on s.id = e.source_id
