with source as (
    select * from {{ source_or_empty('action_network', 'event_campaigns') }}
),

final as (
    select
        id as event_campaign_id,
        title,
        description,
        nullif(browser_url, '') as browser_url,
        total_events,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
