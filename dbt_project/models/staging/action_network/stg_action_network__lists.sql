with source as (
    select * from {{ source_or_empty('action_network', 'lists') }}
),

final as (
    select
        id as list_id,
        title,
        name,
        description as list_type,
        nullif(browser_url, '') as browser_url,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
