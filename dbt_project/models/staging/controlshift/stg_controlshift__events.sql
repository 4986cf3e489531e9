with source as (
    select * from {{ source_or_empty('controlshift', 'events') }}
),

final as (
    select
        cast(id as varchar) as event_id,
        title,
        slug,
        {{ from_utc_timestamp('start_at') }} as start_at,
        {{ from_utc_timestamp('end_at') }} as end_at,
        time_zone as timezone,
        cast(location_id as varchar) as location_id,
        nullif(location_venue, '') as venue,
        cast(virtual as boolean) as is_virtual,
        admin_status,
        cast(user_id as varchar) as user_id,
        {{ from_utc_timestamp('cancelled_at') }} as cancelled_at,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
