with source as (
    select * from {{ source_or_empty('action_network', 'submissions') }}
),

final as (
    select
        id as submission_id,
        form_id,
        person_id,
        {{ action_network_referrer_columns() }},
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
