with source as (
    select * from {{ source_or_empty('mobilize', 'events') }}
),

deleted as (
    select * from {{ ref('stg_mobilize__deleted_events') }}
),

-- issue #69: a deleted event can still be listed with every field null; served after the
-- event was last loaded whole, it says the event is gone
ghosts as (
    select event_id, max(cast(load_id as double precision)) as last_seen_load
    from {{ ref('stg_mobilize__incomplete_events') }}
    where event_id is not null
    group by event_id
),

final as (
    select
        cast(source.id as varchar) as event_id,
        source._dlt_id as dlt_id,
        source.title,
        nullif(source.summary, '') as summary,
        source.description,
        source.event_type,
        source.timezone,
        nullif(source.browser_url, '') as browser_url,
        nullif(source.featured_image_url, '') as featured_image_url,
        source.high_priority,
        cast(source.sponsor__id as varchar) as sponsor_organization_id,
        source.sponsor__name as sponsor_organization_name,
        {{ mobilize_location_text('source.location__venue') }} as venue,
        {{ mobilize_location_text(json_text('source.location__address_lines', [0])) }} as address_line_1,
        nullif({{ json_text('source.location__address_lines', [1]) }}, '') as address_line_2,
        nullif(source.location__locality, '') as locality,
        nullif(source.location__region, '') as region,
        nullif(source.location__postal_code, '') as postal_code,
        source.location__location__latitude as latitude,
        source.location__location__longitude as longitude,
        -- a field since 2020: virtual events may have a location
        source.is_virtual,
        source.visibility,
        source.approval_status,
        source.address_visibility,
        -- Mobilize shows the campaign for the organization's own events only
        cast(source.event_campaign__id as varchar) as event_campaign_id,
        source.event_campaign__slug as event_campaign_slug,
        {{ from_unix_seconds('source.created_date') }} as created_at,
        {{ from_unix_seconds('source.modified_date') }} as updated_at,
        coalesce(
            deleted.deleted_at,
            case when ghosts.last_seen_load > cast(source._dlt_load_id as double precision)
                then to_timestamp(ghosts.last_seen_load) end
        ) as deleted_at
    from source
    left join deleted on deleted.event_id = cast(source.id as varchar)
    left join ghosts on ghosts.event_id = cast(source.id as varchar)
)

select * from final
