-- v_failures: one row per article that failed a stage and is not (yet) past it.
-- Nothing is dropped: every failure stays here with its reason until a retry succeeds.
--
-- columns:
--   article_id, source, url
--   stage            'fetch' or 'extract'
--   reason           short code: http_404, timeout, blocked, too_large, no_text, too_short, ...
--   error            human-readable detail
--   attempts         fetch attempts so far
--   next_attempt_at  when the fetch will be retried (null = no automatic retry)
--   updated_at       last change to the row
create view v_failures as
select
    a.id as article_id,
    s.name as source,
    a.url,
    case a.status when 'fetch_failed' then 'fetch' else 'extract' end as stage,
    a.failure_reason as reason,
    a.error,
    a.attempts,
    a.next_attempt_at,
    a.updated_at
from article as a
join source as s on s.id = a.source_id
where a.status in ('fetch_failed', 'extract_failed')
