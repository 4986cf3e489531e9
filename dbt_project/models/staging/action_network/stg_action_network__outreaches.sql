with source as (
    select * from {{ source_or_empty('action_network', 'outreaches') }}
),

final as (
    select
        id as outreach_id,
        advocacy_campaign_id,
        person_id,
        type as outreach_type,
        -- an outreach that reached no target (the letter form's first step only) has none
        coalesce({{ json_array_length('targets') }}, 0) as target_count,
        targets,
        {{ action_network_referrer_columns() }},
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
