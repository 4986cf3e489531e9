{#- Schemas are named exactly as configured (analytics, staging, …), not prefixed by the target's. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
