"""MobilizeAmerica in the sandbox: its slice of the world and a fake of its v1 API, as it answers today.

Serves `../shared/seeds/000_a724c45019be6897.txt` (the 2018 README): organizations, promoted
organizations, events and organization events (with `timeslot_start`/`timeslot_end` comparison
filters), deleted events both ways, organization people and organization attendances; `per_page` paging with `count`/`next`/`previous`; `updated_since`; Bearer keys (403
when wrong); `{"data": null, "error": {...}}` errors.

Where the live API has moved on from that document, the fake does what the live API does, by
default (evidence: the current README of github.com/mobilizeamerica/api, "README" below; its
issue #69; move-coop/parsons `parsons/mobilize_america/ma.py`; summarized in
`../shared/reference/vendor-behaviour.md`):

- Paging: `next`/`previous` carry an opaque `cursor` query parameter (README "cursor",
  changelog 2021-09-02); `page` still picks a starting page. Clients follow the links as given
  (parsons does).
- Rate limit: 15 GET requests per second per client (README "Rate limits"), enforced here as
  at most 15 arrivals in any one second, answered 429 with `Retry-After` (`RATE_LIMIT`).
- Ghost rows: the organization events listing also returns some deleted events with every field
  null except the id and the timeslot dates, timeslot ids and `modified_date` included (issue
  #69: the events were deleted in the UI). They come back whatever `updated_since` says.
- Visibility and approval: events carry `visibility` (PUBLIC, PRIVATE) and `approval_status`
  (APPROVED, NEEDS_APPROVAL, NEEDS_HOST_VERIFICATION, REJECTED); listings return public,
  approved events only unless `visibility`/`approval_status` name others (repeatable); PRIVATE
  without the organization's key is a 403 on the events listing and returns nothing from the
  deleted-events listing (README "List organization events", "List deleted organization
  events"). Attendances are listed whatever their event's visibility or approval.
- Deleted events: `updated_since` filters by the events' `modified_date` (README), which a
  deletion does not change here (the reading that skips most deletions for a client filtering
  by `deleted_date`).
- `is_virtual` is an event field, and a virtual event may have a location (changelog
  2020-03-31). A private address (`address_visibility` PRIVATE) reads `PRIVATE_ADDRESS` as the
  venue and first address line (README "Location"), except to the owning organization's key.
- Attendances carry `status` (REGISTERED, CONFIRMED, CANCELLED). When the requesting
  organization is independent and the event's organization is coordinated, the attendance has
  no `id`, its event is reduced to `event_type` and its timeslot has no `id` (README
  "Attendance object"): here the primary organization is independent and promotes a
  coordinated one.
- Gone since the document: a person's attendances
  (`/organizations/:id/people/:person_id/attendances`, removed per the 2019 changelog: 404 here)
  and the event's `summary` field (changelog 2020-10-16).
- People carry `person_id` (equal to `id`) and `user_id`; `id` and `person_id` are null for
  new people, `user_id` is the canonical id (README "Person object").
- Tags (README "Tag", "Event object"; changelog 2019-08-15, 2019-08-19): an event's `tags` is a
  list of `{id, name}`, `[]` when it has none (as in parsons' fixture of an organization events
  listing, `test/test_mobilize/test_mobilize_json.py`); `tag_id` (repeatable) filters both event
  listings. No endpoint lists tags. Each organization has a few; one spells a shared name its
  own way.
- Event campaigns (README "EventCampaign", "Event object"; changelog 2019-09-25, 2020-06-24):
  `event_campaign` is `{id, slug, event_create_page_url}` (no title) or null, and is null except
  in the authenticated organization events listing, for the requesting organization's own
  events; `event_campaign_id` filters the organization events listing. No endpoint lists
  campaigns.
- Custom sign-up fields (README "Attendance object", "CustomSignupFieldValue"; changelog
  2021-04-01): an attendance's `custom_signup_field_values` is a list of `{custom_field_id,
  custom_field_name, text_value, boolean_value}`, exactly one of the two values non-null (an
  empty answer is `""`), and is omitted when the requesting organization does not own the
  event. Each organization defines a few fields; an event asks some of them, or none.
- Unverified, built one way here (the source reads either): that retagging an event or moving it
  to another campaign bumps its `modified_date` (here it does; the SQL mirror's `event_tags` keeps
  each tag link as a row with its own dates, so the API might not); whether `tag_id` matches
  events with any of the tags (here) or all; the `results_limited_to` cap a `tag_id` filter
  triggers (not applied); the campaign's create-page URL and the fields' internal names (made
  up); whether an optional field left unanswered is left out (here) or sent with both values
  null; the tags and campaign of the event embedded in an attendance (here: tags as on the
  event, campaign null, as it is outside the organization events listing).
"""

from __future__ import annotations

import base64
import random
import re
from dataclasses import dataclass, field
from functools import partial

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox import draws, fakehttp, noise
from sandbox.fakehttp import (FakeService, ListingCache, VendorApi, has_bearer, integer_argument, json_response,
                              page_count, page_items, page_link)
from sandbox.world import DAY, World, pick_changes

API_PREFIX = "/api/v1"
PRIMARY_ORG_ID = 1
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 1000
EVENT_TYPES = ("CANVASS", "PHONE_BANK", "TEXT_BANK", "MEETING", "COMMUNITY", "FUNDRAISER", "MEET_GREET", "OTHER")
TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix")
CITIES = (("Philadelphia", "PA"), ("Pittsburgh", "PA"), ("Atlanta", "GA"), ("Phoenix", "AZ"),
          ("Detroit", "MI"), ("Milwaukee", "WI"), ("Las Vegas", "NV"), ("Denver", "CO"), ("Oakland", "CA"))
VENUES = ("Campaign HQ", "Union Hall", "Public Library", "Community Center", "Café Olé", "St. Mark's Church", "")
UTM_SOURCES = ("email", "facebook", "twitter", "sms", "partner", None)
# README "Rate limits": GET requests per second
RATE_LIMIT = 15
# README "Location": the venue and first address line of a private location (a curly apostrophe)
PRIVATE_ADDRESS = "This event\u2019s address is private. Sign up for more details"
VISIBILITIES = ("PUBLIC", "PRIVATE")
APPROVAL_STATUSES = ("APPROVED", "NEEDS_APPROVAL", "NEEDS_HOST_VERIFICATION", "REJECTED")
ATTENDANCE_STATUSES = ("REGISTERED", "CONFIRMED", "CANCELLED")
# user ids are a separate sequence from person ids
USER_ID_OFFSET = 700_000
TAG_NAMES = ("GOTV", "Climate", "Housing", "Voter registration", "Training", "Youth", "Spanish language",
             "Labor", "Healthcare", "Kickoff")
# the organizations running distributed event campaigns, and their slugs
EVENT_CAMPAIGNS = {1: ("summer-of-organizing", "gotv-weekend-2026"), 2: ("tenant-power-tour",),
                   5: ("climate-week-house-parties", "lakes-gotv")}
# (internal name, kind): the custom sign-up fields an organization may define
CUSTOM_FIELDS = (("new_to_phonebanking", "boolean"), ("can_drive_others", "boolean"), ("bringing_a_friend", "boolean"),
                 ("dietary_restrictions", "text"), ("languages_spoken", "text"), ("accessibility_needs", "text"),
                 ("how_did_you_hear", "text"))
TEXT_ANSWERS = {
    "dietary_restrictions": ("vegetarian", "Vegan", "none", "gluten free", "No nuts please!"),
    "languages_spoken": ("English", "English, Spanish", "Español", "Tiếng Việt", "ASL"),
    "accessibility_needs": ("wheelchair access", "none", "I'll need a ride from the bus stop"),
    "how_did_you_hear": ("a friend", "Instagram", "email", "text from Maria", "flyer at the \"library\""),
}


@dataclass(slots=True)
class Organization:
    id: int
    name: str
    slug: str
    is_coordinated: bool
    state: str
    created_date: int
    modified_date: int
    promotes: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Tag:
    id: int
    name: str
    organization_id: int


@dataclass(slots=True)
class EventCampaign:
    id: int
    slug: str
    organization_id: int


@dataclass(slots=True)
class CustomField:
    """A custom sign-up field an organization defined; `kind` is "text" or "boolean"."""

    id: int
    name: str
    kind: str
    organization_id: int


@dataclass(slots=True)
class Timeslot:
    id: int
    start_date: int
    end_date: int


@dataclass(slots=True)
class Event:
    id: int
    title: str
    description: str
    sponsor_id: int
    timeslots: list[Timeslot]
    location: dict | None
    timezone: str
    event_type: str
    high_priority: bool | None
    created_date: int
    modified_date: int
    is_virtual: bool = False
    visibility: str = "PUBLIC"
    approval_status: str = "APPROVED"
    address_visibility: str = "PUBLIC"
    tag_ids: list[int] = field(default_factory=list)
    event_campaign_id: int | None = None
    # the custom sign-up fields the event asks
    custom_field_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class DeletedEvent:
    event: Event
    deleted_date: int
    # still listed by the organization events listing with every field but its id nulled
    ghost: bool = False


@dataclass(slots=True)
class MobilizePerson:
    id: int
    given_name: str
    family_name: str
    email: str | None
    phone: str | None
    postal_code: str | None
    sms_opt_in_status: str
    created_date: int
    modified_date: int
    user_id: int = 0
    # newer people have no person id (README: person_id "will eventually be ... null for new Persons")
    has_person_id: bool = True


@dataclass(slots=True)
class Attendance:
    id: int
    person_id: int
    event_id: int
    timeslot_id: int
    attended: bool | None
    referrer: dict
    created_date: int
    modified_date: int
    status: str = "REGISTERED"
    # custom field id -> the answer: text ("" when left empty) or a boolean
    custom_field_values: dict[int, str | bool] = field(default_factory=dict)


@dataclass
class MobilizeData:
    organizations: dict[int, Organization]
    events: dict[int, Event]
    deleted_events: dict[int, DeletedEvent]
    people: dict[int, MobilizePerson]
    attendances: dict[int, Attendance]
    next_ids: dict[str, int]
    tags: dict[int, Tag] = field(default_factory=dict)
    event_campaigns: dict[int, EventCampaign] = field(default_factory=dict)
    custom_fields: dict[int, CustomField] = field(default_factory=dict)

    def new_id(self, kind: str) -> int:
        self.next_ids[kind] += 1
        return self.next_ids[kind]

    def promoters_of(self, org_id: int) -> set[int]:
        """The organization and the ones it promotes: whose events it lists."""
        return {org_id, *self.organizations[org_id].promotes}

    def delete_event(self, event_id: int, when: int, ghost: bool) -> None:
        self.deleted_events[event_id] = DeletedEvent(self.events.pop(event_id), when, ghost)

    def event(self, event_id: int) -> Event:
        """An event, live or deleted."""
        return self.events[event_id] if event_id in self.events else self.deleted_events[event_id].event

    def organization_tags(self, org_id: int) -> list[int]:
        return [tag.id for tag in self.tags.values() if tag.organization_id == org_id]

    def organization_campaigns(self, org_id: int) -> list[int]:
        return [campaign.id for campaign in self.event_campaigns.values() if campaign.organization_id == org_id]

    def organization_fields(self, org_id: int) -> list[int]:
        return [custom.id for custom in self.custom_fields.values() if custom.organization_id == org_id]


# --- the world's Mobilize slice --------------------------------------------------------

def _organizations(now: int) -> dict[int, Organization]:
    # the primary organization is independent and promotes a coordinated campaign: its RSVPs
    # come without ids (README "Attendance object")
    specs = [
        (1, "Keystone Organizing Project", "PA", False, [2, 3]),
        (2, "Philly Tenants Union", "PA", False, []),
        (3, "Lee for Pennsylvania", "PA", True, []),
        (4, "Arizona Voter Alliance", "AZ", False, []),
        (5, "Great Lakes Climate Action", "MI", True, []),
    ]
    return {
        org_id: Organization(org_id, name, re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
                             coordinated, state, now - 400 * DAY + org_id * DAY, now - 30 * DAY + org_id, promotes)
        for org_id, name, state, coordinated, promotes in specs
    }


def _location(rng: random.Random, city: str, region: str) -> dict:
    return {
        "venue": rng.choice(VENUES),
        "address_lines": [draws.street(rng), rng.choice(["", "Suite 2"])],
        "locality": city,
        "region": region,
        "postal_code": draws.postal_code(rng),
        "location": None if rng.random() < 0.05 else draws.coordinates(rng, 6),
    }


def _event(event_id: int, sponsor_id: int, rng: random.Random, now: int, next_timeslot: list[int]) -> Event:
    event_type = rng.choice(EVENT_TYPES)
    city, region = rng.choice(CITIES)
    created = now - rng.randrange(2 * DAY, 300 * DAY)
    first_start = draws.event_start(rng, now)
    timeslots = []
    for n in range(rng.choice((1, 1, 2, 3, 4))):
        next_timeslot[0] += 1
        start = first_start + n * 7 * DAY
        timeslots.append(Timeslot(next_timeslot[0], start, start + rng.choice((3600, 7200, 10800))))
    virtual = event_type in ("PHONE_BANK", "TEXT_BANK") or rng.random() < 0.1
    # changelog 2020-03-31: "Virtual events can now have locations"
    location = None if virtual and rng.random() < 0.7 else _location(rng, city, region)
    title = f"{event_type.replace('_', ' ').title()} in {city} #{event_id}"
    return Event(
        id=event_id, title=title,
        description=f"<p>Bring a friend &amp; water. We'll meet at the \"{rng.choice(VENUES) or 'usual spot'}\".</p>",
        sponsor_id=sponsor_id, timeslots=timeslots, location=location,
        timezone=rng.choice(TIMEZONES), event_type=event_type,
        high_priority=rng.choice((True, False, None)),
        created_date=created, modified_date=draws.later(rng, created, now),
        is_virtual=virtual, visibility="PRIVATE" if rng.random() < 0.12 else "PUBLIC",
        approval_status=rng.choices(APPROVAL_STATUSES, weights=(80, 10, 6, 4))[0],
        address_visibility="PRIVATE" if location and rng.random() < 0.2 else "PUBLIC",
    )


def _referrer(rng: random.Random) -> dict:
    source = rng.choice(UTM_SOURCES)
    if source is None:
        return {"utm_source": None, "utm_medium": None, "utm_campaign": None, "utm_term": None,
                "utm_content": None, "url": None}
    return {"utm_source": source, "utm_medium": rng.choice(("social", "email", "referral")),
            "utm_campaign": rng.choice(("gotv", "spring-canvass", "climate-week")), "utm_term": None,
            "utm_content": rng.choice((None, "button", "link")), "url": f"https://www.mobilize.us/keystone/?utm_source={source}"}


def generate(world: World) -> MobilizeData:
    rng = world.rng("mobilize")
    now = world.clock.now
    organizations = _organizations(now)
    next_timeslot = [0]
    events: dict[int, Event] = {}
    event_count = max(12, len(world.persons) // 12)
    sponsors = [1] * 6 + [2, 3, 4, 5]
    for event_id in range(1, event_count + 1):
        events[event_id] = _event(event_id, rng.choice(sponsors), rng, now, next_timeslot)

    # every organization with events has one at a private address (README "Location")
    for sponsor in organizations:
        theirs = [e for e in events.values() if e.sponsor_id == sponsor]
        placed = [e for e in theirs if e.location] or theirs[:1]
        for event in placed[:1]:
            event.location = event.location or _location(rng, *rng.choice(CITIES))
            event.address_visibility = "PRIVATE"

    deleted_events: dict[int, DeletedEvent] = {}
    for n, event_id in enumerate(list(events)[:: 25]):
        deleted_events[event_id] = DeletedEvent(events.pop(event_id), now - rng.randrange(DAY, 30 * DAY), n % 2 == 0)

    people: dict[int, MobilizePerson] = {}
    for person in world.persons:
        if rng.random() >= 0.6:
            continue
        contact = noise.noisy_contact(person, rng)
        mobilize_id = 1000 + person.key
        created = now - rng.randrange(DAY, 365 * DAY)
        people[mobilize_id] = MobilizePerson(
            mobilize_id, contact.given_name, contact.family_name, contact.email, contact.phone,
            contact.postal_code, rng.choice(("UNSPECIFIED", "OPT_IN", "OPT_IN", "OPT_OUT")),
            created, draws.later(rng, created, now), USER_ID_OFFSET + person.key,
            has_person_id=created < now - 60 * DAY)
        world.truth.append(("mobilize", person_key(people[mobilize_id]), person.key))

    listed = [e for e in events.values() if e.sponsor_id in organizations[PRIMARY_ORG_ID].promotes or e.sponsor_id == PRIMARY_ORG_ID]
    attendances: dict[int, Attendance] = {}
    for person in people.values():
        for event in rng.sample(listed, min(len(listed), rng.choice((0, 1, 1, 2, 3, 4)))):
            timeslot = rng.choice(event.timeslots)
            past = timeslot.end_date < now
            status = rng.choices(ATTENDANCE_STATUSES, weights=(70, 20, 10))[0]
            attended = draws.attended(rng, past, cancelled=status == "CANCELLED")
            created = draws.soon_after(rng, person.created_date, event.created_date)
            attendance_id = len(attendances) + 1
            attendances[attendance_id] = Attendance(
                attendance_id, person.id, event.id, timeslot.id, attended, _referrer(rng),
                created, draws.rsvp_changed(rng, created, now), status)
    next_ids = {"event": event_count, "timeslot": next_timeslot[0], "attendance": len(attendances),
                "person": 1000 + len(world.persons)}
    data = MobilizeData(organizations, events, deleted_events, people, attendances, next_ids)
    _generate_extras(world, data)
    return data


def _generate_extras(world: World, data: MobilizeData) -> None:
    """Tags, event campaigns and custom sign-up fields, drawn from their own stream so that the
    draws above (and what every seed means for them) stay as they were."""
    rng = world.rng("mobilize-extras")
    for org_id in sorted(data.organizations):
        for name in rng.sample(TAG_NAMES, rng.randint(3, 5)):
            tag_id = len(data.tags) + 1
            # one organization spells the tags it shares with others its own way
            data.tags[tag_id] = Tag(tag_id, name.lower() if org_id == 4 else name, org_id)
        for name, kind in rng.sample(CUSTOM_FIELDS, rng.randint(2, 4)):
            field_id = 300 + len(data.custom_fields) + 1
            data.custom_fields[field_id] = CustomField(field_id, name, kind, org_id)
        for slug in EVENT_CAMPAIGNS.get(org_id, ()):
            campaign_id = 50 + len(data.event_campaigns) + 1
            data.event_campaigns[campaign_id] = EventCampaign(campaign_id, slug, org_id)
    for event_id in sorted([*data.events, *data.deleted_events]):
        _event_extras(rng, data, data.event(event_id))
    for attendance in data.attendances.values():
        _answers(rng, data, attendance)


def _event_extras(rng: random.Random, data: MobilizeData, event: Event) -> None:
    """An event's tags (none for some), campaign (for some of a campaigning organization's) and fields it asks."""
    event.tag_ids = _tags(rng, data, event.sponsor_id)
    campaigns = data.organization_campaigns(event.sponsor_id)
    event.event_campaign_id = rng.choice(campaigns) if campaigns and rng.random() < 0.4 else None
    fields = data.organization_fields(event.sponsor_id)
    event.custom_field_ids = sorted(rng.sample(fields, rng.randint(1, min(3, len(fields))))) \
        if rng.random() < 0.5 else []


def _tags(rng: random.Random, data: MobilizeData, org_id: int) -> list[int]:
    tags = data.organization_tags(org_id)
    return [] if rng.random() < 0.3 else sorted(rng.sample(tags, rng.randint(1, min(3, len(tags)))))


def _answers(rng: random.Random, data: MobilizeData, attendance: Attendance) -> None:
    """The answers to the fields the event asks: some left out, some empty."""
    for field_id in data.event(attendance.event_id).custom_field_ids:
        if rng.random() < 0.15:
            continue
        custom = data.custom_fields[field_id]
        if custom.kind == "boolean":
            attendance.custom_field_values[field_id] = rng.random() < 0.5
        else:
            attendance.custom_field_values[field_id] = "" if rng.random() < 0.1 else rng.choice(TEXT_ANSWERS[custom.name])


def advance(world: World, fraction: float) -> None:
    """A day on Mobilize: edits, new events and RSVPs, cancelled sign-ups, deletions."""
    data: MobilizeData = world.vendors["mobilize"]  # type: ignore[assignment]
    rng = world.rng("mobilize-advance")
    now = world.clock.now
    changes = partial(pick_changes, rng, fraction)

    for person in changes(list(data.people.values())):
        person.postal_code = draws.postal_code(rng)
        person.sms_opt_in_status = rng.choice(("OPT_IN", "OPT_OUT"))
        person.modified_date = now
    for event in changes(list(data.events.values())):
        event.title = f"{event.title} (updated)"
        event.modified_date = now
    for event in changes(list(data.events.values())):
        # a deletion leaves the event's modified_date as it was
        data.delete_event(event.id, now, ghost=rng.random() < 0.5)
    for attendance in changes(list(data.attendances.values())):
        attendance.attended = rng.choice((True, False))
        attendance.modified_date = now
    for attendance in changes(list(data.attendances.values())):
        attendance.status, attendance.attended, attendance.modified_date = "CANCELLED", None, now
    new_event = _event(data.new_id("event"), PRIMARY_ORG_ID, rng, now, [data.next_ids["timeslot"]])
    data.next_ids["timeslot"] = new_event.timeslots[-1].id
    new_event.created_date = new_event.modified_date = now
    data.events[new_event.id] = new_event
    for person in changes(list(data.people.values())):
        attendance_id = data.new_id("attendance")
        data.attendances[attendance_id] = Attendance(
            attendance_id, person.id, new_event.id, new_event.timeslots[0].id, None, _referrer(rng), now, now)
    _advance_extras(world, data, new_event, fraction)


def _advance_extras(world: World, data: MobilizeData, new_event: Event, fraction: float) -> None:
    """The day's new event and its RSVPs get their extras; a few events are retagged or move
    campaign (their modified_date bumped). A stream of its own, as for `_generate_extras`."""
    rng = world.rng("mobilize-extras-advance")
    now = world.clock.now
    _event_extras(rng, data, new_event)
    for attendance in data.attendances.values():
        if attendance.event_id == new_event.id and attendance.created_date == now:
            _answers(rng, data, attendance)
    for event in pick_changes(rng, fraction, list(data.events.values())):
        # a tag taken off (the last one leaves `[]`) or another put on
        missing = [t for t in data.organization_tags(event.sponsor_id) if t not in event.tag_ids]
        if event.tag_ids and (not missing or rng.random() < 0.5):
            event.tag_ids = [t for t in event.tag_ids if t != rng.choice(event.tag_ids)]
        else:
            event.tag_ids = sorted([*event.tag_ids, rng.choice(missing)])
        event.modified_date = now
    campaigning = [e for e in data.events.values() if data.organization_campaigns(e.sponsor_id)]
    for event in pick_changes(rng, fraction, campaigning):
        # out of its campaign, or into (another) one
        others = [c for c in data.organization_campaigns(event.sponsor_id) if c != event.event_campaign_id]
        event.event_campaign_id = rng.choice(others if event.event_campaign_id is None else [None, *others])
        event.modified_date = now


# --- the fake API -----------------------------------------------------------------------

class ApiError(fakehttp.ApiError):
    """Mobilize's refusal: `{"data": null, "error": {…}}`, the error a `detail` or the offending fields."""

    def __init__(self, status: int, error: dict) -> None:
        super().__init__(status, {"data": None, "error": error})

    @classmethod
    def from_message(cls, status: int, message: str) -> "ApiError":
        return cls(status, {"detail": message})


def _org_json(org: Organization) -> dict:
    return {
        "id": org.id, "name": org.name, "slug": org.slug,
        "is_coordinated": org.is_coordinated, "is_independent": not org.is_coordinated,
        "is_primary_campaign": False, "state": org.state, "district": "", "candidate_name": "",
        "race_type": None, "event_feed_url": f"https://www.mobilize.us/{org.slug}/",
        "created_date": org.created_date, "modified_date": org.modified_date,
    }


def _timeslot_json(slot: Timeslot) -> dict:
    return {"id": slot.id, "start_date": slot.start_date, "end_date": slot.end_date}


def person_key(person: MobilizePerson) -> str:
    """The id the warehouse knows a person by: the person id, else `user:<user_id>`."""
    return str(person.id) if person.has_person_id else f"user:{person.user_id}"


def _person_json(person: MobilizePerson) -> dict:
    person_id = person.id if person.has_person_id else None
    return {
        "id": person_id, "person_id": person_id, "user_id": person.user_id,
        "created_date": person.created_date, "modified_date": person.modified_date,
        "given_name": person.given_name, "family_name": person.family_name,
        "email_addresses": [{"primary": True, "address": person.email}] if person.email else [],
        "phone_numbers": [{"primary": True, "number": person.phone}] if person.phone else [],
        "postal_addresses": [{"primary": True, "postal_code": person.postal_code}] if person.postal_code else [],
        "sms_opt_in_status": person.sms_opt_in_status,
    }


class MobilizeApi(VendorApi):
    """The WSGI side of the fake; `FakeService` adds limits and faults around it."""

    vendor = "mobilize"
    errors = ApiError
    not_found = "Not found."

    def __init__(self, world: World, api_key: str) -> None:
        self.world = world
        self.api_key = api_key
        self.routes = Map([
            Rule(f"{API_PREFIX}/organizations", endpoint="organizations"),
            Rule(f"{API_PREFIX}/organizations/<org_id>/promoted_organizations", endpoint="promoted", defaults={"auth": True}),
            Rule(f"{API_PREFIX}/events", endpoint="events"),
            Rule(f"{API_PREFIX}/events/deleted", endpoint="deleted_events"),
            Rule(f"{API_PREFIX}/organizations/<org_id>/events", endpoint="org_events"),
            Rule(f"{API_PREFIX}/organizations/<org_id>/events/deleted", endpoint="org_deleted_events"),
            Rule(f"{API_PREFIX}/organizations/<org_id>/people", endpoint="org_people", defaults={"auth": True}),
            Rule(f"{API_PREFIX}/organizations/<org_id>/attendances", endpoint="org_attendances", defaults={"auth": True}),
        ], strict_slashes=False)
        # filtered listings of the current world version; paging slices them
        self._listings = ListingCache(world)

    def handle(self, request: Request, endpoint: str, args: dict) -> Response:
        self._authenticate(request, required=args.pop("auth", False))
        if request.method != "GET":
            raise ApiError(405, {"detail": f'Method "{request.method}" not allowed.'})
        ids = {k: _integer(k, v, status=404) for k, v in args.items()}
        query = tuple(sorted((k, v) for k, v in request.args.items(multi=True)
                             if k not in ("page", "per_page", "cursor")))
        key = (endpoint, tuple(sorted(ids.items())), query, "Authorization" in request.headers)
        listing = self._listings.get(key, lambda: getattr(self, f"_{endpoint}")(request, **ids))
        return self._page(request, *listing)

    def _authenticate(self, request: Request, required: bool) -> None:
        if "Authorization" not in request.headers and not required:
            return
        if not has_bearer(request, self.api_key):
            raise ApiError(403, {"detail": "Authentication credentials were not provided or are invalid."})

    # --- paging and filters ---------------------------------------------------------
    def _page(self, request: Request, items: list, render) -> Response:  # noqa: ANN001
        per_page = _integer("per_page", request.args.get("per_page", DEFAULT_PER_PAGE))
        page = _cursor_page(request.args["cursor"]) if "cursor" in request.args else \
            _integer("page", request.args.get("page", 1), status=404)
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ApiError(400, {"per_page": [f"Ensure this value is between 1 and {MAX_PER_PAGE}."]})
        last_page = max(1, page_count(len(items), per_page))
        if page < 1 or page > last_page:
            raise ApiError(404, {"detail": "Invalid page."})

        def link(number: int) -> str:
            return page_link(request, "cursor", _cursor(number), drop=("page",))

        return json_response({
            "count": len(items),
            "next": link(page + 1) if page < last_page else None,
            "previous": link(page - 1) if page > 1 else None,
            "data": [render(item) for item in page_items(items, page, per_page)],
        })

    def _organization(self, org_id: int) -> Organization:
        if org_id not in self.data.organizations:
            raise ApiError(404, {"detail": "Not found."})
        return self.data.organizations[org_id]

    # --- endpoints -----------------------------------------------------------------
    def _organizations(self, request: Request) -> tuple[list, object]:
        since = _updated_since(request)
        return [o for o in sorted(self.data.organizations.values(), key=lambda o: o.id)
                if o.modified_date >= since], _org_json

    def _promoted(self, request: Request, org_id: int) -> tuple[list, object]:
        org = self._organization(org_id)
        return [self.data.organizations[i] for i in org.promotes], _org_json

    def _reader(self, request: Request, org_id: int) -> int | None:
        """Whose view an organization's listing shows: the organization's when the request carries
        the key (`handle` checked it), else the public's (None). 404 for an unknown organization."""
        self._organization(org_id)
        return org_id if "Authorization" in request.headers else None

    def _events(self, request: Request) -> tuple[list, object]:
        return self._event_list(request, _organizations_named(request), requester=None)

    def _org_events(self, request: Request, org_id: int) -> tuple[list, object]:
        requester = self._reader(request, org_id)
        if "PRIVATE" in _visibilities(request) and requester is None:
            raise ApiError(403, {"detail": "You do not have permission to view private events."})
        result, render = self._event_list(request, self.data.promoters_of(org_id), requester, organization_listing=True)
        # issue #69: deleted events listed with every field but the id and timeslot dates nulled
        ghosts = [(deleted.event, None) for deleted in self.data.deleted_events.values()
                  if deleted.ghost and deleted.event.sponsor_id in self.data.promoters_of(org_id)
                  and self._shown(deleted.event, request, requester)]
        return sorted(result + ghosts, key=lambda item: item[0].id), render

    def _shown(self, event: Event, request: Request, requester: int | None) -> bool:
        """Public, approved events unless the request names other visibilities and statuses."""
        visible = event.visibility in _visibilities(request) and (event.visibility == "PUBLIC" or requester is not None)
        return visible and event.approval_status in _approval_statuses(request)

    def _event_list(self, request: Request, sponsors: set[int] | None, requester: int | None,
                    organization_listing: bool = False) -> tuple[list, object]:
        since = _updated_since(request)
        slot_filters = [(field_name, *_comparison(field_name, raw))
                        for field_name in ("timeslot_start", "timeslot_end")
                        for raw in request.args.getlist(field_name)]
        tags = {_integer("tag_id", raw) for raw in request.args.getlist("tag_id")}
        # the organization events listing's filter (README "List organization events")
        campaign = _integer("event_campaign_id", request.args["event_campaign_id"]) \
            if organization_listing and "event_campaign_id" in request.args else None
        result = []
        for event in sorted(self.data.events.values(), key=lambda e: e.id):
            if (event.modified_date < since or (sponsors is not None and event.sponsor_id not in sponsors)
                    or not self._shown(event, request, requester)
                    or (tags and tags.isdisjoint(event.tag_ids))
                    or (campaign is not None and event.event_campaign_id != campaign)):
                continue
            slots = [s for s in event.timeslots if all(
                _compare(s.start_date if f == "timeslot_start" else s.end_date, op, value)
                for f, op, value in slot_filters)]
            if slot_filters and not slots:
                continue
            result.append((event, slots))

        def render(item: tuple[Event, list[Timeslot] | None]) -> dict:
            event, slots = item
            return _ghost_json(event) if slots is None else self._event_json(event, slots, requester)
        return result, render

    def _event_json(self, event: Event, slots: list[Timeslot], requester: int | None, listing: bool = True) -> dict:
        org = self.data.organizations[event.sponsor_id]
        location = event.location
        if location and event.address_visibility == "PRIVATE" and requester != event.sponsor_id:
            location = {**location, "venue": PRIVATE_ADDRESS,
                        "address_lines": [PRIVATE_ADDRESS, *location["address_lines"][1:]]}
        return {
            "id": event.id, "title": event.title, "description": event.description,
            "featured_image_url": "", "high_priority": event.high_priority, "sponsor": _org_json(org),
            "timeslots": [_timeslot_json(s) for s in slots],
            "location": location, "timezone": event.timezone, "event_type": event.event_type,
            "browser_url": f"https://www.mobilize.us/{org.slug}/event/{event.id}/",
            "created_date": event.created_date, "modified_date": event.modified_date,
            "is_virtual": event.is_virtual, "visibility": event.visibility,
            "approval_status": event.approval_status, "address_visibility": event.address_visibility,
            "tags": [{"id": tag_id, "name": self.data.tags[tag_id].name} for tag_id in event.tag_ids],
            # README: only in the authenticated organization events listing, for the organization's own events
            "event_campaign": self._campaign_json(event.event_campaign_id)
            if listing and requester == event.sponsor_id else None,
        }

    def _campaign_json(self, campaign_id: int | None) -> dict | None:
        if campaign_id is None:
            return None
        campaign = self.data.event_campaigns[campaign_id]
        org = self.data.organizations[campaign.organization_id]
        return {"id": campaign.id, "slug": campaign.slug,
                "event_create_page_url": f"https://www.mobilize.us/{org.slug}/host/{campaign.slug}/"}

    def _deleted_events(self, request: Request) -> tuple[list, object]:
        return self._deleted_list(request, _organizations_named(request), requester=None)

    def _org_deleted_events(self, request: Request, org_id: int) -> tuple[list, object]:
        requester = self._reader(request, org_id)
        return self._deleted_list(request, self.data.promoters_of(org_id), requester)

    def _deleted_list(self, request: Request, sponsors: set[int] | None, requester: int | None) -> tuple[list, object]:
        # README: `updated_since` filters deleted events by the events' modified_date
        since = _updated_since(request)
        return [{"id": event_id, "deleted_date": deleted.deleted_date}
                for event_id, deleted in sorted(self.data.deleted_events.items())
                if deleted.event.modified_date >= since
                and (sponsors is None or deleted.event.sponsor_id in sponsors)
                and self._shown(deleted.event, request, requester)], dict

    def _org_people(self, request: Request, org_id: int) -> tuple[list, object]:
        self._organization(org_id)
        since = _updated_since(request)
        # every person in the world's Mobilize slice is affiliated with the primary organization
        affiliated = self.data.people.values() if org_id == PRIMARY_ORG_ID else []
        return [p for p in sorted(affiliated, key=lambda p: p.id) if p.modified_date >= since], _person_json

    def _org_attendances(self, request: Request, org_id: int) -> tuple[list, object]:
        self._organization(org_id)
        return self._attendance_list(request, org_id)

    def _attendance_list(self, request: Request, org_id: int) -> tuple[list, object]:
        since = _updated_since(request)
        sponsors = self.data.promoters_of(org_id)
        result = []
        for attendance in sorted(self.data.attendances.values(), key=lambda a: a.id):
            event = self.data.events.get(attendance.event_id)
            if event is None or attendance.modified_date < since or event.sponsor_id not in sponsors:
                continue
            result.append((attendance, event))
        requester = self.data.organizations[org_id]

        def render(item: tuple[Attendance, Event]) -> dict:
            attendance, event = item
            slot = _timeslot_json(next(s for s in event.timeslots if s.id == attendance.timeslot_id))
            rendered = {
                "id": attendance.id, "created_date": attendance.created_date,
                "modified_date": attendance.modified_date,
                "person": _person_json(self.data.people[attendance.person_id]),
                "event": self._event_json(event, event.timeslots, org_id, listing=False), "timeslot": slot,
                # the promoting organization when there is one, else the event's own
                "sponsor": _org_json(requester), "status": attendance.status,
                "attended": attendance.attended, "referrer": attendance.referrer,
            }
            if event.sponsor_id == org_id:
                # README "Attendance object": omitted unless the requesting organization owns the event
                rendered["custom_signup_field_values"] = [
                    _custom_value_json(self.data.custom_fields[field_id], value)
                    for field_id, value in sorted(attendance.custom_field_values.items())]
            if not requester.is_coordinated and self.data.organizations[event.sponsor_id].is_coordinated:
                # README "Attendance object": an independent organization reading a coordinated one's RSVP
                del rendered["id"], slot["id"]
                rendered["event"] = {"event_type": event.event_type}
            return rendered
        return result, render


def _custom_value_json(custom: CustomField, value: str | bool) -> dict:
    """README "CustomSignupFieldValue": exactly one of the two values is non-null."""
    return {"custom_field_id": custom.id, "custom_field_name": custom.name,
            "text_value": value if custom.kind == "text" else None,
            "boolean_value": value if custom.kind == "boolean" else None}


def _ghost_json(event: Event) -> dict:
    """A deleted event as issue #69 shows it: nulls but for the id, defaults and timeslot dates."""
    return {
        "id": event.id, "title": None, "description": None, "featured_image_url": None,
        "high_priority": False, "sponsor": None, "location": None, "timezone": event.timezone,
        "event_type": None, "browser_url": None, "created_date": None, "modified_date": None,
        "is_virtual": event.is_virtual, "visibility": None, "approval_status": None, "address_visibility": "PUBLIC",
        "contact": None, "tags": None, "created_by_volunteer_host": False, "accessibility_notes": None,
        "timeslots": [{"id": None, "start_date": s.start_date, "end_date": s.end_date, "is_full": False}
                      for s in event.timeslots],
    }


def _cursor(page: int) -> str:
    return base64.urlsafe_b64encode(f"p={page}".encode()).decode()


def _cursor_page(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("p="))
    except ValueError:
        raise ApiError(404, {"detail": "Invalid cursor"}) from None


def _choices(request: Request, name: str, allowed: tuple[str, ...], default: str) -> set[str]:
    chosen = set(request.args.getlist(name)) or {default}
    if not chosen <= set(allowed):
        raise ApiError(400, {name: [f"Select one or more of {', '.join(allowed)}."]})
    return chosen


def _visibilities(request: Request) -> set[str]:
    return _choices(request, "visibility", VISIBILITIES, "PUBLIC")


def _approval_statuses(request: Request) -> set[str]:
    return _choices(request, "approval_status", APPROVAL_STATUSES, "APPROVED")


def _integer(name: str, raw: object, status: int = 400) -> int:
    return integer_argument(raw, ApiError(status, {name: {"0": ["A valid integer is required."]}}))


def _organizations_named(request: Request) -> set[int] | None:
    """The organizations an `organization_id` filter names (it repeats); None when it names none: all of them."""
    return {_integer("organization_id", v) for v in request.args.getlist("organization_id")} or None


def _updated_since(request: Request) -> int:
    raw = request.args.get("updated_since")
    return 0 if raw is None else _integer("updated_since", raw)


_COMPARISON = re.compile(r"^(gte|gt|lte|lt)_(-?\d+)$")


def _comparison(field_name: str, raw: str) -> tuple[str, int]:
    match = _COMPARISON.match(raw)
    if not match:
        raise ApiError(400, {field_name: [f"Invalid comparison '{raw}': use gte_, gt_, lte_ or lt_ and a unix timestamp."]})
    return match.group(1), int(match.group(2))


def _compare(value: int, op: str, bound: int) -> bool:
    return {"gte": value >= bound, "gt": value > bound, "lte": value <= bound, "lt": value < bound}[op]


def serve(world: World, api_key: str, *, rate_limit: float | None = RATE_LIMIT, port: int = 0) -> FakeService:
    """A fake Mobilize API over `world`, 15 requests in any one second (call `.start()` or use `with`)."""
    return FakeService(MobilizeApi(world, api_key), name="mobilize", rate_limit=rate_limit, strict_window=True,
                       port=port, page_parameter=("cursor", _cursor_page))


def client_env(service: FakeService, api_key: str) -> dict[str, str]:
    """The configuration that points the `mobilize` source at this fake."""
    return {
        "SOURCES__MOBILIZE__BASE_URL": f"{service.url}{API_PREFIX}",
        "SOURCES__MOBILIZE__API_KEY": api_key,
        "SOURCES__MOBILIZE__ORGANIZATION_ID": str(PRIMARY_ORG_ID),
    }
