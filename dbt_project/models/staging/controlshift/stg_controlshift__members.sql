with source as (
    select * from {{ source_or_empty('controlshift', 'members') }}
),

final as (
    select
        'members:' || cast(id as varchar) as person_id,
        cast(id as varchar) as member_id,
        email,
        {{ from_utc_timestamp('created_at') }} as created_at,
        {{ from_utc_timestamp('updated_at') }} as updated_at
    from source
)

select * from final
