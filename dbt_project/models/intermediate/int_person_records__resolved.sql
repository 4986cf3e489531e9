{#-
    Identity resolution: which source records are the same real person.

    Two records are linked when they share
      - a normalized email and a compatible given name: a household email shared by
        people with different names links nobody; a record without a name (ControlShift
        members hold only an email) joins the email's one named person, or the other
        nameless records when nobody named has it, and stays apart when it is ambiguous;
      - a given name (nicknames folded), a family name and a postal code; or
      - an E.164 phone and a given name (nicknames folded).
    A record linked by several rules is `matched_by` the strongest, in the order of
    var('identity_rules'). A hub key (a value shared by more records than
    var('identity_hub_key_max_records'), see int_person_keys__counted) links nobody. People are
    the connected components of the links, found by propagating the smallest record key along
    them (on DuckDB memory grows with records and links, never with the paths through a
    component; Postgres' formulation and its limits are in macros/identity.sql). A person's id
    is a hash of the smallest record key (bytewise) in the component, so the same input gives
    the same ids on both engines.
-#}
{#- Postgres: the rounds of macros/identity.sql compound its row estimates past any real size, and
    its JIT would then spend seconds compiling a plan that runs in milliseconds; set local lasts
    for this model's transaction only. -#}
{%- if target.type == 'postgres' %}
{{ config(pre_hook="set local jit = off") }}
{%- endif %}
with records as (
    select * from {{ ref('int_person_records__normalized') }}
),

identity_keys as (
    select * from {{ ref('int_person_keys__counted') }}
    where not is_hub_key
),

email_names as (
    select key_value, count(distinct given_name_key) as named, min(given_name_key) as only_name
    from identity_keys
    where rule = 'email'
    group by key_value
),

match_keys as (
    select
        identity_keys.record_key,
        identity_keys.rule,
        identity_keys.key_value || '|' || coalesce(identity_keys.given_name_key, email_names.only_name, '') as match_key
    from identity_keys
    inner join email_names using (key_value)
    where identity_keys.rule = 'email'
        and (identity_keys.given_name_key is not null or email_names.named <= 1)
    union all
    select record_key, rule, key_value || '|' || given_name_key
    from identity_keys
    where rule = 'phone' and given_name_key is not null
    union all
    select record_key, rule, key_value
    from identity_keys
    where rule = 'name_postal'
),

-- each record linked to the first record of every block it shares: a star per block
links as (
    select distinct
        match_keys.record_key as from_key,
        anchors.anchor_key as to_key,
        match_keys.rule
    from match_keys
    inner join (
        select rule, match_key, min(record_key) as anchor_key
        from match_keys
        group by rule, match_key
        having count(*) > 1
    ) as anchors using (rule, match_key)
    where match_keys.record_key <> anchors.anchor_key
),

edges as (
    select from_key, to_key from links
    union
    select to_key, from_key from links
),

-- the connected components of the links (macros/identity.sql): each record's component is its
-- smallest record key, found by the same labels on both engines
components as (
    {{ connected_components('records', 'edges') }}
),

-- the strongest rule that linked each record, in the order of var('identity_rules')
rules as (
    -- (a rule's rank names the rule: no ties between different values)
    select key, {{ min_by('rule', identity_rule_rank('rule')) }} as matched_by
    from (
        select from_key as key, rule from links
        union all
        select to_key, rule from links
    ) as linked
    group by key
),

final as (
    select
        records.source,
        records.source_person_id,
        records.record_key,
        md5('person:' || components.component_key) as person_id,
        coalesce(rules.matched_by, 'unmatched') as matched_by
    from records
    inner join components using (record_key)
    left join rules on rules.key = records.record_key
)

select * from final
