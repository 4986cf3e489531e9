{#-
    One row per RSVP from every source with attendances, keyed to its source person and occurrence.
    Each source selects the columns it has; the union matches them by name.
-#}
with mobilize_attendances as (
    select * from {{ ref('int_mobilize_attendances__linked') }}
),

action_network_attendances as (
    select * from {{ ref('stg_action_network__attendances') }}
),

controlshift_attendees as (
    select * from {{ ref('stg_controlshift__attendees') }}
),

mobilize as (
    select
        'mobilize' as source,
        attendance_id as source_attendance_id,
        person_id as source_person_id,
        event_id as source_event_id,
        timeslot_id,
        -- status: REGISTERED, CONFIRMED or CANCELLED; attended: whether the person came
        case
            when status = 'CANCELLED' then 'cancelled'
            when attended then 'attended'
            when not attended then 'no_show'
            else 'accepted'
        end as status,
        status as source_status,
        attended,
        created_at as rsvp_at,
        updated_at,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        referrer_url
    from mobilize_attendances
),

action_network as (
    select
        'action_network' as source,
        attendance_id as source_attendance_id,
        person_id as source_person_id,
        event_id as source_event_id,
        -- OSDI status (accepted, declined, tentative, needs action) and the attended flag
        case
            when attended then 'attended'
            when status = 'declined' then 'cancelled'
            when not attended then 'no_show'
            else 'accepted'
        end as status,
        status as source_status,
        attended,
        created_at as rsvp_at,
        updated_at,
        referrer_source as utm_source,
        referrer_website as referrer_url
    from action_network_attendances
),

controlshift as (
    select
        'controlshift' as source,
        attendee_id as source_attendance_id,
        person_id as source_person_id,
        event_id as source_event_id,
        -- attending_status: attending, confirmed (said they will come), not_attending, and, once
        -- the host records it, attended or no_show
        case attending_status
            when 'attended' then 'attended'
            when 'no_show' then 'no_show'
            when 'not_attending' then 'cancelled'
            else 'accepted'
        end as status,
        attending_status as source_status,
        case attending_status when 'attended' then true when 'no_show' then false end as attended,
        created_at as rsvp_at,
        updated_at,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content
    from controlshift_attendees
),

-- by name: a column a source does not have (a timeslot, most UTM fields) is null in its rows
final as (
    select * from mobilize
    union all by name
    select * from action_network
    union all by name
    select * from controlshift
)

select * from final
