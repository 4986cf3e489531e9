{#- Normalizers shared by every source's person records; identity resolution matches on their output. -#}

{#- trim() removes only spaces; forms also send tabs, newlines, no-break spaces and control characters. -#}
{% macro trim_whitespace(column) -%}
    {{ return(adapter.dispatch('trim_whitespace')(column)) }}
{%- endmacro %}

{% macro duckdb__trim_whitespace(column) -%}
    regexp_replace({{ column }}, '^[\s\p{Z}\p{Cc}]+|[\s\p{Z}\p{Cc}]+$', '', 'g')
{%- endmacro %}

{#- Postgres' regular expressions know no \p{…}: the same characters listed (Cc, and Zs, Zl, Zp
    of Unicode 15), so the result does not depend on the database's ctype either. -#}
{% macro postgres__trim_whitespace(column) -%}
    regexp_replace({{ column }},
        '^[\u0001-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+'
        '|[\u0001-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$', '', 'g')
{%- endmacro %}

{% macro normalize_email(column) -%}
    nullif({{ unicode_lower(trim_whitespace(column)) }}, '')
{%- endmacro %}

{#-
    E.164: "+" and the digits when the number carries its country code ("+…" or "00…"),
    else the project's default calling code (var default_country_calling_code) before the
    national digits. North American numbers written with a leading 1 keep it as the code.
    Anything too short to be a phone number becomes null.
-#}
{% macro normalize_phone(column) -%}
    {%- set code = var('default_country_calling_code', '1') | string -%}
    (case
        when {{ column }} is null then null
        when length(regexp_replace({{ column }}, '[^0-9]', '', 'g')) < 7 then null
        when {{ trim_whitespace(column) }} like '+%' then '+' || regexp_replace({{ column }}, '[^0-9]', '', 'g')
        when {{ trim_whitespace(column) }} like '00%' then '+' || substr(regexp_replace({{ column }}, '[^0-9]', '', 'g'), 3)
        {%- if code == '1' %}
        when length(regexp_replace({{ column }}, '[^0-9]', '', 'g')) = 11
             and regexp_replace({{ column }}, '[^0-9]', '', 'g') like '1%'
            then '+' || regexp_replace({{ column }}, '[^0-9]', '', 'g')
        {%- endif %}
        else '+{{ code }}' || ltrim(regexp_replace({{ column }}, '[^0-9]', '', 'g'), '0')
    end)
{%- endmacro %}

{#- Lower case, no accents, no punctuation or spacing: "  O'Brien " and "obrien" compare equal. -#}
{% macro normalize_name(column) -%}
    nullif(regexp_replace({{ unicode_lower(strip_accents(column)) }}, '[^a-z]', '', 'g'), '')
{%- endmacro %}

{#- Unix seconds (as vendors send them) to a UTC timestamptz. -#}
{% macro from_unix_seconds(column) -%}
    case when {{ column }} is not null then to_timestamp({{ column }}) end
{%- endmacro %}

{#- A naive timestamp the vendor writes in UTC (ControlShift's bulk data) as a UTC TIMESTAMPTZ. -#}
{% macro from_utc_timestamp(column) -%}
    (cast({{ column }} as timestamp) at time zone 'UTC')
{%- endmacro %}
