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
    {{ mobilize_custom_field_answers('source') }}
),

final as (
    select
        attendance_id,
        cast(custom_field_id as varchar) as custom_field_id,
        custom_field_name,
        text_value,
        boolean_value,
        -- the answer as text: the text as given ('' when left empty), or 'true' / 'false'
        coalesce(text_value, cast(boolean_value as varchar)) as value
    from answers
)

select * from final
