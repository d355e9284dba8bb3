-- v_feed_health: one row per registered feed, with its latest poll.
--
-- columns:
--   feed_id, source, url, enabled
--   status            feed status after the latest poll (ok, not_modified, http_error, ...)
--   failures          consecutive failure count (reset by a successful poll)
--   last_polled_at    start of the latest poll
--   last_http_status  HTTP status of the latest poll (null when no response arrived)
--   last_entries_seen, last_entries_new  entries in the feed / entries never seen before
--   last_error        error text of the latest poll, null when it succeeded
--   last_warning      warnings of the latest poll (malformed but parseable feed, bad dates)
--   polls             number of polls recorded for this feed
create view v_feed_health as
with latest as (
    select p.feed_id, max(p.id) as poll_id, count(*) as polls
    from feed_poll as p
    group by p.feed_id
)
select
    f.id as feed_id,
    s.name as source,
    f.url,
    f.enabled,
    f.status,
    f.failures,
    f.last_polled_at,
    p.http_status as last_http_status,
    p.entries_seen as last_entries_seen,
    p.entries_new as last_entries_new,
    p.error as last_error,
    p.warning as last_warning,
    coalesce(l.polls, 0) as polls
from feed as f
join source as s on s.id = f.source_id
left join latest as l on l.feed_id = f.id
left join feed_poll as p on p.id = l.poll_id
