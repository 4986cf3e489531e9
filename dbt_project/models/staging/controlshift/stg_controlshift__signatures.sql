with source as (
    select * from {{ source_or_empty('controlshift', 'signatures') }}
),

final as (
    select
        {{ controlshift_contact_columns('signatures') }},
        cast(id as varchar) as signature_id,
        cast(petition_id as varchar) as petition_id,
        {{ json_text('utm_params', ['utm_source']) }} as utm_source,
        {{ json_text('utm_params', ['utm_medium']) }} as utm_medium,
        {{ json_text('utm_params', ['utm_campaign']) }} as utm_campaign,
        {{ from_utc_timestamp('unsubscribe_at') }} as unsubscribed_at,
        {{ from_utc_timestamp('deleted_at') }} as deleted_at,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
