{#-
    One row per answer to a custom sign-up field, from the list an RSVP carries whole
    (`custom_signup_field_values`: custom_field_id, custom_field_name, and exactly one of
    text_value and boolean_value non-null). RSVPs to events the organization does not own
    come without the list and have no rows here.
-#}
with source as (
    select * from {{ source_or_empty('mobilize', 'attendances') }}
),

answers as (
    select
        -- the attendance id as stg_mobilize__attendances has it
        coalesce(attendance_key, cast(id as varchar)) as attendance_id,
        unnest(from_json(
            custom_signup_field_values,
            '[{"custom_field_id": "BIGINT", "custom_field_name": "VARCHAR", "text_value": "VARCHAR", "boolean_value": "BOOLEAN"}]'
        )) as answer
    from source
    where custom_signup_field_values is not null
),

final as (
    select
        attendance_id,
        cast(answer.custom_field_id as varchar) as custom_field_id,
        answer.custom_field_name,
        answer.text_value,
        answer.boolean_value,
        -- the answer as text: the text as given ('' when left empty), or 'true' / 'false'
        coalesce(answer.text_value, cast(answer.boolean_value as varchar)) as value
    from answers
)

select * from final
