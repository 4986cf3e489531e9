with source as (
    select * from {{ source_or_empty('action_network', 'petitions') }}
),

final as (
    select
        id as petition_id,
        title,
        name as admin_name,
        nullif(browser_url, '') as browser_url,
        coalesce(action_network_hidden, false) as is_hidden,
        petition_text,
        target as targets,
        total_signatures,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
