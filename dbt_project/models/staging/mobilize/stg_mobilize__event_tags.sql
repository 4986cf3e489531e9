with tags as (
    select * from {{ source_or_empty('mobilize', 'events__tags') }}
),

events as (
    select event_id, dlt_id from {{ ref('stg_mobilize__events') }}
),

final as (
    select
        events.event_id,
        cast(tags.id as varchar) as tag_id,
        tags.name as tag_name
    from tags
    inner join events on events.dlt_id = tags._dlt_parent_id
)

select * from final
