with source as (
    select * from {{ source_or_empty('mobilize', 'organizations') }}
),

final as (
    select
        cast(id as varchar) as organization_id,
        name as organization_name,
        slug,
        is_coordinated,
        is_independent,
        race_type,
        nullif(state, '') as state,
        nullif(event_feed_url, '') as event_feed_url,
        cast(promoted_by_organization_id as varchar) as promoted_by_organization_id,
        {{ from_unix_seconds('created_date') }} as created_at,
        {{ from_unix_seconds('modified_date') }} as updated_at
    from source
)

select * from final
