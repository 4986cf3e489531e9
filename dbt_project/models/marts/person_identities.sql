with resolved as (
    select * from {{ ref('int_person_records__resolved') }}
),

records as (
    select * from {{ ref('int_person_records__normalized') }}
),

final as (
    select
        resolved.person_id,
        resolved.source,
        resolved.source_person_id,
        records.email_normalized as email,
        records.phone_e164 as phone,
        resolved.matched_by
    from resolved
    inner join records using (record_key)
)

select * from final
