{#-
    An OSDI list of contact objects (email_addresses, phone_numbers, postal_addresses: a JSON
    array of objects with a "primary" flag) as a list of JSON objects, the primary one first.
-#}
{% macro osdi_primary_first(column) -%}
    list_concat(
        list_filter(cast(json_extract({{ column }}, '$[*]') as json[]),
                    lambda item: json_extract_string(item, '$.primary') = 'true'),
        list_filter(cast(json_extract({{ column }}, '$[*]') as json[]),
                    lambda item: coalesce(json_extract_string(item, '$.primary') <> 'true', true))
    )
{%- endmacro %}
