with source as (
    select * from {{ source_or_empty('controlshift', 'petitions') }}
),

final as (
    select
        cast(id as varchar) as petition_id,
        title,
        slug,
        admin_status,
        cast(launched as boolean) as is_launched,
        cast(user_id as varchar) as user_id,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
