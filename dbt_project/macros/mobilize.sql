{#-
    A Mobilize location text, or null when it is the placeholder Mobilize writes for a private
    address as the venue and first address line ("This event’s address is private. Sign up for
    more details"; github.com/mobilizeamerica/api, "Location"). `_` matches either apostrophe.
-#}
{% macro mobilize_location_text(column) -%}
    case when {{ column }} not like 'This event_s address is private%' then nullif({{ column }}, '') end
{%- endmacro %}

{#-
    One row per answer in an RSVP's custom sign-up field values (a JSON array of objects:
    custom_field_id, custom_field_name, and one of text_value and boolean_value), typed:
    attendance_id, custom_field_id (bigint), custom_field_name, text_value, boolean_value.
    `source` is the raw attendances CTE.
-#}
{% macro mobilize_custom_field_answers(source) -%}
    {{ return(adapter.dispatch('mobilize_custom_field_answers')(source)) }}
{%- endmacro %}

{#- DuckDB parses each array once into typed structs (twice as fast as a path per field) -#}
{% macro duckdb__mobilize_custom_field_answers(source) -%}
    select
        attendance_id,
        answer.custom_field_id,
        answer.custom_field_name,
        answer.text_value,
        answer.boolean_value
    from (
        select
            -- the attendance id as stg_mobilize__attendances has it
            coalesce(attendance_key, cast(id as varchar)) as attendance_id,
            unnest(from_json(
                custom_signup_field_values,
                '[{"custom_field_id": "BIGINT", "custom_field_name": "VARCHAR", "text_value": "VARCHAR", "boolean_value": "BOOLEAN"}]'
            )) as answer
        from {{ source }}
        where custom_signup_field_values is not null
    ) as answers
{%- endmacro %}

{% macro postgres__mobilize_custom_field_answers(source) -%}
    select
        coalesce({{ source }}.attendance_key, cast({{ source }}.id as varchar)) as attendance_id,
        answer.custom_field_id,
        answer.custom_field_name,
        answer.text_value,
        answer.boolean_value
    from {{ source }}
    cross join lateral jsonb_to_recordset(cast({{ source }}.custom_signup_field_values as jsonb)) as answer(
        custom_field_id bigint, custom_field_name text, text_value text, boolean_value boolean
    )
    where {{ source }}.custom_signup_field_values is not null
{%- endmacro %}
