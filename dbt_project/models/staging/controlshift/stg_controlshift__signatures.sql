with source as (
    select * from {{ source_or_empty('controlshift', 'signatures') }}
),

final as (
    select
        'signatures:' || cast(id as varchar) as person_id,
        cast(id as varchar) as signature_id,
        cast(petition_id as varchar) as petition_id,
        cast(member_id as varchar) as member_id,
        first_name as given_name,
        last_name as family_name,
        email,
        phone_number as phone,
        postcode as postal_code,
        cast(join_organisation as boolean) as join_organisation,
        json_extract_string(utm_params, '$.utm_source') as utm_source,
        json_extract_string(utm_params, '$.utm_medium') as utm_medium,
        json_extract_string(utm_params, '$.utm_campaign') as utm_campaign,
        {{ from_utc_timestamp('unsubscribe_at') }} as unsubscribed_at,
        {{ from_utc_timestamp('deleted_at') }} as deleted_at,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
