{#-
    The identifying values too common to say who anyone is: one row per hub key, i.e. an email,
    phone or name+postcode shared by more person records than var('identity_hub_key_max_records').
    Identity resolution does not link on them; look here when people you expected to be merged
    are not, or to clean placeholders (`none@none.com`, `+15555555555`) out of a source.
-#}
with person_keys as (
    select * from {{ ref('int_person_keys__counted') }}
),

records as (
    select * from {{ ref('int_person_records__normalized') }}
),

final as (
    select
        person_keys.rule,
        person_keys.key_value,
        count(*) as record_count,
        {{ sorted_distinct_list('records.source') }} as sources,
        {{ identity_hub_key_max_records() }} as max_records
    from person_keys
    inner join records using (record_key)
    where person_keys.is_hub_key
    group by person_keys.rule, person_keys.key_value
)

select * from final
