{#- A name for people to read: kept as typed when it mixes case ("McDonald", "de la Cruz"), since
    that is a choice; typed all lower or all upper case ("mary-jane", "O'NEIL"), as forms often
    are, each letter after a non-letter is capitalised ("Mary-Jane", "O'Neil"). DuckDB has no
    initcap(). Matching never reads this: identity uses the normalized names. -#}
{% macro readable_name(column) -%}
    case
        when {{ column }} is distinct from lower({{ column }}) and {{ column }} is distinct from upper({{ column }})
            then {{ column }}
        else array_to_string(list_transform(generate_series(1, length({{ column }})), lambda i:
            case
                when i = 1 or not regexp_matches(substr({{ column }}, i - 1, 1), '\p{L}')
                    then upper(substr({{ column }}, i, 1))
                else lower(substr({{ column }}, i, 1))
            end), '')
    end
{%- endmacro %}
