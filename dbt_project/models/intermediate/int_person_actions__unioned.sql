{#-
    One row per thing a person did, from every source: RSVPs, attendances, petition
    signatures. `people` counts them; a source adds its actions as one more CTE, united by name.
-#}
with attendances as (
    select * from {{ ref('int_attendances__unioned') }}
),

controlshift_signatures as (
    select * from {{ ref('stg_controlshift__signatures') }}
),

rsvps as (
    select
        source,
        source_person_id,
        'rsvp' as action_type,
        source || ':' || source_event_id as target_key,
        rsvp_at as action_at
    from attendances
    -- a cancelled sign-up is not an RSVP
    where status is distinct from 'cancelled'
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

signatures as (
    select
        'controlshift' as source,
        person_id as source_person_id,
        'signature' as action_type,
        'controlshift:petition:' || petition_id as target_key,
        created_at as action_at
    from controlshift_signatures
    -- a signature deleted in ControlShift (deleted_at set) is no longer a signature
    where deleted_at is null
),

final as (
    select * from rsvps
    union all by name
    select * from attended
    union all by name
    select * from signatures
)

select * from final
