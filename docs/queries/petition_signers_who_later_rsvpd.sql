-- Petition signers who later RSVP'd: for each petition, how many of its signers went on to RSVP
-- to an event (in any tool) after signing, and how long that took them (median days).
with signatures as (
    select person_id, source, target_id, target_title, min(occurred_at) as signed_at
    from analytics.actions
    where action_type = 'petition_signature'
    group by 1, 2, 3, 4
),

first_rsvp_after as (
    select
        s.person_id,
        s.source,
        s.target_id,
        s.target_title,
        s.signed_at,
        min(r.occurred_at) as rsvp_at
    from signatures as s
    left join analytics.actions as r
        on r.person_id = s.person_id
        and r.action_type = 'rsvp'
        and r.occurred_at > s.signed_at
    group by 1, 2, 3, 4, 5
)

select
    source,
    coalesce(target_title, target_id) as petition,
    count(*) as signers,
    count(rsvp_at) as later_rsvpd,
    round(100.0 * count(rsvp_at) / count(*), 1) as percent_later_rsvpd,
    percentile_cont(0.5) within group (order by cast(rsvp_at as date) - cast(signed_at as date))
        as median_days_to_rsvp
from first_rsvp_after
group by 1, 2
order by later_rsvpd desc, signers desc, petition;
