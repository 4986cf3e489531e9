with source as (
    select * from {{ source_or_empty('mobilize', 'events') }}
),

deleted as (
    select * from {{ ref('stg_mobilize__deleted_events') }}
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
        nullif(source.location__venue, '') as venue,
        nullif(json_extract_string(source.location__address_lines, '$[0]'), '') as address_line_1,
        nullif(json_extract_string(source.location__address_lines, '$[1]'), '') as address_line_2,
        nullif(source.location__locality, '') as locality,
        nullif(source.location__region, '') as region,
        nullif(source.location__postal_code, '') as postal_code,
        source.location__location__latitude as latitude,
        source.location__location__longitude as longitude,
        -- the API sends no location for a virtual event
        source.location__locality is null and source.location__postal_code is null as is_virtual,
        {{ from_unix_seconds('source.created_date') }} as created_at,
        {{ from_unix_seconds('source.modified_date') }} as updated_at,
        deleted.deleted_at
    from source
    left join deleted on deleted.event_id = cast(source.id as varchar)
)

select * from final
