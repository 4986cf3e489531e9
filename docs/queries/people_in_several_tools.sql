-- People in several tools: how many people each combination of tools shares.
-- One row per combination of two or more tools, largest first.
select
    array_to_string(list_sort(sources), ' + ') as tools,
    len(sources) as tool_count,
    count(*) as people,
    cast(sum(rsvp_count) as bigint) as rsvps,
    cast(sum(petitions_signed_count) as bigint) as petitions_signed
from analytics.people
where len(sources) > 1
group by all
order by people desc, tools;
