{#-
    One row per RSVP from every source with attendances, keyed to its source person and occurrence.
    Each source selects the columns it has; the union matches them by name.
-#}
with mobilize_attendances as (
    select * from {{ ref('int_mobilize_attendances__linked') }}
),

mobilize_custom_fields as (
    select * from {{ ref('stg_mobilize__attendance_custom_fields') }}
),

action_network_attendances as (
    select * from {{ ref('stg_action_network__attendances') }}
),

controlshift_attendees as (
    select * from {{ ref('stg_controlshift__attendees') }}
),

-- an answer's key is its field's name, or, when two answers share a name (or it has none), the
-- field id beside it, so that no answer is lost
mobilize_custom_field_keys as (
    select
        attendance_id,
        case
            when custom_field_name is null then custom_field_id
            when count(*) over (partition by attendance_id, custom_field_name) > 1
                then custom_field_name || ' (' || custom_field_id || ')'
            else custom_field_name
        end as answer_key,
        -- true/false for a yes/no field, a string for a text field
        coalesce({{ json_of_scalar('boolean_value') }}, {{ json_of_scalar('text_value') }}) as answer
    from mobilize_custom_fields
),

-- an RSVP's answers as one JSON object, keys sorted
mobilize_custom_field_objects as (
    select
        attendance_id,
        {{ json_object_text_agg('answer_key', 'answer') }} as custom_fields
    from mobilize_custom_field_keys
    group by attendance_id
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
        referrer_url,
        -- {} when Mobilize sent no answers; null when it withholds them (an event the
        -- organization does not own)
        case
            when mobilize_attendances.custom_fields_shared
                then coalesce(mobilize_custom_field_objects.custom_fields, '{}')
        end as custom_fields
    from mobilize_attendances
    left join mobilize_custom_field_objects using (attendance_id)
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

-- by name: a column a source does not have (a timeslot, most UTM fields, custom fields) is null in its rows
final as (
    {{ union_by_name(['mobilize', 'action_network', 'controlshift'], {
        'source': 'text',
        'source_attendance_id': 'text',
        'source_person_id': 'text',
        'source_event_id': 'text',
        'timeslot_id': 'text',
        'status': 'text',
        'source_status': 'text',
        'attended': 'boolean',
        'rsvp_at': 'timestamptz',
        'updated_at': 'timestamptz',
        'utm_source': 'text',
        'utm_medium': 'text',
        'utm_campaign': 'text',
        'utm_term': 'text',
        'utm_content': 'text',
        'referrer_url': 'text',
        'custom_fields': 'text',
    }) }}
)

select * from final
