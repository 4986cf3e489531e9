with source as (
    select * from {{ source_or_empty('mobilize', 'people') }}
),

final as (
    select
        -- the person id, or `user:<user_id>` for new people (whose person id is null)
        coalesce(person_key, cast(id as varchar)) as person_id,
        cast(user_id as varchar) as user_id,
        given_name,
        family_name,
        {{ json_text('email_addresses', [0, 'address']) }} as email,
        {{ json_text('phone_numbers', [0, 'number']) }} as phone,
        {{ json_text('postal_addresses', [0, 'postal_code']) }} as postal_code,
        sms_opt_in_status,
        {{ from_unix_seconds('created_date') }} as created_at,
        {{ from_unix_seconds('modified_date') }} as updated_at
    from source
)

select * from final
