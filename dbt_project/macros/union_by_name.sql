{#-
    The rows of several CTEs (or relations) united by column name: each of `relations` selects the
    columns it has, and a column it lacks is null in its rows. `columns` is the union's schema, an
    ordered mapping of column name to type (the Postgres type; DuckDB keeps the types the branches
    have), so both engines give the same columns in the same order. A branch column not in
    `columns` is left out; a name in `columns` that no branch has is an error on DuckDB.

    DuckDB has UNION ALL BY NAME. Postgres has none, and Jinja cannot see a CTE's columns, so each
    row goes through jsonb by name: to_jsonb(row) keys it by column name and jsonb_to_record reads
    the declared columns back (a key a branch lacks reads as null). Values survive the round trip
    exactly: text, booleans, numbers (float8 is written shortest-exact), timestamptz (written with
    its offset), arrays. It costs a serialization per row, which Postgres-sized data can afford.
-#}
{% macro union_by_name(relations, columns) -%}
    {{ return(adapter.dispatch('union_by_name')(relations, columns)) }}
{%- endmacro %}

{% macro duckdb__union_by_name(relations, columns) -%}
    select {{ columns.keys() | join(', ') }}
    from (
        {%- for relation in relations %}
        select * from {{ relation }}
        {%- if not loop.last %}
        union all by name
        {%- endif %}
        {%- endfor %}
    ) as united
{%- endmacro %}

{% macro postgres__union_by_name(relations, columns) -%}
    {%- for relation in relations %}
    select united.*
    from {{ relation }} as branch
    cross join lateral jsonb_to_record(to_jsonb(branch)) as united(
        {%- for name, type in columns.items() %}
        {{ name }} {{ type }}{{ "," if not loop.last }}
        {%- endfor %}
    )
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
