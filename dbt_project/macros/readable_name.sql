{#- A name for people to read: kept as typed when it mixes case ("McDonald", "de la Cruz"), since
    that is a choice; typed all lower or all upper case ("mary-jane", "O'NEIL"), as forms often
    are, each letter after a non-letter is capitalised ("Mary-Jane", "O'Neil"). DuckDB has no
    initcap() (and Postgres' counts digits as letters). Matching never reads this: identity uses
    the normalized names. -#}
{% macro readable_name(column) -%}
    {{ return(adapter.dispatch('readable_name')(column)) }}
{%- endmacro %}

{% macro duckdb__readable_name(column) -%}
    case
        when {{ column }} is distinct from lower({{ column }}) and {{ column }} is distinct from upper({{ column }})
            then {{ column }}
        -- runs of letters and of other characters: each letter run gets one capital, linear in
        -- the name's length (a per-character substr is quadratic on a hostile 100 kB "name")
        else array_to_string(list_transform(regexp_extract_all({{ column }}, '\p{L}+|\P{L}+'), lambda part:
            upper(left(part, 1)) || lower(substr(part, 2))), '')
    end
{%- endmacro %}

{#- Letters by Unicode (under the collation of unicode_lower, [[:alpha:]] is \p{L} whatever the
    database's collation); case mapped as unicode_lower does. -#}
{% macro postgres__readable_name(column) -%}
    case
        when {{ column }} is distinct from {{ unicode_lower(column) }} and {{ column }} is distinct from {{ unicode_upper(column) }}
            then {{ column }}
        else coalesce((
            select string_agg({{ unicode_upper('left(runs.part[1], 1)') }} || {{ unicode_lower('substr(runs.part[1], 2)') }}, '' order by runs.position)
            from regexp_matches(({{ column }}) collate "{{ postgres_unicode_collation() }}", '[[:alpha:]]+|[^[:alpha:]]+', 'g')
                with ordinality as runs(part, position)
        ), {{ column }})
    end
{%- endmacro %}
