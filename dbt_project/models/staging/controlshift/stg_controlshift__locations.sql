with source as (
    select * from {{ source_or_empty('controlshift', 'locations') }}
),

final as (
    select
        cast(id as varchar) as location_id,
        nullif(trim(concat_ws(' ', street_number, street)), '') as address_line_1,
        locality,
        region,
        postal_code,
        country,
        cast(latitude as double precision) as latitude,
        cast(longitude as double precision) as longitude
    from source
)

select * from final
