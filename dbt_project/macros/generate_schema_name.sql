{#- Schemas are named exactly as configured (analytics, staging, …), not prefixed by the target's.
    On Postgres the marts are built into analytics_build, which the pipeline swaps in as analytics
    in one transaction once every model and test passed (pipelines/postgres.py, swap_schema): BI
    readers of analytics never see half-built marts. ref() follows the build schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set name = custom_schema_name | trim if custom_schema_name else target.schema -%}
    {%- if target.type == 'postgres' and name == 'analytics' -%}
        analytics_build
    {%- else -%}
        {{ name }}
    {%- endif -%}
{%- endmacro %}
