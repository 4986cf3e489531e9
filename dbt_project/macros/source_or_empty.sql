{#-
    Select a raw table's declared columns, whatever has been loaded so far.

    dlt creates a table only once a source has loaded rows into it, and a column only once
    a value for it has arrived. So that the marts build with any subset of sources synced,
    this selects every column declared (with its data_type) in the source's yml: columns
    the table lacks come back as typed nulls, and a table never loaded comes back empty.
    The result is an aliased subquery (Postgres requires the alias): select * from it.
-#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set declared = source(source_name, table_name) -%}
    {%- if not execute -%}{{ return(declared) }}{%- endif -%}
    {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
                                           | selectattr('name', 'equalto', table_name) | first -%}
    {#- asked of the catalog directly, not through adapter.get_relation: dbt's relations cache
        marks a schema cached at the first relation it adds, so a model compiling in another
        thread meanwhile could find the table missing and build on the empty stand-in -#}
    {%- set columns_query -%}
        select lower(column_name)
        from information_schema.columns
        where lower(table_catalog) = lower({{ quoted_literal(declared.database) }})
            and lower(table_schema) = lower({{ quoted_literal(declared.schema) }})
            and lower(table_name) = lower({{ quoted_literal(declared.identifier) }})
    {%- endset -%}
    {%- set present = run_query(columns_query).columns[0].values() | list -%}
    (
        select
        {%- for name, column in node.columns.items() %}
            {% if name | lower in present -%}
                {{ adapter.quote(name) }}
            {%- else -%}
                cast(null as {{ column_type(column.data_type) }})
            {%- endif %} as {{ adapter.quote(name) }}{{ "," if not loop.last }}
        {%- endfor %}
        {% if present -%}
        from {{ declared }}
        {%- else -%}
        where false
        {%- endif %}
    ) as declared_columns
{%- endmacro %}

{#- A SQL string literal of `value`, its quotes doubled. -#}
{% macro quoted_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}
