-- v_claims: one row per claim (numeric figure, quote or attributed statement) of a published
-- article. Claims of quarantined articles and of articles still in the pipeline are left out,
-- and so are claims the quality gate holds back (claim.held: see `mediamon quarantine list`).
-- Offsets point into article.text (v_articles.text): text[start_offset:end_offset] is the
-- evidence sentence(s), text[value_start:value_end] the figure, quoted words or reported clause.
--
-- columns:
--   claim_id            claim.id
--   article_id          the article (v_articles.article_id)
--   outlet              outlet name from the feed registry
--   url                 article URL
--   title               article headline
--   published_at        when the article was first out (page date made precise by the feed;
--                       discovery time when undated)
--   kind                numeric | quote | statement
--   claim_text          the evidence sentence(s), as in the article
--   start_offset, end_offset   offsets of claim_text in article.text
--   value_start, value_end     offsets of the figure / quote / reported clause
--   speaker             canonical speaker (actor name: "Valk" in an article that named "Irena
--                       Valk" is Irena Valk); the words as written when not linked yet
--   speaker_as_written  speaker as the article gives it (a pronoun is already resolved)
--   speaker_kind        person | organisation | anonymous | document (the actor's kind once
--                       linked; null without a speaker)
--   speaker_role        role words around the name ("deputy prosecutor general")
--   speaker_actor_id    actor.id of the speaker
--   via                 first channel the claim came through (agency, outlet), canonical
--   cites               first cited source ("data from the prosecutor's office"), canonical
--   via_all, cites_all  every channel / cited source as a JSON array of strings
--   cue                 the cue word ("said", "told", "according to")
--   hedged              true when a hedge qualifies the claim; hedges lists them (JSON)
--   value_low, value_high   the figure (equal unless a range; for a change, the level reached)
--   qualifier           exact | approximately | more_than | less_than | up_to | at_least | range
--   unit                what is counted, as written; unit_norm its lemma ("deserter")
--   unit_class          person | case | money | percent | duration | ordinal | count | ...
--   currency            ISO code for money
--   event               what happened to what is counted ("desert", "return", "open case")
--   place               the country or region the figure is about, as resolved in the article
--   figure_kind         total | rate | share | change | ordinal
--   rate_per            day | week | month | year for rates
--   value_from, value_to   a change's start and end level
--   period              period words ("in October"); period_start, period_end its dates
--   measure_id, measure the ledger measure (null until the ledger has linked the claim)
--   quote               the quoted words of a quote claim
create view v_claims as
select
    c.id as claim_id,
    c.article_id,
    s.name as outlet,
    a.url,
    a.title,
    coalesce(sig.seen_at, a.published_at, a.discovered_at) as published_at,
    c.kind,
    c.text as claim_text,
    c.start_offset,
    c.end_offset,
    c.value_start,
    c.value_end,
    coalesce(sp.name, c.speaker) as speaker,
    c.speaker as speaker_as_written,
    coalesce(sp.kind, c.speaker_kind) as speaker_kind,
    c.speaker_role,
    c.speaker_actor_id,
    vi.name as via,
    ci.name as cites,
    cast(c.via as text) as via_all,
    cast(c.cites as text) as cites_all,
    c.cue,
    c.hedged,
    cast(c.hedges as text) as hedges,
    c.value_low,
    c.value_high,
    c.qualifier,
    c.unit,
    c.unit_norm,
    c.unit_class,
    c.currency,
    c.event,
    c.place,
    c.figure_kind,
    c.rate_per,
    c.value_from,
    c.value_to,
    c.period,
    c.period_start,
    c.period_end,
    cm.measure_id,
    m.label as measure,
    c.quote
from claim as c
join article as a on a.id = c.article_id
join source as s on s.id = a.source_id
left join article_signature as sig on sig.article_id = a.id
left join actor as sp on sp.id = c.speaker_actor_id
left join actor as vi on vi.id = c.via_actor_id
left join actor as ci on ci.id = c.cites_actor_id
left join claim_measure as cm on cm.claim_id = c.id
left join measure as m on m.id = cm.measure_id
where a.status = 'published' and not c.held
