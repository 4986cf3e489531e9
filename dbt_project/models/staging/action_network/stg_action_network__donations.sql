with source as (
    select * from {{ source_or_empty('action_network', 'donations') }}
),

final as (
    select
        id as donation_id,
        fundraising_page_id,
        person_id,
        -- Action Network writes amounts as strings: "25", "25.00", "1000.50"
        {{ try_cast_decimal("nullif(trim(amount), '')", 18, 2) }} as amount,
        upper(trim(currency)) as currency,
        -- each charge of a recurring donation is its own donation
        coalesce(action_network_recurrence__recurring, false) as is_recurring,
        action_network_recurrence__period as recurrence_period,
        recipients,
        payment__method as payment_method,
        {{ action_network_referrer_columns() }},
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
