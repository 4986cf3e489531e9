with source as (
    select * from {{ source_or_empty('controlshift', 'unsubscribes') }}
),

final as (
    select
        cast(id as varchar) as unsubscribe_id,
        cast(member_id as varchar) as member_id,
        email,
        cast(unsubscribe_organisation as boolean) as unsubscribe_organisation,
        cast(unsubscribe_object as boolean) as unsubscribe_object,
        unsubscribable_type,
        cast(unsubscribable_id as varchar) as unsubscribable_id,
        {{ from_utc_timestamp('created_at') }} as created_at
    from source
)

select * from final
