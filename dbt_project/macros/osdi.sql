{#-
    An OSDI list of contact objects (email_addresses, phone_numbers, postal_addresses: a JSON
    array of objects with a "primary" flag) as a list of JSON objects, the primary one first;
    the others keep their order. Read an item's field with json_text('list[1]', [...]) and
    the others' with json_list_texts (lists are 1-based on both engines).
-#}
{% macro osdi_primary_first(column) -%}
    {{ return(adapter.dispatch('osdi_primary_first')(column)) }}
{%- endmacro %}

{% macro duckdb__osdi_primary_first(column) -%}
    list_concat(
        list_filter(cast(json_extract({{ column }}, '$[*]') as json[]),
                    lambda item: json_extract_string(item, '$.primary') = 'true'),
        list_filter(cast(json_extract({{ column }}, '$[*]') as json[]),
                    lambda item: coalesce(json_extract_string(item, '$.primary') <> 'true', true))
    )
{%- endmacro %}

{#- a jsonb[] -#}
{% macro postgres__osdi_primary_first(column) -%}
    case when {{ column }} is not null then array(
        select item
        from jsonb_array_elements(cast({{ column }} as jsonb)) with ordinality as listed(item, position)
        order by case when item ->> 'primary' = 'true' then 0 else 1 end, position
    ) end
{%- endmacro %}
