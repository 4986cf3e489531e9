{#-
    One row per action any person took in any tool: an RSVP, attending an event, signing a
    petition, submitting a form, donating, writing to a target. Each carries the resolved
    person, what it was on (an event of the `events` mart where it was one) and when.
-#}
with actions as (
    select * from {{ ref('int_person_actions__unioned') }}
),

identities as (
    select * from {{ ref('int_person_records__resolved') }}
),

events as (
    select * from {{ ref('events') }}
),

final as (
    select
        md5(actions.source || ':' || actions.action_type || ':' || actions.source_action_id) as action_id,
        identities.person_id,
        actions.action_type,
        actions.source,
        actions.source_action_id,
        actions.source_person_id,
        actions.target_type,
        actions.source_target_id as target_id,
        coalesce(actions.target_title, events.title) as target_title,
        events.event_id,
        -- attending happens when the event does; other actions when the tool recorded them
        case
            when actions.action_type = 'attendance' then coalesce(events.start_at, actions.occurred_at)
            else actions.occurred_at
        end as occurred_at,
        actions.amount,
        actions.currency,
        actions.is_recurring,
        actions.utm_source,
        actions.utm_medium,
        actions.utm_campaign,
        actions.utm_term,
        actions.utm_content,
        actions.referrer_code,
        actions.referrer_url
    from actions
    left join identities
        on identities.source = actions.source
        and identities.source_person_id = actions.source_person_id
    left join events
        on actions.target_type = 'event'
        and events.source = actions.source
        and events.source_event_id = actions.source_target_id
        and events.timeslot_id is not distinct from actions.timeslot_id
)

select * from final
