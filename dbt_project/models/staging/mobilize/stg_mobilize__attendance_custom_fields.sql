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
        {{ json_array_items('custom_signup_field_values') }} as answer
    from source
    where custom_signup_field_values is not null
),

final as (
    select
        attendance_id,
        {{ json_text('answer', ['custom_field_id']) }} as custom_field_id,
        {{ json_text('answer', ['custom_field_name']) }} as custom_field_name,
        {{ json_text('answer', ['text_value']) }} as text_value,
        cast({{ json_text('answer', ['boolean_value']) }} as boolean) as boolean_value,
        -- the answer as text: the text as given ('' when left empty), or 'true' / 'false'
        coalesce(
            {{ json_text('answer', ['text_value']) }},
            cast(cast({{ json_text('answer', ['boolean_value']) }} as boolean) as varchar)
        ) as value
    from answers
)

select * from final
