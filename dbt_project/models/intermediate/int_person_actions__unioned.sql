{#-
    One row per thing a person did, from every source: RSVPs, attendances, petition
    signatures. `people` counts them; a source adds its actions as one more CTE.
-#}
with attendances as (
    select * from {{ ref('int_attendances__unioned') }}
),

rsvps as (
    select
        source,
        source_person_id,
        'rsvp' as action_type,
        source || ':' || source_event_id as target_key,
        rsvp_at as action_at
    from attendances
),

attended as (
    select
        source,
        source_person_id,
        'attended' as action_type,
        source || ':' || source_event_id as target_key,
        coalesce(updated_at, rsvp_at) as action_at
    from attendances
    where attended
),

final as (
    select * from rsvps
    union all
    select * from attended
)

select * from final
