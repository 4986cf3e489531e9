with source as (
    select * from {{ source_or_empty('action_network', 'forms') }}
),

final as (
    select
        id as form_id,
        title,
        name as admin_name,
        nullif(browser_url, '') as browser_url,
        coalesce(action_network_hidden, false) as is_hidden,
        total_submissions,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
