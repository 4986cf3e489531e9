with source as (
    select * from {{ source_or_empty('action_network', 'advocacy_campaigns') }}
),

final as (
    select
        id as advocacy_campaign_id,
        title,
        name as admin_name,
        nullif(browser_url, '') as browser_url,
        coalesce(action_network_hidden, false) as is_hidden,
        type as outreach_type,
        targets as targets_description,
        total_outreaches,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
