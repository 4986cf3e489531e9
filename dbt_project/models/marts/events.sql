with occurrences as (
    select * from {{ ref('int_events__unioned') }}
),

final as (
    select
        md5(source || ':' || source_event_id || ':' || coalesce(timeslot_id, '')) as event_id,
        source,
        source_event_id,
        timeslot_id,
        title,
        event_type,
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
        organization,
        campaign,
        tags,
        browser_url,
        status,
        created_at,
        updated_at
    from occurrences
)

select * from final
