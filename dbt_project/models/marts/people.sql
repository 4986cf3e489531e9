{#-
    One row per real person. Each field is the most recently updated non-empty value among
    the person's source records (a tie goes to the smallest record key, so two builds of the
    same data agree; a record without an update time counts as oldest), except email consent:
    subscribed only when every tool that records it says so (email and mobile messages alike).
-#}
with resolved as (
    select * from {{ ref('int_person_records__resolved') }}
),

records as (
    select * from {{ ref('int_person_records__normalized') }}
),

actions as (
    select * from {{ ref('actions') }}
),

person_records as (
    select resolved.person_id, records.*
    from resolved
    inner join records using (record_key)
),

activity as (
    select
        person_id,
        count(*) filter (where action_type = 'rsvp') as rsvp_count,
        count(distinct source || ':' || target_id) filter (where action_type = 'attendance') as events_attended_count,
        count(distinct source || ':' || target_id) filter (where action_type = 'petition_signature')
            as petitions_signed_count,
        count(*) filter (where action_type = 'form_submission') as form_submission_count,
        count(*) filter (where action_type = 'donation') as donation_count,
        sum(amount) filter (where action_type = 'donation') as total_donated,
        count(*) filter (where action_type = 'outreach') as outreach_count,
        -- a tie in time goes to the smallest action id, so two builds of the same data agree
        min(occurred_at) as first_action_at,
        {{ first_by('action_type', 'occurred_at, ' ~ bytewise('action_id'), 'occurred_at is not null') }} as first_action_type,
        max(occurred_at) as last_action_at,
        {{ first_by('action_type', 'occurred_at desc, ' ~ bytewise('action_id'), 'occurred_at is not null') }} as last_action_type,
        {{ sorted_distinct_list('source') }} as action_sources
    from actions
    group by person_id
),

{%- set latest_first = 'updated_at desc nulls last, ' ~ bytewise('record_key') %}
best_values as (
    select
        person_id,
        {{ first_by('trim(given_name)', latest_first, "nullif(trim(given_name), '') is not null") }} as given_name,
        {{ first_by('trim(family_name)', latest_first, "nullif(trim(family_name), '') is not null") }} as family_name,
        {{ first_by('email_normalized', latest_first, 'email_normalized is not null') }} as email,
        {{ first_by('phone_e164', latest_first, 'phone_e164 is not null') }} as phone,
        {{ first_by('postal_code_normalized', latest_first, 'postal_code_normalized is not null') }} as postal_code,
        {{ first_by('sms_opt_in_status', latest_first, 'sms_opt_in_status is not null') }} as sms_opt_in_status,
        -- consent is not the latest word but every word: one tool's unsubscribe or refusal is honoured
        bool_and(is_email_subscribed) as is_email_subscribed,
        -- the same for mobile messages: one tool's opt-out (or bouncing number) is honoured
        bool_and(case sms_opt_in_status when 'OPT_IN' then true when 'OPT_OUT' then false end)
            as is_sms_subscribed,
        min(created_at) as first_seen_at,
        max(updated_at) as last_seen_at,
        {{ sorted_distinct_list('source') }} as sources,
        count(*) as source_record_count
    from person_records
    group by person_id
),

final as (
    select
        best_values.person_id,
        {{ readable_name('best_values.given_name') }} as given_name,
        {{ readable_name('best_values.family_name') }} as family_name,
        best_values.email,
        best_values.phone,
        best_values.postal_code,
        best_values.first_seen_at,
        best_values.last_seen_at,
        best_values.sources,
        best_values.source_record_count,
        best_values.sms_opt_in_status,
        best_values.is_email_subscribed,
        best_values.is_sms_subscribed,
        coalesce(activity.rsvp_count, 0) as rsvp_count,
        coalesce(activity.events_attended_count, 0) as events_attended_count,
        coalesce(activity.petitions_signed_count, 0) as petitions_signed_count,
        coalesce(activity.form_submission_count, 0) as form_submission_count,
        coalesce(activity.donation_count, 0) as donation_count,
        coalesce(activity.total_donated, 0) as total_donated,
        coalesce(activity.outreach_count, 0) as outreach_count,
        activity.first_action_at,
        activity.first_action_type,
        activity.last_action_at,
        activity.last_action_type,
        coalesce(activity.action_sources, {{ empty_text_list() }}) as action_sources
    from best_values
    left join activity using (person_id)
)

select * from final
