with source as (
    select * from {{ source_or_empty('action_network', 'signatures') }}
),

final as (
    select
        id as signature_id,
        petition_id,
        person_id,
        nullif(trim(comments), '') as comments,
        {{ action_network_referrer_columns() }},
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
