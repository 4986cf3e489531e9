{#-
    A Mobilize location text, or null when it is the placeholder Mobilize writes for a private
    address as the venue and first address line ("This event’s address is private. Sign up for
    more details"; github.com/mobilizeamerica/api, "Location"). `_` matches either apostrophe.
-#}
{% macro mobilize_location_text(column) -%}
    case when {{ column }} not like 'This event_s address is private%' then nullif({{ column }}, '') end
{%- endmacro %}
