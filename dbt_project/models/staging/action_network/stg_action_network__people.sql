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
        {{ json_text('emails[1]', ['address']) }} as email,
        {{ json_text('emails[1]', ['status']) }} as email_status,
        {{ json_list_texts('emails', ['address'], start=2) }} as other_emails,
        {{ json_text('phones[1]', ['number']) }} as phone,
        {{ json_text('phones[1]', ['status']) }} as phone_status,
        {{ json_text('addresses[1]', ['postal_code']) }} as postal_code,
        {{ json_text('addresses[1]', ['locality']) }} as locality,
        {{ json_text('addresses[1]', ['region']) }} as region,
        custom_fields,
        languages_spoken,
        created_date as created_at,
        modified_date as updated_at
    from contacts
)

select * from final
