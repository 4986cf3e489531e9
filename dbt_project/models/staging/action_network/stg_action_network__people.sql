with source as (
    select * from {{ source_or_empty('action_network', 'people') }}
),

contacts as (
    select
        source.*,
        -- each list as JSON objects, the primary one first
        {{ osdi_primary_first('email_addresses') }} as emails,
        {{ osdi_primary_first('phone_numbers') }} as phones,
        {{ osdi_primary_first('postal_addresses') }} as addresses
    from source
),

final as (
    select
        id as person_id,
        given_name,
        family_name,
        json_extract_string(emails[1], '$.address') as email,
        json_extract_string(emails[1], '$.status') as email_status,
        list_transform(emails[2:], lambda e: json_extract_string(e, '$.address')) as other_emails,
        json_extract_string(phones[1], '$.number') as phone,
        json_extract_string(phones[1], '$.status') as phone_status,
        json_extract_string(addresses[1], '$.postal_code') as postal_code,
        json_extract_string(addresses[1], '$.locality') as locality,
        json_extract_string(addresses[1], '$.region') as region,
        custom_fields,
        languages_spoken,
        created_date as created_at,
        modified_date as updated_at
    from contacts
)

select * from final
