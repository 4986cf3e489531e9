with source as (
    select * from {{ source_or_empty('action_network', 'taggings') }}
),

final as (
    select
        id as tagging_id,
        tag_id,
        person_id,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
