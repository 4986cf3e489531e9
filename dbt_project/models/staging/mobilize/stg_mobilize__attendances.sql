with source as (
    select * from {{ source_or_empty('mobilize', 'attendances') }}
),

final as (
    select
        -- the attendance id, or a digest for an RSVP Mobilize sends without one
        coalesce(attendance_key, cast(id as varchar)) as attendance_id,
        coalesce(person_key, {{ json_text('person', ['id']) }}) as person_id,
        {{ json_text('event', ['id']) }} as event_id,
        {{ json_text('event', ['event_type']) }} as event_type,
        {{ json_text('timeslot', ['id']) }} as timeslot_id,
        {{ from_unix_seconds("cast(" ~ json_text('timeslot', ['start_date']) ~ " as bigint)") }} as timeslot_start_at,
        {{ from_unix_seconds("cast(" ~ json_text('timeslot', ['end_date']) ~ " as bigint)") }} as timeslot_end_at,
        cast(listed_by_organization_id as varchar) as listed_by_organization_id,
        status,
        {{ json_text('sponsor', ['id']) }} as sponsor_organization_id,
        attended,
        -- whether Mobilize sent the custom sign-up field values (it withholds them for events the
        -- organization does not own); the values are in stg_mobilize__attendance_custom_fields
        custom_signup_field_values is not null as custom_fields_shared,
        {{ json_text('person', ['given_name']) }} as person_given_name,
        {{ json_text('person', ['family_name']) }} as person_family_name,
        {{ json_text('person', ['email_addresses', 0, 'address']) }} as person_email,
        {{ json_text('person', ['phone_numbers', 0, 'number']) }} as person_phone,
        {{ json_text('person', ['postal_addresses', 0, 'postal_code']) }} as person_postal_code,
        {{ from_unix_seconds("cast(" ~ json_text('person', ['created_date']) ~ " as bigint)") }} as person_created_at,
        {{ from_unix_seconds("cast(" ~ json_text('person', ['modified_date']) ~ " as bigint)") }} as person_updated_at,
        {{ json_text('referrer', ['utm_source']) }} as utm_source,
        {{ json_text('referrer', ['utm_medium']) }} as utm_medium,
        {{ json_text('referrer', ['utm_campaign']) }} as utm_campaign,
        {{ json_text('referrer', ['utm_term']) }} as utm_term,
        {{ json_text('referrer', ['utm_content']) }} as utm_content,
        {{ json_text('referrer', ['url']) }} as referrer_url,
        {{ from_unix_seconds('created_date') }} as created_at,
        {{ from_unix_seconds('modified_date') }} as updated_at
    from source
)

select * from final
