with source as (
    select * from {{ source_or_empty('controlshift', 'attendees') }}
),

final as (
    select
        {{ controlshift_contact_columns('attendees') }},
        cast(id as varchar) as attendee_id,
        cast(event_id as varchar) as event_id,
        attending_status,
        {{ json_text('utm_params', ['utm_source']) }} as utm_source,
        {{ json_text('utm_params', ['utm_medium']) }} as utm_medium,
        {{ json_text('utm_params', ['utm_campaign']) }} as utm_campaign,
        {{ json_text('utm_params', ['utm_term']) }} as utm_term,
        {{ json_text('utm_params', ['utm_content']) }} as utm_content,
        {{ from_utc_timestamp('unsubscribe_at') }} as unsubscribed_at,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
