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
    (case {{ rule }}{% for name in var('identity_rules') %} when '{{ name | replace("'", "''") }}' then {{ loop.index }}{% endfor %} end)
{%- endmacro %}

{#-
    The connected components of an undirected graph: one row (record_key, component_key) per
    record of `records` (a CTE with record_key), its component_key the smallest record key
    (bytewise) of its component. `edges` (from_key, to_key) must hold both directions of a link.
-#}
{% macro connected_components(records, edges) -%}
    {{ return(adapter.dispatch('connected_components')(records, edges)) }}
{%- endmacro %}

{#-
    Every record starts as its own label; each round, a record whose label just fell passes it to
    its neighbours and to the records that point at it (labelled with its key), which keep it when
    smaller. Following pointers shortcuts long chains: 20,000 records each linked to the next (a
    hostile export) take 83 rounds instead of 20,000. USING KEY keeps one row per record (its latest
    label), so state stays the size of `records` however large a component is.
-#}
{% macro duckdb__connected_components(records, edges) -%}
    with recursive labels(record_key, component_key) using key (record_key) as (
        select record_key, record_key from {{ records }}
        union
        select candidates.record_key, min(candidates.component_key)
        from (
            select {{ edges }}.to_key as record_key, labels.component_key
            from labels
            inner join {{ edges }} on {{ edges }}.from_key = labels.record_key
            union all
            select followers.record_key, labels.component_key
            from labels
            inner join recurring.labels as followers on followers.component_key = labels.record_key
        ) as candidates
        inner join recurring.labels as current_labels using (record_key)
        group by candidates.record_key, current_labels.component_key
        having min(candidates.component_key) < current_labels.component_key
    )
    select record_key, component_key from labels
{%- endmacro %}

{#-
    Postgres' recursive CTEs keep every row they make (no USING KEY, and the recursive term may not
    aggregate), so this is plain reachability: each record's key travels along the links, but only
    to larger keys, and a record's component is the smallest key that reached it. The component's
    smallest key reaches every member (all keys on its way are larger), so the labels are DuckDB's.
    Cost: a record collects every smaller key that reaches it through larger ones, so rows grow
    with the square of a component's size in the worst case (a chain in key order: 20,000 linked
    records would make 200 million rows). The links are stars per shared value, each around its
    smallest key, and hub keys (var identity_hub_key_max_records) never link, so real components
    stay small; a merge of thousands of records into one person is a case for DuckDB.
-#}
{% macro postgres__connected_components(records, edges) -%}
    with recursive reached(record_key, component_key) as (
        select record_key, record_key from {{ records }}
        union
        select {{ edges }}.to_key, reached.component_key
        from reached
        inner join {{ edges }} on {{ edges }}.from_key = reached.record_key
        where {{ bytewise('reached.component_key') }} < {{ bytewise(edges ~ '.to_key') }}
    )
    select record_key, min({{ bytewise('component_key') }}) as component_key
    from reached
    group by record_key
{%- endmacro %}
