{#-
    Identity resolution: which source records are the same real person.

    Two records are linked when they share
      1. a normalized email and a compatible given name: a household email shared by
         people with different names links nobody; a record without a name (ControlShift
         members hold only an email) joins the email's one named person, or the other
         nameless records when nobody named has it, and stays apart when it is ambiguous;
      2. an E.164 phone and a given name (nicknames folded), or
      3. a given name (nicknames folded), a family name and a postal code.
    People are the connected components of those links. A person's id is a hash of the
    smallest record key in the component, so the same input gives the same ids.
-#}
with records as (
    select * from {{ ref('int_person_records__normalized') }}
),

emails as (
    select record_key, given_name_key, email_normalized as email
    from records
    where email_normalized is not null
    union
    select record_key, given_name_key, unnest(other_emails_normalized)
    from records
),

email_names as (
    select email, count(distinct given_name_key) as named, min(given_name_key) as only_name
    from emails
    group by email
),

match_keys as (
    select
        emails.record_key,
        'email' as rule,
        emails.email || '|' || coalesce(emails.given_name_key, email_names.only_name, '') as match_key
    from emails
    inner join email_names using (email)
    where emails.given_name_key is not null or email_names.named <= 1
    union all
    select record_key, 'phone', phone_e164 || '|' || given_name_key
    from records
    where phone_e164 is not null and given_name_key is not null
    union all
    select record_key, 'name_postal', given_name_key || '|' || family_name_normalized || '|' || postal_code_normalized
    from records
    where given_name_key is not null and family_name_normalized is not null and postal_code_normalized is not null
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

components as (
    with recursive reach(record_key, reached_key) as (
        select record_key, record_key from records
        union
        select reach.record_key, edges.to_key
        from reach
        inner join edges on edges.from_key = reach.reached_key
    )
    select record_key, min(reached_key) as component_key
    from reach
    group by record_key
),

rules as (
    select key, min(rule) as matched_by
    from (
        select from_key as key, rule from links
        union all
        select to_key, rule from links
    )
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
