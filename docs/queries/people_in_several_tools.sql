-- People in several tools: how many people each combination of tools shares.
-- One row per combination of two or more tools, largest first (`sources` is in name order).
select
    array_to_string(sources, ' + ') as tools,
    cardinality(sources) as tool_count,
    count(*) as people,
    cast(sum(rsvp_count) as bigint) as rsvps,
    cast(sum(petitions_signed_count) as bigint) as petitions_signed
from analytics.people
where cardinality(sources) > 1
group by 1, 2
order by people desc, tools;
