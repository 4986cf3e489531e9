-- New people per week, by the tools they are in: a person is new in the week of their
-- first_seen_at (their earliest record in any tool). Someone in two tools counts under each.
select
    cast(date_trunc('week', p.first_seen_at) as date) as week,
    source,
    count(*) as new_people
from analytics.people as p, unnest(p.sources) as s(source)
where p.first_seen_at is not null
group by 1, 2
order by week, source;
