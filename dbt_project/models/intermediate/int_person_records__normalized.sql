with records as (
    select * from {{ ref('int_person_records__unioned') }}
),

name_groups as (
    select * from {{ ref('given_name_groups') }}
),

normalized as (
    select
        records.*,
        {{ normalize_email('records.email') }} as email_normalized,
        {{ normalize_email_list('records.other_emails') }} as other_emails_normalized,
        {{ normalize_phone('records.phone') }} as phone_e164,
        {{ normalize_name('records.given_name') }} as given_name_normalized,
        {{ normalize_name('records.family_name') }} as family_name_normalized,
        nullif(left(regexp_replace(records.postal_code, '[^0-9A-Za-z]', '', 'g'), 5), '') as postal_code_normalized
    from records
),

final as (
    select
        normalized.*,
        -- nicknames fold to one group ("Bob", "Rob" and "Robert" compare equal)
        coalesce(name_groups.name_group, normalized.given_name_normalized) as given_name_key,
        normalized.source || ':' || normalized.source_person_id as record_key
    from normalized
    left join name_groups on name_groups.given_name = normalized.given_name_normalized
)

select * from final
