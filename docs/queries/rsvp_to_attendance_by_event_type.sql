-- RSVP-to-attendance rate by event type, over events that have already started.
-- Cancelled RSVPs are left out; RSVPs with no recorded outcome count as not attended in
-- attendance_rate, and are left out of attendance_rate_recorded.
-- "Started" is judged by the data's own clock, the newest RSVP change the marts hold, not now():
-- on the sandbox (a world with a fixed clock) or a warehouse last synced a while ago, now() would
-- count events that had not started when the data was taken, none of whose RSVPs could be attended.
with as_of as (
    select max(updated_at) as data_as_of from analytics.attendances
)

select
    coalesce(e.event_type, '(none)') as event_type,
    count(*) as rsvps,
    count(*) filter (where a.attended) as attended,
    count(*) filter (where a.attended is not null) as with_outcome,
    round(1.0 * count(*) filter (where a.attended) / count(*), 3) as attendance_rate,
    round(1.0 * count(*) filter (where a.attended)
          / nullif(count(*) filter (where a.attended is not null), 0), 3) as attendance_rate_recorded
from analytics.attendances as a
join analytics.events as e on e.event_id = a.event_id
where e.start_at < (select data_as_of from as_of)
  and a.status is distinct from 'cancelled'
group by 1
order by rsvps desc;
