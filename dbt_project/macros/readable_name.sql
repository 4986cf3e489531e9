{#- A name for people to read: kept as typed when it mixes case ("McDonald", "de la Cruz"), since
    that is a choice; typed all lower or all upper case ("mary-jane", "O'NEIL"), as forms often
    are, each letter after a non-letter is capitalised ("Mary-Jane", "O'Neil"). DuckDB has no
    initcap(). Matching never reads this: identity uses the normalized names. -#}
{% macro readable_name(column) -%}
    case
        when {{ column }} is distinct from lower({{ column }}) and {{ column }} is distinct from upper({{ column }})
            then {{ column }}
        -- runs of letters and of other characters: each letter run gets one capital, linear in
        -- the name's length (a per-character substr is quadratic on a hostile 100 kB "name")
        else array_to_string(list_transform(regexp_extract_all({{ column }}, '\p{L}+|\P{L}+'), lambda part:
            upper(left(part, 1)) || lower(substr(part, 2))), '')
    end
{%- endmacro %}
