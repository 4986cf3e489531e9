{#- One row per event occurrence from every source with events; a Mobilize timeslot is one. -#}
with mobilize_events as (
    select * from {{ ref('stg_mobilize__events') }}
),

mobilize_timeslots as (
    select * from {{ ref('stg_mobilize__event_timeslots') }}
),

action_network_events as (
    select * from {{ ref('stg_action_network__events') }}
),

mobilize as (
    select
        'mobilize' as source,
        mobilize_events.event_id as source_event_id,
        mobilize_timeslots.timeslot_id,
        mobilize_events.title,
        mobilize_events.event_type,
        mobilize_timeslots.start_at,
        mobilize_timeslots.end_at,
        mobilize_events.timezone,
        mobilize_events.venue,
        mobilize_events.address_line_1,
        mobilize_events.address_line_2,
        mobilize_events.locality,
        mobilize_events.region,
        mobilize_events.postal_code,
        mobilize_events.latitude,
        mobilize_events.longitude,
        mobilize_events.is_virtual,
        mobilize_events.sponsor_organization_name as organization,
        mobilize_events.browser_url,
        case when mobilize_events.deleted_at is not null then 'deleted' else 'active' end as status,
        mobilize_events.created_at,
        coalesce(mobilize_events.deleted_at, mobilize_events.updated_at) as updated_at
    from mobilize_events
    inner join mobilize_timeslots using (event_id)
),

-- an Action Network event is one occurrence
action_network as (
    select
        'action_network' as source,
        event_id as source_event_id,
        cast(null as varchar) as timeslot_id,
        title,
        cast(null as varchar) as event_type,
        start_at,
        end_at,
        timezone,
        venue,
        address_line_1,
        address_line_2,
        locality,
        region,
        postal_code,
        latitude,
        longitude,
        is_virtual,
        sponsor_title as organization,
        browser_url,
        case when status = 'cancelled' then 'cancelled' else 'active' end as status,
        created_at,
        updated_at
    from action_network_events
),

final as (
    select * from mobilize
    union all
    select * from action_network
)

select * from final
