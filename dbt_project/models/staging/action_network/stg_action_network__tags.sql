with source as (
    select * from {{ source_or_empty('action_network', 'tags') }}
),

final as (
    select
        id as tag_id,
        name as tag_name,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
