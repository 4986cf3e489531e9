with source as (
    select * from {{ source_or_empty('mobilize', 'deleted_events') }}
),

final as (
    select
        cast(id as varchar) as event_id,
        {{ from_unix_seconds('deleted_date') }} as deleted_at
    from source
)

select * from final
