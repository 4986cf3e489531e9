{#-
    var('identity_hub_key_max_records'), checked: the most records one identifying value may be
    shared by and still link them. It reaches SQL as a number, so it must be a positive integer.
-#}
{% macro identity_hub_key_max_records() -%}
    {%- set value = var('identity_hub_key_max_records') | string | trim -%}
    {%- if not value.isdigit() or value | int < 2 -%}
        {{ exceptions.raise_compiler_error(
            "var identity_hub_key_max_records must be an integer of at least 2, not '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}

{#- A rule's place in var('identity_rules') (1 = strongest), for picking the strongest of several. -#}
{% macro identity_rule_rank(rule) -%}
    list_position([{% for name in var('identity_rules') %}'{{ name | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %}], {{ rule }})
{%- endmacro %}
