{#-
    SQL that DuckDB and Postgres spell differently, behind adapter.dispatch: models call these and
    read the same on both engines. The duckdb__ versions are the SQL the project has always run
    (so DuckDB builds give the same results at the same speed); the postgres__ ones give the same
    values on Postgres 15, whatever the database's collation and the session's time zone.

    Lists stay native: DuckDB lists and Postgres arrays, holding the same values in the same order.
    JSON: dlt loads nested values as JSON on DuckDB and as json (or jsonb) on Postgres; the
    Postgres versions read either, through jsonb.
-#}

{#- ---------------------------------------------------------------- types -#}

{#- A source column's declared data_type (the source ymls speak DuckDB) as this engine names it. -#}
{% macro column_type(data_type) -%}
    {{ return(adapter.dispatch('column_type')(data_type)) }}
{%- endmacro %}

{% macro default__column_type(data_type) -%}
    {{ return(data_type) }}
{%- endmacro %}

{% macro postgres__column_type(data_type) -%}
    {%- set renamed = {'json': 'jsonb', 'double': 'double precision'} -%}
    {{ return(renamed.get(data_type | lower, data_type)) }}
{%- endmacro %}

{#- ---------------------------------------------------------------- ordering -#}

{#-
    Text compared byte by byte (code point order), as DuckDB always does: where a smallest key or a
    tie-break decides a result (a person's id, the value chosen among records, a list's order), a
    Postgres database with a linguistic collation (en_US) must not order it differently.
-#}
{% macro bytewise(expression) -%}
    {{ return(adapter.dispatch('bytewise')(expression)) }}
{%- endmacro %}

{% macro default__bytewise(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro postgres__bytewise(expression) -%}
    ({{ expression }}) collate "C"
{%- endmacro %}

{#-
    The value of `expression` on the first row in `order_by` order among the rows `filter` keeps
    (SQL where-condition; all when none). The order must be total (end it with a unique key) so
    that both engines pick the same row; nulls are values here, as the order puts them.
-#}
{% macro first_by(expression, order_by, filter=none) -%}
    {{ return(adapter.dispatch('first_by')(expression, order_by, filter)) }}
{%- endmacro %}

{% macro duckdb__first_by(expression, order_by, filter) -%}
    first({{ expression }} order by {{ order_by }}){% if filter %} filter (where {{ filter }}){% endif %}
{%- endmacro %}

{% macro postgres__first_by(expression, order_by, filter) -%}
    (array_agg({{ expression }} order by {{ order_by }}){% if filter %} filter (where {{ filter }}){% endif %})[1]
{%- endmacro %}

{#-
    The value of `expression` on the row with the smallest `key` (DuckDB's arg_min, which is
    faster there than an ordered aggregate). Neither engine says which of tied rows it takes, so
    `key` must decide the value: rows that tie on it must carry the same value. Otherwise use
    first_by with an order that ends in a unique key.
-#}
{% macro min_by(expression, key) -%}
    {{ return(adapter.dispatch('min_by')(expression, key)) }}
{%- endmacro %}

{% macro duckdb__min_by(expression, key) -%}
    arg_min({{ expression }}, {{ key }})
{%- endmacro %}

{% macro postgres__min_by(expression, key) -%}
    {{ first_by(expression, key) }}
{%- endmacro %}

{#- ---------------------------------------------------------------- lists -#}

{#- The distinct values of a text column, sorted bytewise (nulls last), as a list (an aggregate). -#}
{% macro sorted_distinct_list(column) -%}
    {{ return(adapter.dispatch('sorted_distinct_list')(column)) }}
{%- endmacro %}

{% macro duckdb__sorted_distinct_list(column) -%}
    list(distinct {{ column }} order by {{ column }})
{%- endmacro %}

{% macro postgres__sorted_distinct_list(column) -%}
    array_agg(distinct {{ bytewise(column) }} order by {{ bytewise(column) }})
{%- endmacro %}

{% macro empty_text_list() -%}
    {{ return(adapter.dispatch('empty_text_list')()) }}
{%- endmacro %}

{% macro duckdb__empty_text_list() -%}
    cast([] as varchar[])
{%- endmacro %}

{% macro postgres__empty_text_list() -%}
    cast(array[] as text[])
{%- endmacro %}

{#- The distinct values among `expressions` (SQL, text) that are not blank, as a list in no set order. -#}
{% macro distinct_non_blank_list(expressions) -%}
    {{ return(adapter.dispatch('distinct_non_blank_list')(expressions)) }}
{%- endmacro %}

{% macro duckdb__distinct_non_blank_list(expressions) -%}
    list_distinct(list_filter([{{ expressions | join(', ') }}], lambda e: nullif(trim(e), '') is not null))
{%- endmacro %}

{% macro postgres__distinct_non_blank_list(expressions) -%}
    array(
        select distinct value
        from unnest(array[{{ expressions | join(', ') }}]) as listed(value)
        where nullif(trim(value), '') is not null
    )
{%- endmacro %}

{#- A list of text with normalize_email applied to each item, the items it makes null left out. -#}
{% macro normalize_email_list(column) -%}
    {{ return(adapter.dispatch('normalize_email_list')(column)) }}
{%- endmacro %}

{% macro duckdb__normalize_email_list(column) -%}
    list_filter(
        list_transform({{ column }}, lambda e: {{ normalize_email('e') }}),
        lambda e: e is not null
    )
{%- endmacro %}

{% macro postgres__normalize_email_list(column) -%}
    case when {{ column }} is not null then array(
        select normalized
        from unnest({{ column }}) with ordinality as listed(email, position)
        cross join lateral (select {{ normalize_email('listed.email') }} as normalized) as normalizing
        where normalized is not null
        order by position
    ) end
{%- endmacro %}

{#- ---------------------------------------------------------------- JSON -#}

{#-
    The text at `path` (a list of object keys and 0-based array indexes) in a JSON value, as
    DuckDB's json_extract_string and Postgres' #>> give it: strings unquoted, numbers and booleans
    as written, JSON null as null.
-#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
    json_extract_string({{ column }}, '${% for step in path %}{% if step is number %}[{{ step }}]{% else %}.{{ step }}{% endif %}{% endfor %}')
{%- endmacro %}

{% macro postgres__json_text(column, path) -%}
    (cast({{ column }} as jsonb) #>> '{ {{- path | join(',') -}} }')
{%- endmacro %}

{% macro json_array_length(column) -%}
    {{ return(adapter.dispatch('json_array_length')(column)) }}
{%- endmacro %}

{% macro duckdb__json_array_length(column) -%}
    json_array_length({{ column }})
{%- endmacro %}

{#- DuckDB counts 0 for a JSON value that is not an array; jsonb_array_length would raise. -#}
{% macro postgres__json_array_length(column) -%}
    (case
        when {{ column }} is null then null
        when jsonb_typeof(cast({{ column }} as jsonb)) = 'array' then jsonb_array_length(cast({{ column }} as jsonb))
        else 0
    end)
{%- endmacro %}

{#- A JSON array of strings as a list of text, in order. -#}
{% macro json_text_list(column) -%}
    {{ return(adapter.dispatch('json_text_list')(column)) }}
{%- endmacro %}

{% macro duckdb__json_text_list(column) -%}
    cast(json_extract_string({{ column }}, '$[*]') as varchar[])
{%- endmacro %}

{% macro postgres__json_text_list(column) -%}
    case when {{ column }} is not null then array(
        select item #>> '{}'
        from jsonb_array_elements(cast({{ column }} as jsonb)) with ordinality as listed(item, position)
        order by position
    ) end
{%- endmacro %}

{#-
    A list of the text at `path` in each JSON item of a list (as made by osdi_primary_first),
    from its `start`th item (1-based) on, in order.
-#}
{% macro json_list_texts(column, path, start=1) -%}
    {{ return(adapter.dispatch('json_list_texts')(column, path, start)) }}
{%- endmacro %}

{% macro duckdb__json_list_texts(column, path, start) -%}
    list_transform({{ column }}[{{ start }}:], lambda e: {{ json_text('e', path) }})
{%- endmacro %}

{% macro postgres__json_list_texts(column, path, start) -%}
    case when {{ column }} is not null then array(
        select {{ json_text('listed.item', path) }}
        from unnest({{ column }}) with ordinality as listed(item, position)
        where position >= {{ start }}
        order by position
    ) end
{%- endmacro %}

{#-
    The JSON text of an object made of key/value rows (an aggregate): keys sorted bytewise, compact
    as DuckDB writes it (`{"a":true,"b":"x"}`), so both engines give the same text. `value` is
    JSON (json_of_scalar); keys must be distinct.
-#}
{% macro json_object_text_agg(key, value) -%}
    {{ return(adapter.dispatch('json_object_text_agg')(key, value)) }}
{%- endmacro %}

{% macro duckdb__json_object_text_agg(key, value) -%}
    cast(to_json(map_from_entries(list(({{ key }}, {{ value }}) order by {{ key }}))) as varchar)
{%- endmacro %}

{% macro postgres__json_object_text_agg(key, value) -%}
    '{' || string_agg(
        cast(to_jsonb(cast({{ key }} as text)) as text) || ':' || cast({{ value }} as text),
        ',' order by {{ bytewise(key) }}
    ) || '}'
{%- endmacro %}

{#- A SQL scalar (text, boolean, number) as a JSON value. -#}
{% macro json_of_scalar(expression) -%}
    {{ return(adapter.dispatch('json_of_scalar')(expression)) }}
{%- endmacro %}

{% macro duckdb__json_of_scalar(expression) -%}
    to_json({{ expression }})
{%- endmacro %}

{% macro postgres__json_of_scalar(expression) -%}
    to_jsonb({{ expression }})
{%- endmacro %}

{#- ---------------------------------------------------------------- text -#}

{#-
    Lower and upper case by Unicode's rules on both engines. Postgres' lower() follows the
    collation, and in a "C" database changes only ASCII letters (an email "JOSÉ@…" would not match
    "josé@…"), so Postgres is asked under var('postgres_unicode_collation'): "C.utf8" (libc's,
    present wherever the OS has the C.UTF-8 locale) maps case one letter to one letter as DuckDB
    does; tested on random text, the two differ only for ß, which DuckDB upper-cases to ẞ. ICU's
    "und-x-icu" also works, with full mappings (ß to SS, İ to i̇): a few more letters differ.
-#}
{% macro postgres_unicode_collation() -%}
    {{ return(var('postgres_unicode_collation', 'C.utf8')) }}
{%- endmacro %}

{% macro unicode_lower(expression) -%}
    {{ return(adapter.dispatch('unicode_lower')(expression)) }}
{%- endmacro %}

{% macro duckdb__unicode_lower(expression) -%}
    lower({{ expression }})
{%- endmacro %}

{% macro postgres__unicode_lower(expression) -%}
    lower(({{ expression }}) collate "{{ postgres_unicode_collation() }}")
{%- endmacro %}

{% macro unicode_upper(expression) -%}
    {{ return(adapter.dispatch('unicode_upper')(expression)) }}
{%- endmacro %}

{% macro duckdb__unicode_upper(expression) -%}
    upper({{ expression }})
{%- endmacro %}

{% macro postgres__unicode_upper(expression) -%}
    upper(({{ expression }}) collate "{{ postgres_unicode_collation() }}")
{%- endmacro %}

{#-
    Accents removed: canonical decomposition, then the combining marks dropped (DuckDB's
    strip_accents). Postgres' regular expressions have no \p{M}, so the combining-mark blocks are
    listed; a mark outside them (rare: Indic and Hebrew points) stays. Names are compared after
    normalize_name keeps only a-z, which drops those too, so matching is the same on both engines.
-#}
{% macro strip_accents(expression) -%}
    {{ return(adapter.dispatch('strip_accents')(expression)) }}
{%- endmacro %}

{% macro duckdb__strip_accents(expression) -%}
    strip_accents({{ expression }})
{%- endmacro %}

{% macro postgres__strip_accents(expression) -%}
    normalize(regexp_replace(normalize({{ expression }}, nfd),
        '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g'), nfc)
{%- endmacro %}

{#-
    A decimal(precision, scale) read from text, or null when the text is no number (DuckDB's
    try_cast). Postgres 15 has no try_cast: the text must look like a plain decimal number that
    fits first. DuckDB also reads exponents ("1e3"); vendors send amounts as "25" or "25.00".
-#}
{% macro try_cast_decimal(expression, precision, scale) -%}
    {{ return(adapter.dispatch('try_cast_decimal')(expression, precision, scale)) }}
{%- endmacro %}

{% macro duckdb__try_cast_decimal(expression, precision, scale) -%}
    try_cast({{ expression }} as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}

{% macro postgres__try_cast_decimal(expression, precision, scale) -%}
    case
        when trim({{ expression }}) ~ '^[-+]?([0-9]{1,{{ precision - scale }}}(\.[0-9]*)?|\.[0-9]+)$'
            then cast(trim({{ expression }}) as decimal({{ precision }}, {{ scale }}))
    end
{%- endmacro %}

{#-
    A wall-clock timestamp written "2024-05-01T18:00:00Z", "2024-05-01T18:00:00" or "2024-05-01"
    (a trailing Z that does not mean UTC: Action Network), as a timestamp without time zone.
-#}
{% macro parse_local_timestamp(expression) -%}
    {{ return(adapter.dispatch('parse_local_timestamp')(expression)) }}
{%- endmacro %}

{% macro duckdb__parse_local_timestamp(expression) -%}
    strptime({{ expression }}, ['%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d'])
{%- endmacro %}

{#- Postgres reads all three as a timestamp, ignoring the zone designator (as the vendor means). -#}
{% macro postgres__parse_local_timestamp(expression) -%}
    cast({{ expression }} as timestamp)
{%- endmacro %}
