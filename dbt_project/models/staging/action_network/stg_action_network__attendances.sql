with source as (
    select * from {{ source_or_empty('action_network', 'attendances') }}
),

final as (
    select
        id as attendance_id,
        event_id,
        person_id,
        status,
        attended,
        -- Action Network writes "none" where there is no referrer
        nullif(action_network_referrer_data__source, 'none') as referrer_source,
        nullif(action_network_referrer_data__referrer, 'none') as referrer_code,
        nullif(action_network_referrer_data__website, 'none') as referrer_website,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
