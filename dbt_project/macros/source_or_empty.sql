{#-
    Select a raw table's declared columns, whatever has been loaded so far.

    dlt creates a table only once a source has loaded rows into it, and a column only once
    a value for it has arrived. So that the marts build with any subset of sources synced,
    this selects every column declared (with its data_type) in the source's yml: columns
    the table lacks come back as typed nulls, and a table never loaded comes back empty.
-#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set declared = source(source_name, table_name) -%}
    {%- if not execute -%}{{ return(declared) }}{%- endif -%}
    {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
                                           | selectattr('name', 'equalto', table_name) | first -%}
    {%- set relation = adapter.get_relation(database=declared.database, schema=declared.schema,
                                            identifier=declared.identifier) -%}
    {%- set present = [] -%}
    {%- if relation is not none -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    (
        select
        {%- for name, column in node.columns.items() %}
            {% if name | lower in present -%}
                {{ adapter.quote(name) }}
            {%- else -%}
                cast(null as {{ column.data_type }})
            {%- endif %} as {{ adapter.quote(name) }}{{ "," if not loop.last }}
        {%- endfor %}
        {% if relation is not none -%}
        from {{ relation }}
        {%- else -%}
        where false
        {%- endif %}
    )
{%- endmacro %}
