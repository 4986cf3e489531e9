{#- One row per event occurrence from every source with events; a Mobilize timeslot is one. -#}
with mobilize_events as (
    select * from {{ ref('stg_mobilize__events') }}
),

mobilize_timeslots as (
    select * from {{ ref('stg_mobilize__event_timeslots') }}
),

mobilize_event_tags as (
    select * from {{ ref('stg_mobilize__event_tags') }}
),

action_network_events as (
    select * from {{ ref('stg_action_network__events') }}
),

action_network_event_campaigns as (
    select * from {{ ref('stg_action_network__event_campaigns') }}
),

controlshift_events as (
    select * from {{ ref('stg_controlshift__events') }}
),

controlshift_locations as (
    select * from {{ ref('stg_controlshift__locations') }}
),

-- an event's tag names, sorted, each once (two tags may share a name)
mobilize_tag_lists as (
    select
        event_id,
        {{ sorted_distinct_list('tag_name') }} as tags
    from mobilize_event_tags
    group by event_id
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
        -- an event campaign has a slug and no title; shown for the organization's own events only
        mobilize_events.event_campaign_slug as campaign,
        coalesce(mobilize_tag_lists.tags, {{ empty_text_list() }}) as tags,
        mobilize_events.browser_url,
        case when mobilize_events.deleted_at is not null then 'deleted' else 'active' end as status,
        mobilize_events.created_at,
        coalesce(mobilize_events.deleted_at, mobilize_events.updated_at) as updated_at
    from mobilize_events
    inner join mobilize_timeslots using (event_id)
    left join mobilize_tag_lists using (event_id)
),

-- an Action Network event is one occurrence; one hosted in an event campaign carries the campaign
action_network as (
    select
        'action_network' as source,
        action_network_events.event_id as source_event_id,
        action_network_events.title,
        action_network_events.start_at,
        action_network_events.end_at,
        action_network_events.timezone,
        action_network_events.venue,
        action_network_events.address_line_1,
        action_network_events.address_line_2,
        action_network_events.locality,
        action_network_events.region,
        action_network_events.postal_code,
        action_network_events.latitude,
        action_network_events.longitude,
        action_network_events.is_virtual,
        action_network_events.sponsor_title as organization,
        action_network_event_campaigns.title as campaign,
        action_network_events.browser_url,
        case when action_network_events.status = 'cancelled' then 'cancelled' else 'active' end as status,
        action_network_events.created_at,
        action_network_events.updated_at
    from action_network_events
    left join action_network_event_campaigns using (event_campaign_id)
),

-- a ControlShift event is one occurrence, at its location
controlshift as (
    select
        'controlshift' as source,
        controlshift_events.event_id as source_event_id,
        controlshift_events.title,
        controlshift_events.start_at,
        controlshift_events.end_at,
        controlshift_events.timezone,
        controlshift_events.venue,
        controlshift_locations.address_line_1,
        controlshift_locations.locality,
        controlshift_locations.region,
        controlshift_locations.postal_code,
        controlshift_locations.latitude,
        controlshift_locations.longitude,
        coalesce(controlshift_events.is_virtual, false) as is_virtual,
        case when controlshift_events.cancelled_at is not null then 'cancelled' else 'active' end as status,
        controlshift_events.created_at,
        controlshift_events.updated_at
    from controlshift_events
    left join controlshift_locations using (location_id)
),

-- by name: a column a source does not have (a timeslot, a campaign, an event type, tags) is null in its rows
final as (
    {{ union_by_name(['mobilize', 'action_network', 'controlshift'], {
        'source': 'text',
        'source_event_id': 'text',
        'timeslot_id': 'text',
        'title': 'text',
        'event_type': 'text',
        'start_at': 'timestamptz',
        'end_at': 'timestamptz',
        'timezone': 'text',
        'venue': 'text',
        'address_line_1': 'text',
        'address_line_2': 'text',
        'locality': 'text',
        'region': 'text',
        'postal_code': 'text',
        'latitude': 'double precision',
        'longitude': 'double precision',
        'is_virtual': 'boolean',
        'organization': 'text',
        'campaign': 'text',
        'tags': 'text[]',
        'browser_url': 'text',
        'status': 'text',
        'created_at': 'timestamptz',
        'updated_at': 'timestamptz',
    }) }}
)

select * from final
