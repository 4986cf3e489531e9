with timeslots as (
    select * from {{ source_or_empty('mobilize', 'events__timeslots') }}
),

events as (
    select event_id, dlt_id from {{ ref('stg_mobilize__events') }}
),

final as (
    select
        cast(timeslots.id as varchar) as timeslot_id,
        events.event_id,
        {{ from_unix_seconds('timeslots.start_date') }} as start_at,
        {{ from_unix_seconds('timeslots.end_date') }} as end_at
    from timeslots
    inner join events on events.dlt_id = timeslots._dlt_parent_id
)

select * from final
