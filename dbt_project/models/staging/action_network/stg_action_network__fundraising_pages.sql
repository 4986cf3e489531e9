with source as (
    select * from {{ source_or_empty('action_network', 'fundraising_pages') }}
),

final as (
    select
        id as fundraising_page_id,
        title,
        name as admin_name,
        nullif(browser_url, '') as browser_url,
        coalesce(action_network_hidden, false) as is_hidden,
        upper(trim(currency)) as currency,
        -- Action Network writes amounts as strings ("0.00")
        {{ try_cast_decimal("nullif(trim(total_amount), '')", 18, 2) }} as total_amount,
        total_donations,
        created_date as created_at,
        modified_date as updated_at
    from source
)

select * from final
