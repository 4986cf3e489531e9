with source as (
    select * from {{ source_or_empty('controlshift', 'users') }}
),

final as (
    select
        {{ controlshift_contact_columns('users') }},
        cast(id as varchar) as user_id,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
