{#-
    One row per source person record, from every source that has people.
    Each source contributes one CTE of the columns it has; the union matches them by name, so a
    column a source lacks (other emails, a consent flag) is null in its rows.
-#}
with mobilize_people as (
    select * from {{ ref('stg_mobilize__people') }}
),

mobilize_attendances as (
    select * from {{ ref('stg_mobilize__attendances') }}
),

nationbuilder_people as (
    select * from {{ ref('stg_nationbuilder__people') }}
),

-- attendance payloads carry the person too: people not (yet) listed as affiliated still count;
-- the newest snapshot of the person wins, ties broken by the attendance, so builds agree
{%- set newest_snapshot_first =
    "person_updated_at desc nulls last, updated_at desc nulls last, " ~ bytewise('attendance_id') %}
mobilize_attendees as (
    select
        person_id,
        {{ first_by('person_given_name', newest_snapshot_first) }} as given_name,
        {{ first_by('person_family_name', newest_snapshot_first) }} as family_name,
        {{ first_by('person_email', newest_snapshot_first) }} as email,
        {{ first_by('person_phone', newest_snapshot_first) }} as phone,
        {{ first_by('person_postal_code', newest_snapshot_first) }} as postal_code,
        min(person_created_at) as created_at,
        max(person_updated_at) as updated_at
    from mobilize_attendances
    where person_id is not null
        and person_id not in (select person_id from mobilize_people)
    group by person_id
),

action_network_people as (
    select * from {{ ref('stg_action_network__people') }}
),

controlshift_members as (
    select * from {{ ref('stg_controlshift__members') }}
),

controlshift_signatures as (
    select * from {{ ref('stg_controlshift__signatures') }}
),

controlshift_attendees as (
    select * from {{ ref('stg_controlshift__attendees') }}
),

controlshift_users as (
    select * from {{ ref('stg_controlshift__users') }}
),

controlshift_unsubscribes as (
    select * from {{ ref('stg_controlshift__unsubscribes') }}
),

mobilize_people_records as (
    select
        'mobilize' as source,
        person_id as source_person_id,
        given_name,
        family_name,
        email,
        phone,
        postal_code,
        sms_opt_in_status,
        created_at,
        updated_at
    from mobilize_people
),

mobilize_attendee_records as (
    select
        'mobilize' as source,
        person_id as source_person_id,
        given_name,
        family_name,
        email,
        phone,
        postal_code,
        created_at,
        updated_at
    from mobilize_attendees
),

action_network as (
    select
        'action_network' as source,
        person_id as source_person_id,
        given_name,
        family_name,
        email,
        other_emails,
        phone,
        postal_code,
        -- only `subscribed` is consent: unsubscribed, bouncing, spam complaints (and their "previous")
        -- all withhold it, for email and for mobile messages alike
        case
            when phone_status = 'subscribed' then 'OPT_IN'
            when phone_status is not null then 'OPT_OUT'
        end as sms_opt_in_status,
        case
            when email_status is not null then email_status = 'subscribed'
        end as is_email_subscribed,
        created_at,
        updated_at
    from action_network_people
),

-- email is NationBuilder's best (primary, not bad) address; every filled slot also matches
nationbuilder as (
    select
        'nationbuilder' as source,
        person_id as source_person_id,
        first_name as given_name,
        last_name as family_name,
        email,
        {{ distinct_non_blank_list(['email1', 'email2', 'email3', 'email4']) }} as other_emails,
        coalesce(mobile, phone, work_phone_number) as phone,
        coalesce(home_postal_code, primary_postal_code) as postal_code,
        case mobile_opt_in when true then 'OPT_IN' when false then 'OPT_OUT' end as sms_opt_in_status,
        email_opt_in and unsubscribed_at is null as is_email_subscribed,
        created_at,
        updated_at
    from nationbuilder_people
),

-- a member's latest organisation-wide unsubscribe opts out every record of theirs made before it
controlshift_opt_outs as (
    select member_id, max(created_at) as unsubscribed_at
    from controlshift_unsubscribes
    where unsubscribe_organisation and member_id is not null
    group by member_id
),

-- a deleted signature (deleted_at set) still names its person, but its opt-in is no consent
controlshift_signature_records as (
    select person_id, member_id, given_name, family_name, email, phone, postal_code,
           case when deleted_at is null then join_organisation end as join_organisation,
           unsubscribed_at, created_at, updated_at
    from controlshift_signatures
),

controlshift_attendee_records as (
    select person_id, member_id, given_name, family_name, email, phone, postal_code, join_organisation,
           unsubscribed_at, created_at, updated_at
    from controlshift_attendees
),

controlshift_user_records as (
    select person_id, member_id, given_name, family_name, email, phone, postal_code, join_organisation,
           created_at, updated_at
    from controlshift_users
),

-- members hold only an email address
controlshift_member_records as (
    select person_id, member_id, email, created_at, updated_at
    from controlshift_members
),

controlshift_actions as (
    {{ union_by_name([
        'controlshift_signature_records', 'controlshift_attendee_records',
        'controlshift_user_records', 'controlshift_member_records'
    ], {
        'person_id': 'text',
        'member_id': 'text',
        'given_name': 'text',
        'family_name': 'text',
        'email': 'text',
        'phone': 'text',
        'postal_code': 'text',
        'join_organisation': 'boolean',
        'unsubscribed_at': 'timestamptz',
        'created_at': 'timestamptz',
        'updated_at': 'timestamptz',
    }) }}
),

controlshift as (
    select
        'controlshift' as source,
        controlshift_actions.person_id as source_person_id,
        controlshift_actions.given_name,
        controlshift_actions.family_name,
        controlshift_actions.email,
        controlshift_actions.phone,
        controlshift_actions.postal_code,
        case
            when controlshift_actions.unsubscribed_at is not null then false
            when controlshift_opt_outs.unsubscribed_at >= controlshift_actions.created_at then false
            else controlshift_actions.join_organisation
        end as is_email_subscribed,
        controlshift_actions.created_at,
        -- an opt-out is the record's latest news: it must win over older opt-ins
        greatest(controlshift_actions.updated_at, controlshift_opt_outs.unsubscribed_at) as updated_at
    from controlshift_actions
    left join controlshift_opt_outs
        on controlshift_opt_outs.member_id = controlshift_actions.member_id
        and controlshift_opt_outs.unsubscribed_at >= controlshift_actions.created_at
),

final as (
    {{ union_by_name([
        'mobilize_people_records', 'mobilize_attendee_records', 'action_network', 'nationbuilder', 'controlshift'
    ], {
        'source': 'text',
        'source_person_id': 'text',
        'given_name': 'text',
        'family_name': 'text',
        'email': 'text',
        'phone': 'text',
        'postal_code': 'text',
        'sms_opt_in_status': 'text',
        'created_at': 'timestamptz',
        'updated_at': 'timestamptz',
        'other_emails': 'text[]',
        'is_email_subscribed': 'boolean',
    }) }}
)

select * from final
