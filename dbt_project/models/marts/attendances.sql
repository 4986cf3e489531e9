with attendances as (
    select * from {{ ref('int_attendances__unioned') }}
),

identities as (
    select * from {{ ref('int_person_records__resolved') }}
),

events as (
    select * from {{ ref('events') }}
),

final as (
    select
        md5(attendances.source || ':' || attendances.source_attendance_id) as attendance_id,
        attendances.source,
        attendances.source_attendance_id,
        identities.person_id,
        events.event_id,
        attendances.status,
        attendances.source_status,
        attendances.attended,
        attendances.rsvp_at,
        attendances.updated_at,
        attendances.utm_source,
        attendances.utm_medium,
        attendances.utm_campaign,
        attendances.utm_term,
        attendances.utm_content,
        attendances.referrer_url,
        attendances.custom_fields
    from attendances
    left join identities
        on identities.source = attendances.source
        and identities.source_person_id = attendances.source_person_id
    left join events
        on events.source = attendances.source
        and events.source_event_id = attendances.source_event_id
        and events.timeslot_id is not distinct from attendances.timeslot_id
)

select * from final
