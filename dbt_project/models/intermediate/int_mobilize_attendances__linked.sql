{#-
    Mobilize RSVPs with the event and timeslot each belongs to. An independent organization
    reading a coordinated organization's RSVP gets no event id and no timeslot id, only the
    event's type and the timeslot's dates (github.com/mobilizeamerica/api, "Attendance
    object"): such an RSVP is linked to the one timeslot of a coordinated organization's event
    with that type and those dates, and left unlinked when there is no such timeslot or more
    than one.
-#}
with attendances as (
    select * from {{ ref('stg_mobilize__attendances') }}
),

events as (
    select * from {{ ref('stg_mobilize__events') }}
),

timeslots as (
    select * from {{ ref('stg_mobilize__event_timeslots') }}
),

organizations as (
    select * from {{ ref('stg_mobilize__organizations') }}
),

coordinated_timeslots as (
    select
        events.event_type,
        timeslots.start_at,
        timeslots.end_at,
        min(timeslots.event_id) as event_id,
        min(timeslots.timeslot_id) as timeslot_id,
        count(*) as candidates
    from timeslots
    inner join events using (event_id)
    inner join organizations on organizations.organization_id = events.sponsor_organization_id
    where organizations.is_coordinated
    group by events.event_type, timeslots.start_at, timeslots.end_at
),

final as (
    select
        -- every column of stg_mobilize__attendances, the event and timeslot as linked
        attendances.attendance_id,
        attendances.person_id,
        attendances.event_type,
        attendances.timeslot_start_at,
        attendances.timeslot_end_at,
        attendances.listed_by_organization_id,
        attendances.status,
        attendances.sponsor_organization_id,
        attendances.attended,
        attendances.custom_fields_shared,
        attendances.person_given_name,
        attendances.person_family_name,
        attendances.person_email,
        attendances.person_phone,
        attendances.person_postal_code,
        attendances.person_created_at,
        attendances.person_updated_at,
        attendances.utm_source,
        attendances.utm_medium,
        attendances.utm_campaign,
        attendances.utm_term,
        attendances.utm_content,
        attendances.referrer_url,
        attendances.created_at,
        attendances.updated_at,
        coalesce(attendances.event_id, coordinated_timeslots.event_id) as event_id,
        coalesce(attendances.timeslot_id, coordinated_timeslots.timeslot_id) as timeslot_id
    from attendances
    left join coordinated_timeslots
        on attendances.event_id is null
        and coordinated_timeslots.candidates = 1
        and coordinated_timeslots.event_type = attendances.event_type
        and coordinated_timeslots.start_at = attendances.timeslot_start_at
        and coordinated_timeslots.end_at = attendances.timeslot_end_at
)

select * from final
