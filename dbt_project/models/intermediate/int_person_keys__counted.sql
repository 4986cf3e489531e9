{#-
    Every identifying value of every person record, with how many records share it.

    A value is one of a record's emails, its E.164 phone, or its given name (nicknames folded),
    family name and postal code together. A value held by more records than
    var('identity_hub_key_max_records') is a hub key (`none@none.com`, a placeholder phone, an
    office address): it says nothing about who a record is, so identity resolution does not link
    on it, and `identity_hub_keys` reports it. Hubs also make the match graph's components huge.
-#}
with records as (
    select * from {{ ref('int_person_records__normalized') }}
),

emails as (
    select record_key, given_name_key, email_normalized as key_value
    from records
    where email_normalized is not null
    union
    select record_key, given_name_key, unnest(other_emails_normalized)
    from records
),

keys as (
    select record_key, given_name_key, 'email' as rule, key_value
    from emails
    union all
    select record_key, given_name_key, 'phone', phone_e164
    from records
    where phone_e164 is not null
    union all
    select record_key, given_name_key, 'name_postal',
        given_name_key || '|' || family_name_normalized || '|' || postal_code_normalized
    from records
    where given_name_key is not null and family_name_normalized is not null and postal_code_normalized is not null
),

final as (
    select
        record_key,
        given_name_key,
        rule,
        key_value,
        count(*) over (partition by rule, key_value) as key_record_count,
        count(*) over (partition by rule, key_value) > {{ identity_hub_key_max_records() }} as is_hub_key
    from keys
)

select * from final
