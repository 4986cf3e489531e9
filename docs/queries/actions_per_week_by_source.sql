-- Actions per week, per tool and kind of action: the organization's activity over time.
select
    cast(date_trunc('week', occurred_at) as date) as week,
    source,
    action_type,
    count(*) as actions,
    count(distinct person_id) as people
from analytics.actions
where occurred_at is not null
group by 1, 2, 3
order by week, source, action_type;
