-- RSVP-to-attendance rate by event type, over events that have already started.
-- Cancelled RSVPs are left out; RSVPs with no recorded outcome count as not attended in
-- attendance_rate, and are left out of attendance_rate_recorded.
select
    coalesce(e.event_type, '(none)') as event_type,
    count(*) as rsvps,
    count(*) filter (where a.attended) as attended,
    count(*) filter (where a.attended is not null) as with_outcome,
    round(count(*) filter (where a.attended) / count(*), 3) as attendance_rate,
    round(count(*) filter (where a.attended)
          / nullif(count(*) filter (where a.attended is not null), 0), 3) as attendance_rate_recorded
from analytics.attendances as a
join analytics.events as e on e.event_id = a.event_id
where e.start_at < now()
  and a.status is distinct from 'cancelled'
group by all
order by rsvps desc;
