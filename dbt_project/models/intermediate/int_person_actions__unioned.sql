{#-
    One row per action a source person record took, in every source: RSVPs and attendances,
    petition signatures, form submissions, donations and advocacy letters (outreaches).
    Keyed to the source's own person and target ids; the `actions` mart adds the resolved
    person and event. A source adds its actions as one more CTE, united by name.
-#}
with attendances as (
    select * from {{ ref('int_attendances__unioned') }}
),

controlshift_signatures as (
    select * from {{ ref('stg_controlshift__signatures') }}
),

controlshift_petitions as (
    select * from {{ ref('stg_controlshift__petitions') }}
),

action_network_signatures as (
    select * from {{ ref('stg_action_network__signatures') }}
),

action_network_petitions as (
    select * from {{ ref('stg_action_network__petitions') }}
),

action_network_submissions as (
    select * from {{ ref('stg_action_network__submissions') }}
),

action_network_forms as (
    select * from {{ ref('stg_action_network__forms') }}
),

action_network_donations as (
    select * from {{ ref('stg_action_network__donations') }}
),

action_network_fundraising_pages as (
    select * from {{ ref('stg_action_network__fundraising_pages') }}
),

action_network_outreaches as (
    select * from {{ ref('stg_action_network__outreaches') }}
),

action_network_advocacy_campaigns as (
    select * from {{ ref('stg_action_network__advocacy_campaigns') }}
),

rsvps as (
    select
        source,
        'rsvp' as action_type,
        source_attendance_id as source_action_id,
        source_person_id,
        'event' as target_type,
        source_event_id as source_target_id,
        timeslot_id,
        rsvp_at as occurred_at,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        referrer_url
    from attendances
    -- a cancelled sign-up is withdrawn: not an RSVP any more
    where status is distinct from 'cancelled'
),

attended as (
    select
        source,
        'attendance' as action_type,
        source_attendance_id as source_action_id,
        source_person_id,
        'event' as target_type,
        source_event_id as source_target_id,
        timeslot_id,
        -- when the event happened is known to the mart (`events.start_at`); this is the fallback
        coalesce(updated_at, rsvp_at) as occurred_at,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        referrer_url
    from attendances
    where attended
),

controlshift_petition_signatures as (
    select
        'controlshift' as source,
        'petition_signature' as action_type,
        signatures.signature_id as source_action_id,
        signatures.person_id as source_person_id,
        'petition' as target_type,
        signatures.petition_id as source_target_id,
        petitions.title as target_title,
        signatures.created_at as occurred_at,
        signatures.utm_source,
        signatures.utm_medium,
        signatures.utm_campaign
    from controlshift_signatures as signatures
    left join controlshift_petitions as petitions using (petition_id)
    -- a signature deleted in ControlShift (deleted_at set) is no longer a signature
    where signatures.deleted_at is null
),

action_network_petition_signatures as (
    select
        'action_network' as source,
        'petition_signature' as action_type,
        signatures.signature_id as source_action_id,
        signatures.person_id as source_person_id,
        'petition' as target_type,
        signatures.petition_id as source_target_id,
        petitions.title as target_title,
        signatures.created_at as occurred_at,
        signatures.referrer_source as utm_source,
        signatures.referrer_code,
        signatures.referrer_website as referrer_url
    from action_network_signatures as signatures
    left join action_network_petitions as petitions using (petition_id)
),

action_network_form_submissions as (
    select
        'action_network' as source,
        'form_submission' as action_type,
        submissions.submission_id as source_action_id,
        submissions.person_id as source_person_id,
        'form' as target_type,
        submissions.form_id as source_target_id,
        forms.title as target_title,
        submissions.created_at as occurred_at,
        submissions.referrer_source as utm_source,
        submissions.referrer_code,
        submissions.referrer_website as referrer_url
    from action_network_submissions as submissions
    left join action_network_forms as forms using (form_id)
),

action_network_donations_made as (
    select
        'action_network' as source,
        'donation' as action_type,
        donations.donation_id as source_action_id,
        donations.person_id as source_person_id,
        'fundraising_page' as target_type,
        donations.fundraising_page_id as source_target_id,
        pages.title as target_title,
        donations.created_at as occurred_at,
        donations.amount,
        donations.currency,
        donations.is_recurring,
        donations.referrer_source as utm_source,
        donations.referrer_code,
        donations.referrer_website as referrer_url
    from action_network_donations as donations
    left join action_network_fundraising_pages as pages using (fundraising_page_id)
),

action_network_letters as (
    select
        'action_network' as source,
        'outreach' as action_type,
        outreaches.outreach_id as source_action_id,
        outreaches.person_id as source_person_id,
        'advocacy_campaign' as target_type,
        outreaches.advocacy_campaign_id as source_target_id,
        campaigns.title as target_title,
        outreaches.created_at as occurred_at,
        outreaches.referrer_source as utm_source,
        outreaches.referrer_code,
        outreaches.referrer_website as referrer_url
    from action_network_outreaches as outreaches
    left join action_network_advocacy_campaigns as campaigns using (advocacy_campaign_id)
),

-- by name: a column an action does not have (an amount, a timeslot, most UTM fields) is null
final as (
    {{ union_by_name([
        'rsvps', 'attended', 'controlshift_petition_signatures', 'action_network_petition_signatures',
        'action_network_form_submissions', 'action_network_donations_made', 'action_network_letters'
    ], {
        'source': 'text',
        'action_type': 'text',
        'source_action_id': 'text',
        'source_person_id': 'text',
        'target_type': 'text',
        'source_target_id': 'text',
        'timeslot_id': 'text',
        'occurred_at': 'timestamptz',
        'utm_source': 'text',
        'utm_medium': 'text',
        'utm_campaign': 'text',
        'utm_term': 'text',
        'utm_content': 'text',
        'referrer_url': 'text',
        'target_title': 'text',
        'referrer_code': 'text',
        'amount': 'decimal(18, 2)',
        'currency': 'text',
        'is_recurring': 'boolean',
    }) }}
)

select * from final
