with source as (
    select * from {{ source_or_empty('controlshift', 'users') }}
),

final as (
    select
        'users:' || cast(id as varchar) as person_id,
        cast(id as varchar) as user_id,
        cast(member_id as varchar) as member_id,
        first_name as given_name,
        last_name as family_name,
        email,
        phone_number as phone,
        postcode as postal_code,
        cast(join_organisation as boolean) as join_organisation,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
