with source as (
    select * from {{ source_or_empty('action_network', 'events') }}
),

state_timezones as (
    select * from {{ ref('us_state_timezones') }}
),

located as (
    select
        source.*,
        state_timezones.timezone,
        -- Action Network writes the local wall-clock time with a "Z"; read it as local time
        {{ parse_local_timestamp("nullif(source.start_date, '')") }} as start_local,
        {{ parse_local_timestamp("nullif(source.end_date, '')") }} as end_local
    from source
    left join state_timezones
        on state_timezones.region = upper(source.location__region)
        and coalesce(source.location__country, 'US') = 'US'
),

final as (
    select
        id as event_id,
        title,
        name as admin_name,
        description,
        nullif(browser_url, '') as browser_url,
        status,
        visibility,
        start_local as start_at_local,
        end_local as end_at_local,
        timezone,
        -- UTC; where the zone is unknown the time is taken as written (UTC)
        coalesce(timezone(timezone, start_local), timezone('UTC', start_local)) as start_at,
        coalesce(timezone(timezone, end_local), timezone('UTC', end_local)) as end_at,
        capacity,
        total_accepted,
        event_campaign_id,
        origin_system,
        action_network_sponsor__title as sponsor_title,
        coalesce(action_network_hidden, false) as is_hidden,
        nullif(location__venue, '') as venue,
        nullif({{ json_text('location__address_lines', [0]) }}, '') as address_line_1,
        nullif({{ json_text('location__address_lines', [1]) }}, '') as address_line_2,
        nullif(location__locality, '') as locality,
        nullif(location__region, '') as region,
        nullif(location__postal_code, '') as postal_code,
        location__country as country,
        location__location__latitude as latitude,
        location__location__longitude as longitude,
        -- no address at all: an online event
        location__locality is null and location__postal_code is null
            and location__address_lines is null as is_virtual,
        created_date as created_at,
        modified_date as updated_at
    from located
)

select * from final
