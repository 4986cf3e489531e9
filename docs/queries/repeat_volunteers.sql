-- Repeat volunteers: people who attended two or more events, most active first.
select
    p.person_id,
    p.given_name,
    p.family_name,
    p.email,
    count(distinct a.event_id) as events_attended,
    min(e.start_at) as first_attended_at,
    max(e.start_at) as last_attended_at,
    array_to_string(p.sources, ', ') as tools
from analytics.attendances as a
join analytics.people as p on p.person_id = a.person_id
left join analytics.events as e on e.event_id = a.event_id
where a.attended
group by p.person_id, p.given_name, p.family_name, p.email, p.sources
having count(distinct a.event_id) >= 2
order by events_attended desc, last_attended_at desc;
