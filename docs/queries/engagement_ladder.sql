-- The engagement ladder: how many people took one, two, three… distinct kinds of action
-- (rsvp, attendance, petition_signature, form_submission, donation, outreach), in any tool.
-- People with no action at all are the ladder's first rung.
with rungs as (
    select
        p.person_id,
        count(distinct a.action_type) as action_types
    from analytics.people as p
    left join analytics.actions as a on a.person_id = p.person_id
    group by p.person_id
)

select
    action_types,
    count(*) as people,
    round(100.0 * count(*) / sum(count(*)) over (), 1) as percent_of_people
from rungs
group by action_types
order by action_types;
