with source as (
    select * from {{ source_or_empty('nationbuilder', 'people') }}
),

final as (
    select
        cast(id as varchar) as person_id,
        external_id,
        first_name,
        middle_name,
        last_name,
        email,
        email1,
        email2,
        email3,
        email4,
        email1_is_bad,
        email2_is_bad,
        email3_is_bad,
        email4_is_bad,
        primary_email_id,
        phone,
        mobile,
        work_phone_number,
        {{ json_text('primary_address', ['zip']) }} as primary_postal_code,
        {{ json_text('primary_address', ['city']) }} as primary_city,
        {{ json_text('primary_address', ['state']) }} as primary_state,
        {{ json_text('home_address', ['zip']) }} as home_postal_code,
        {{ json_text_list('tags') }} as tags,
        employer,
        support_level,
        is_volunteer,
        email_opt_in,
        mobile_opt_in,
        do_not_call,
        do_not_contact,
        cast(unsubscribed_at as timestamptz) as unsubscribed_at,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source
)

select * from final
