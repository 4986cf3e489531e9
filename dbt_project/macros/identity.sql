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
    Postgres' recursive CTEs keep every row they make and see only the last round's (no USING KEY,
    no aggregate in the recursive term), so DuckDB's formulation cannot be written there. Instead:

    1. `rounds` rounds of label propagation, each a plain query over the previous round: a record
       takes the smallest of its label, its neighbours' labels and its label's label (pointer
       jumping, which doubles how far a label travels per round: 16 rounds settle a 65,536-record
       chain in key order, a star in one).
    2. Whatever has not settled is finished on the graph of the labels: one node per label, linked
       where records with different labels are, by reachability in a recursive CTE (each label
       passed only to larger labels; a label's component is the smallest label that reached it).
       Settled data leaves no links here and this is one empty round.

    Every label is a record of the record's own component, and the component's smallest key never
    changes label, so the labels are DuckDB's. Cost: `rounds` joins of the links with the records,
    then step 2 on what is left; step 2 is quadratic in the size of an unsettled label component,
    so only a graph that defeats 16 rounds of doubling (none that sources produce) makes it slow.
    Measured (Postgres 15, JIT off as the model sets it): 20,000 records chained in key order
    3.7 s, a star of 20,000 4.1 s, 200,000 chained in random order 48 s; reachability alone took
    33 s for 2,000 chained in key order and did not finish 20,000 in five minutes.
-#}
{% macro postgres__connected_components(records, edges, rounds=16) -%}
    with recursive round_0 as (
        select record_key, {{ bytewise('record_key') }} as component_key from {{ records }}
    ),
    {%- for round in range(1, rounds + 1) %}
    {%- set previous = 'round_' ~ (round - 1) %}
    round_{{ round }} as (
        select
            labels.record_key,
            least(labels.component_key, neighbours.component_key, jumped.component_key) as component_key
        from {{ previous }} as labels
        left join (
            select {{ edges }}.to_key as record_key, min(linked.component_key) as component_key
            from {{ previous }} as linked
            inner join {{ edges }} on {{ edges }}.from_key = linked.record_key
            group by {{ edges }}.to_key
        ) as neighbours on neighbours.record_key = labels.record_key
        left join {{ previous }} as jumped on jumped.record_key = labels.component_key
    ),
    {%- endfor %}
    settled as (
        select record_key, component_key from round_{{ rounds }}
    ),
    label_links as (
        select distinct from_labels.component_key as from_key, to_labels.component_key as to_key
        from {{ edges }}
        inner join settled as from_labels on from_labels.record_key = {{ edges }}.from_key
        inner join settled as to_labels on to_labels.record_key = {{ edges }}.to_key
        where from_labels.component_key <> to_labels.component_key
    ),
    reached(label, component_key) as (
        select distinct component_key, component_key from settled
        union
        select label_links.to_key, reached.component_key
        from reached
        inner join label_links on label_links.from_key = reached.label
        where reached.component_key < label_links.to_key
    ),
    label_components as (
        select label, min(component_key) as component_key
        from reached
        group by label
    )
    select settled.record_key, label_components.component_key
    from settled
    inner join label_components on label_components.label = settled.component_key
{%- endmacro %}
