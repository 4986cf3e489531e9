-- Donors who never attended an event: people with at least one donation and no attendance,
-- largest givers first. (An RSVP without attending does not count as attending.)
select
    p.person_id,
    p.given_name,
    p.family_name,
    p.email,
    p.donation_count,
    p.total_donated,
    p.rsvp_count,
    p.last_action_at,
    p.last_action_type
from analytics.people as p
where p.donation_count > 0
    and p.events_attended_count = 0
order by p.total_donated desc, p.person_id;
