with source as (
    select * from {{ source_or_empty('mobilize', 'incomplete_events') }}
),

final as (
    select
        cast(id as varchar) as event_id,
        row_key,
        _dlt_load_id as load_id
    from source
)

select * from final
