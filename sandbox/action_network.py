"""Action Network in the sandbox: its slice of the world and a fake of its v2 (OSDI) API.

Serves `../shared/seeds/002_4d761cadd923a5d8.txt` and `003_1a0cb76621dbd42f.txt`: HAL+JSON
collections of `people`, `events`, each event's `attendances`, `tags`, each tag's `taggings`
(also each person's, `/people/{id}/taggings`) and `event_campaigns`, records under
`_embedded["osdi:…"]`, `_links.next.href` paging with `page`/`per_page` (25 per page at most),
`identifiers` in `system:id` form, OData `filter=modified_date gt '…'` (also `lt`/`eq`, joined
by `and`), the `OSDI-API-Token` header (401 when wrong). The people collection carries no totals
and still shows a `next` link on its last page; a page past the end has an empty `_embedded` and
no `next`. Responses carry the world's clock in their `Date` header, as a server's clock.

Where the live API differs from the seeds, the fake behaves like the live API, by default
(evidence in `../shared/reference/vendor-behaviour.md`, Action Network section):

- Action Network-only fields are namespaced: RSVPs carry `action_network:referrer_data`
  (`source`, `referrer`, `website`, …), `action_network:person_id`, `action_network:event_id`;
  events and campaigns `action_network:hidden` (actionnetwork.org/docs/v2; Parsons).
- Email statuses are the six the docs and Parsons list (`subscribed`, `unsubscribed`,
  `bouncing`, `previous bounce`, `spam complaint`, `previous spam complaint`); phone statuses
  `subscribed`, `unsubscribed`, `bouncing`, `previous bounce` (public integrations' notes).
- OData `filter` is documented for people, events, event campaigns and attendances, not for
  tags or taggings: there it is answered 400 (unverified whether live rejects or ignores it;
  rejecting is the stricter of the two, so a source that works here works on either).
- Events that other groups host in an event campaign the group sponsors are listed only under
  `/event_campaigns/{id}/events`, their RSVPs only under
  `/event_campaigns/{id}/events/{event_id}/attendances` (changelog, May 2017; the campaign
  is required to reach them, per public integrations).
- The 4 requests/s limit counts arrivals: a fifth request in any one second is answered 429
  (`SlidingWindowLimit`), so evenly spaced starts plus network jitter earn 429s.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timezone

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox import draws, fakehttp, noise
from sandbox.fakehttp import (FakeService, ListingCache, VendorApi, integer_argument, json_response, page_count,
                              page_items, page_link)
from sandbox.mobilize import CITIES, VENUES
from sandbox.world import DAY, World, pick_changes

SOURCE = "action_network"
API_PREFIX = "/api/v2"
MAX_PER_PAGE = 25
RATE_LIMIT = 4  # requests per second, as the getting-started document says
TOKEN_HEADER = "OSDI-API-Token"
EVENT_TITLES = ("House Party for Justice", "Movie Screening", "Phone Bank", "Canvass Kickoff", "Town Hall",
                "Volunteer Training", "Rally at City Hall", "Letter Writing Night", "Potluck & Planning")
TAG_NAMES = ("Volunteer", "Donor", "Member", "Host", "Press", "Climate", "Housing", "Labor", "Student",
             "Faith leader", "Spanish speaker", "Board")
CUSTOM_FIELDS = {"volunteer_interest": ("canvassing", "phone banking", "hosting", "data entry"),
                 "employer": ("Acme Corp", "City of Philadelphia", "Self-employed", "SEIU 32BJ"),
                 "shirt_size": ("S", "M", "L", "XL")}
REFERRERS = ("email", "facebook", "twitter", "partner-site", None)
EMAIL_STATUSES = ("subscribed", "unsubscribed", "bouncing", "previous bounce", "spam complaint",
                  "previous spam complaint")
PHONE_STATUSES = ("subscribed", "unsubscribed", "bouncing", "previous bounce")
# the query parameter OData filters travel in, and the collections that reject it
FILTER_PARAMETER = "filter"
UNFILTERABLE = ("tags", "taggings", "person_taggings")


def iso(seconds: int) -> str:
    """Unix seconds as Action Network writes datetimes: `2014-03-18T22:17:36Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(slots=True)
class AnPerson:
    id: str
    key: int  # the world person: kept for the world's truth only, never served
    given_name: str
    family_name: str
    email: str | None
    email_status: str
    phone: str | None
    phone_status: str
    postal_code: str | None
    locality: str
    region: str
    languages_spoken: list[str]
    custom_fields: dict[str, str]
    created_date: int
    modified_date: int


@dataclass(slots=True)
class AnEvent:
    id: str
    title: str
    description: str
    start_local: int  # wall-clock seconds in the event's local time zone
    duration: int
    location: dict | None
    status: str
    capacity: int | None
    campaign_id: str | None
    hosted_by_others: bool  # in a campaign the group sponsors: listed only under the campaign
    created_date: int
    modified_date: int


@dataclass(slots=True)
class AnAttendance:
    id: str
    event_id: str
    person_id: str
    status: str  # accepted, declined, tentative
    attended: bool | None
    referrer: str | None
    created_date: int
    modified_date: int


@dataclass(slots=True)
class AnTag:
    id: str
    name: str
    created_date: int
    modified_date: int


@dataclass(slots=True)
class AnTagging:
    id: str
    tag_id: str
    person_id: str
    created_date: int
    modified_date: int


@dataclass(slots=True)
class AnCampaign:
    id: str
    title: str
    description: str
    created_date: int
    modified_date: int


@dataclass
class ActionNetworkData:
    people: dict[str, AnPerson]
    events: dict[str, AnEvent]
    attendances: dict[str, AnAttendance]
    tags: dict[str, AnTag]
    taggings: dict[str, AnTagging]
    event_campaigns: dict[str, AnCampaign]
    # child collections, for serving: event id -> attendance ids, tag id -> tagging ids
    by_event: dict[str, list[str]] = field(default_factory=dict)
    by_tag: dict[str, list[str]] = field(default_factory=dict)

    def add_attendance(self, attendance: AnAttendance) -> None:
        self.attendances[attendance.id] = attendance
        self.by_event.setdefault(attendance.event_id, []).append(attendance.id)

    def add_tagging(self, tagging: AnTagging) -> None:
        self.taggings[tagging.id] = tagging
        self.by_tag.setdefault(tagging.tag_id, []).append(tagging.id)


# --- the world's Action Network slice ---------------------------------------------------

def _event(rng: random.Random, now: int, campaigns: list[str]) -> AnEvent:
    city, region = rng.choice(CITIES)
    created = now - rng.randrange(2 * DAY, 300 * DAY)
    start = draws.event_start(rng, now)
    virtual = rng.random() < 0.1
    location = None if virtual else {
        "venue": rng.choice(VENUES),
        "address_lines": [draws.street(rng, "Ave")],
        "locality": city, "region": region, "postal_code": draws.postal_code(rng),
        "country": "US", "language": "en",
        "location": {**draws.coordinates(rng, 6), "accuracy": rng.choice(("Rooftop", "Approximate"))},
    }
    return AnEvent(
        id=_uuid(rng), title=f"{rng.choice(EVENT_TITLES)} in {city}",
        description=f"<p>Come to {city} &amp; bring a friend!</p>",
        start_local=start, duration=rng.choice((3600, 7200, 10800)), location=location,
        status="cancelled" if rng.random() < 0.05 else "confirmed",
        capacity=rng.choice((None, None, 10, 25, 100)),
        campaign_id=rng.choice(campaigns) if campaigns and rng.random() < 0.3 else None, hosted_by_others=False,
        created_date=created, modified_date=draws.later(rng, created, now),
    )


def _attendance(rng: random.Random, event: AnEvent, person: AnPerson, now: int) -> AnAttendance:
    created = min(draws.soon_after(rng, event.created_date, person.created_date), now)
    past = event.start_local + event.duration < now
    status = "declined" if rng.random() < 0.08 else ("tentative" if rng.random() < 0.05 else "accepted")
    attended = draws.attended(rng, past, cancelled=status == "declined")
    return AnAttendance(_uuid(rng), event.id, person.id, status, attended, rng.choice(REFERRERS), created,
                        draws.rsvp_changed(rng, created, now))


def _not_subscribed(rng: random.Random, statuses: tuple[str, ...]) -> str:
    return rng.choice(statuses[1:])


def generate(world: World) -> ActionNetworkData:
    rng = world.rng(SOURCE)
    # statuses and hosts draw from their own stream, so the rest of the slice stays as it was
    status_rng = world.rng(f"{SOURCE}-statuses")
    now = world.clock.now
    people: dict[str, AnPerson] = {}
    for person in world.persons:
        if rng.random() >= 0.65:
            continue
        contact = noise.noisy_contact(person, rng, phone_rate=0.5)
        city, region = rng.choice(CITIES)
        created = now - rng.randrange(DAY, 3 * 365 * DAY)
        custom = {name: rng.choice(values) for name, values in CUSTOM_FIELDS.items() if rng.random() < 0.3}
        an_person = AnPerson(
            _uuid(rng), person.key, contact.given_name, contact.family_name, contact.email,
            _not_subscribed(status_rng, EMAIL_STATUSES) if rng.random() < 0.12 else "subscribed", contact.phone,
            _not_subscribed(status_rng, PHONE_STATUSES) if status_rng.random() < 0.1 else "subscribed",
            contact.postal_code,
            city, region, ["en"] if rng.random() < 0.9 else ["es"], custom,
            created, draws.later(rng, created, now))
        people[an_person.id] = an_person
        world.truth.append((SOURCE, an_person.id, person.key))

    campaigns = {}
    for n in range(max(2, len(world.persons) // 400)):
        created = now - rng.randrange(30 * DAY, 400 * DAY)
        campaign = AnCampaign(_uuid(rng), f"Day of Action {n + 1}", "<p>Host an event near you.</p>",
                              created, draws.later(rng, created, now))
        campaigns[campaign.id] = campaign

    events: dict[str, AnEvent] = {}
    for _ in range(max(10, len(world.persons) // 10)):
        event = _event(rng, now, list(campaigns))
        events[event.id] = event
    # the first campaign is one the group sponsors: other groups host half its events
    sponsored = next(iter(campaigns))
    for event in events.values():
        event.hosted_by_others = event.campaign_id == sponsored and status_rng.random() < 0.5

    tags = {}
    for name in TAG_NAMES:
        created = now - rng.randrange(30 * DAY, 700 * DAY)
        tag = AnTag(_uuid(rng), name, created, created)
        tags[tag.id] = tag

    data = ActionNetworkData(people, events, {}, tags, {}, campaigns)
    event_list, tag_list = list(events.values()), list(tags.values())
    for person in people.values():
        # about four RSVPs per person: 2,000 world people give about 5,000 attendances
        for event in rng.sample(event_list, min(len(event_list), rng.choice(range(9)))):
            data.add_attendance(_attendance(rng, event, person, now))
        for tag in rng.sample(tag_list, rng.choice((0, 0, 1, 1, 2, 3))):
            created = min(draws.soon_after(rng, person.created_date, tag.created_date), now)
            data.add_tagging(AnTagging(_uuid(rng), tag.id, person.id, created, created))
    return data


def advance(world: World, fraction: float) -> None:
    """A day on Action Network: profile edits, event edits, changed and new RSVPs, new tags on people."""
    data: ActionNetworkData = world.vendors[SOURCE]  # type: ignore[assignment]
    rng = world.rng(f"{SOURCE}-advance")
    now = world.clock.now
    changes = partial(pick_changes, rng, fraction)

    for person in changes(list(data.people.values())):
        person.postal_code = draws.postal_code(rng)
        person.email_status = rng.choice(EMAIL_STATUSES)
        person.modified_date = now
    for event in changes(list(data.events.values())):
        event.title = f"{event.title} (updated)"
        event.modified_date = now
    for attendance in changes(list(data.attendances.values())):
        attendance.status = "declined" if attendance.status != "declined" else "accepted"
        attendance.modified_date = now
    new_event = _event(rng, now, list(data.event_campaigns))
    new_event.created_date = new_event.modified_date = now
    data.events[new_event.id] = new_event
    for person in changes(list(data.people.values())):
        data.add_attendance(AnAttendance(_uuid(rng), new_event.id, person.id, "accepted", None,
                                         rng.choice(REFERRERS), now, now))
        # "the modified_date on person records updates any time a person takes an action"
        person.modified_date = now
    tag = rng.choice(list(data.tags.values()))
    for person in changes(list(data.people.values())):
        data.add_tagging(AnTagging(_uuid(rng), tag.id, person.id, now, now))
        person.modified_date = now


# --- the fake API -----------------------------------------------------------------------

class ApiError(fakehttp.ApiError):
    """Action Network's refusal: `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, {"error": message})


_CONDITION = re.compile(r"^\s*(modified_date|created_date)\s+(gt|lt|eq)\s+'([^']+)'\s*$")


def _parse_datetime(raw: str) -> int:
    for form in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(raw, form).replace(tzinfo=timezone.utc).timestamp())
        except ValueError:
            continue
    raise ApiError(400, f"Invalid date in filter: '{raw}'")


def parse_filter(raw: str | None) -> list[tuple[str, str, int]]:
    """OData as Action Network takes it: `modified_date gt '2014-03-25'`, conditions joined by `and`."""
    if not raw:
        return []
    conditions = []
    for part in re.split(r"\s+and\s+", raw.strip()):
        match = _CONDITION.match(part)
        if not match:
            raise ApiError(400, f"Invalid filter: {raw}")
        conditions.append((match.group(1), match.group(2), _parse_datetime(match.group(3))))
    return conditions


def _matches(record: object, conditions: list[tuple[str, str, int]]) -> bool:
    for name, op, bound in conditions:
        value = getattr(record, name)
        if not {"gt": value > bound, "lt": value < bound, "eq": value == bound}[op]:
            return False
    return True


class ActionNetworkApi(VendorApi):
    """The WSGI side of the fake; `FakeService` adds the rate limit and faults around it."""

    vendor = SOURCE

    def __init__(self, world: World, api_key: str) -> None:
        self.world = world
        self.api_key = api_key
        self.routes = Map([
            Rule(f"{API_PREFIX}/people", endpoint="people"),
            Rule(f"{API_PREFIX}/people/<id>", endpoint="person"),
            Rule(f"{API_PREFIX}/people/<id>/taggings", endpoint="person_taggings"),
            Rule(f"{API_PREFIX}/events", endpoint="events"),
            Rule(f"{API_PREFIX}/events/<id>", endpoint="event"),
            Rule(f"{API_PREFIX}/events/<id>/attendances", endpoint="attendances"),
            Rule(f"{API_PREFIX}/tags", endpoint="tags"),
            Rule(f"{API_PREFIX}/tags/<id>", endpoint="tag"),
            Rule(f"{API_PREFIX}/tags/<id>/taggings", endpoint="taggings"),
            Rule(f"{API_PREFIX}/event_campaigns", endpoint="event_campaigns"),
            Rule(f"{API_PREFIX}/event_campaigns/<id>", endpoint="event_campaign"),
            Rule(f"{API_PREFIX}/event_campaigns/<id>/events", endpoint="campaign_events"),
            Rule(f"{API_PREFIX}/event_campaigns/<campaign>/events/<id>/attendances", endpoint="attendances"),
        ], strict_slashes=False)
        # filtered, ordered listings of the current world version; paging slices them
        self._listings = ListingCache(world)
        self._local = threading.local()  # the API root links are written against, per request

    def handle(self, request: Request, endpoint: str, args: dict) -> Response:
        if request.headers.get(TOKEN_HEADER) != self.api_key:
            raise ApiError(401, "API Key invalid or not present")
        if request.method != "GET":
            raise ApiError(405, f"{request.method} is not supported by this sandbox")
        self._local.base = f"{request.host_url.rstrip('/')}{API_PREFIX}"
        if endpoint in ("person", "event", "tag", "event_campaign"):
            return self._single(endpoint, args["id"])
        if endpoint in UNFILTERABLE and FILTER_PARAMETER in request.args:
            raise ApiError(400, f"filter is not supported on {endpoint.removeprefix('person_')}")
        if endpoint == "attendances":
            self._check_event_path(args["id"], args.get("campaign"))
        return self._collection(request, endpoint, args.get("id"))

    def _check_event_path(self, event_id: str, campaign_id: str | None) -> None:
        """An event hosted by another group is reachable only through its campaign, and only there."""
        event = self.data.events.get(event_id)
        if event is None or (campaign_id is not None and event.campaign_id != campaign_id):
            raise ApiError(404, "Not found")
        if event.hosted_by_others and campaign_id is None:
            raise ApiError(404, "Not found")

    # --- single resources -------------------------------------------------------------
    def _single(self, endpoint: str, record_id: str) -> Response:
        table, render = {
            "person": (self.data.people, self._person_json), "event": (self.data.events, self._event_json),
            "tag": (self.data.tags, self._tag_json), "event_campaign": (self.data.event_campaigns, self._campaign_json),
        }[endpoint]
        if record_id not in table:
            raise ApiError(404, "Not found")
        payload = render(table[record_id])
        payload["_links"]["curies"] = self._curies()
        return _hal_response(payload)

    # --- collections ------------------------------------------------------------------
    def _records(self, endpoint: str, parent: str | None) -> tuple[list, str, object]:
        data = self.data
        if endpoint == "people":
            return list(data.people.values()), "osdi:people", self._person_json
        if endpoint == "events":
            # the group's own events: those others host in its campaigns are listed under the campaign
            return [e for e in data.events.values() if not e.hosted_by_others], "osdi:events", self._event_json
        if endpoint == "tags":
            return list(data.tags.values()), "osdi:tags", self._tag_json
        if endpoint == "event_campaigns":
            return list(data.event_campaigns.values()), "action_network:event_campaigns", self._campaign_json
        if endpoint == "campaign_events":
            if parent not in data.event_campaigns:
                raise ApiError(404, "Not found")
            return [e for e in data.events.values() if e.campaign_id == parent], "osdi:events", self._event_json
        if endpoint == "attendances":
            return ([data.attendances[i] for i in data.by_event.get(parent, [])], "osdi:attendances",
                    self._attendance_json)
        if endpoint == "person_taggings":
            if parent not in data.people:
                raise ApiError(404, "Not found")
            return [t for t in data.taggings.values() if t.person_id == parent], "osdi:taggings", self._tagging_json
        if parent not in data.tags:
            raise ApiError(404, "Not found")
        return [data.taggings[i] for i in data.by_tag.get(parent, [])], "osdi:taggings", self._tagging_json

    def _collection(self, request: Request, endpoint: str, parent: str | None) -> Response:
        per_page = min(_integer("per_page", request.args.get("per_page", MAX_PER_PAGE)), MAX_PER_PAGE)
        page = _integer("page", request.args.get("page", 1))
        if per_page < 1 or page < 1:
            raise ApiError(400, "page and per_page must be positive")
        raw_filter = request.args.get("filter")
        key = (endpoint, parent, raw_filter)

        def build() -> tuple[list, str, object]:
            records, rel, render = self._records(endpoint, parent)
            conditions = parse_filter(raw_filter)
            # people are not ordered by modified_date (September 2016); every listing is stable
            listed = sorted((r for r in records if _matches(r, conditions)), key=lambda r: (r.created_date, r.id))
            return listed, rel, render

        listed, rel, render = self._listings.get(key, build)
        items = page_items(listed, page, per_page)

        def link(number: int) -> dict:
            return {"href": page_link(request, "page", str(number))}

        body: dict = {}
        if endpoint == "people":
            # no totals on people (September 2016); `next` on every page that returned people
            has_next = bool(items)
        else:
            total_pages = page_count(len(listed), per_page)
            body |= {"total_pages": total_pages, "total_records": len(listed)}
            has_next = page < total_pages
        rendered = [render(item) for item in items]
        links: dict = {"self": {"href": request.url}}
        if has_next:
            links["next"] = link(page + 1)
        if page > 1:
            links["previous"] = link(page - 1)
        links[rel] = [{"href": r["_links"]["self"]["href"]} for r in rendered]
        links["curies"] = self._curies()
        body |= {"per_page": per_page, "page": page, "_links": links, "_embedded": {rel: rendered}}
        return _hal_response(body)

    # --- rendering --------------------------------------------------------------------
    def _curies(self) -> list[dict]:
        return [{"name": name, "href": "https://actionnetwork.org/docs/v2/{rel}", "templated": True}
                for name in ("osdi", "action_network")]

    def _href(self, *parts: str) -> dict:
        return {"href": "/".join((self._local.base, *parts))}

    def _person_json(self, person: AnPerson) -> dict:
        return {
            "identifiers": [f"action_network:{person.id}"],
            "created_date": iso(person.created_date), "modified_date": iso(person.modified_date),
            "given_name": person.given_name, "family_name": person.family_name,
            "languages_spoken": person.languages_spoken,
            "email_addresses": [{"primary": True, "address": person.email, "status": person.email_status}]
            if person.email else [],
            "phone_numbers": [{"primary": True, "number": person.phone, "number_type": "Mobile",
                               "status": person.phone_status}] if person.phone else [],
            "postal_addresses": [{"primary": True, "postal_code": person.postal_code, "locality": person.locality,
                                  "region": person.region, "country": "US", "language": "en",
                                  "location": {"latitude": None, "longitude": None, "accuracy": None}}]
            if person.postal_code else [],
            "custom_fields": person.custom_fields,
            "_links": {"self": self._href("people", person.id),
                       "osdi:attendances": self._href("people", person.id, "attendances"),
                       "osdi:taggings": self._href("people", person.id, "taggings")},
        }

    def _event_path(self, event: AnEvent) -> tuple[str, ...]:
        if event.hosted_by_others:
            return ("event_campaigns", event.campaign_id or "", "events", event.id)
        return ("events", event.id)

    def _event_json(self, event: AnEvent) -> dict:
        path = self._event_path(event)
        payload = {
            "identifiers": [f"action_network:{event.id}"], "origin_system": "Action Network",
            "created_date": iso(event.created_date), "modified_date": iso(event.modified_date),
            "name": event.title.upper(), "title": event.title, "description": event.description,
            "instructions": "<p>Feel free to bring a friend</p>",
            "browser_url": f"https://actionnetwork.org/events/{event.id[:8]}",
            # local wall-clock time written with a Z, as Action Network does
            "start_date": iso(event.start_local), "end_date": iso(event.start_local + event.duration),
            "status": event.status, "transparence": "opaque", "visibility": "public",
            "guests_can_invite_others": True, "reminders": [{"method": "email", "minutes": 1440}],
            "total_accepted": sum(1 for i in self.data.by_event.get(event.id, [])
                                  if self.data.attendances[i].status != "declined"),
            "action_network:hidden": False,
            "action_network:sponsor": {"title": "Neighbours United" if event.hosted_by_others
                                       else "Keystone Organizing Project",
                                       "browser_url": "https://actionnetwork.org/groups/keystone"},
            "_links": {"self": self._href(*path),
                       "osdi:attendances": self._href(*path, "attendances"),
                       "osdi:record_attendance_helper": self._href(*path, "attendances"),
                       "action_network:embed": self._href("events", event.id, "embed")},
        }
        if event.capacity is not None:
            payload["capacity"] = event.capacity
        if event.location is not None:
            payload["location"] = event.location
        if event.campaign_id is not None:
            payload["action_network:event_campaign_id"] = event.campaign_id
            payload["_links"]["action_network:event_campaign"] = self._href("event_campaigns", event.campaign_id)
        return payload

    def _attendance_json(self, attendance: AnAttendance) -> dict:
        event = self._event_path(self.data.events[attendance.event_id])
        payload = {
            "identifiers": [f"action_network:{attendance.id}"],
            "created_date": iso(attendance.created_date), "modified_date": iso(attendance.modified_date),
            "status": attendance.status,
            "action_network:person_id": attendance.person_id, "action_network:event_id": attendance.event_id,
            "action_network:referrer_data": {
                "source": attendance.referrer or "none", "referrer": attendance.referrer or "none",
                "website": "actionnetwork.org" if attendance.referrer else "none",
                "email_referrer": "none", "mobile_referrer": "none"},
            "_links": {"self": self._href(*event, "attendances", attendance.id),
                       "osdi:event": self._href(*event),
                       "osdi:person": self._href("people", attendance.person_id)},
        }
        if attendance.attended is not None:
            payload["attended"] = attendance.attended
        return payload

    def _tag_json(self, tag: AnTag) -> dict:
        return {
            "identifiers": [f"action_network:{tag.id}"], "name": tag.name,
            "created_date": iso(tag.created_date), "modified_date": iso(tag.modified_date),
            "_links": {"self": self._href("tags", tag.id), "osdi:taggings": self._href("tags", tag.id, "taggings")},
        }

    def _tagging_json(self, tagging: AnTagging) -> dict:
        return {
            "identifiers": [f"action_network:{tagging.id}"], "item_type": "osdi:person",
            "created_date": iso(tagging.created_date), "modified_date": iso(tagging.modified_date),
            "_links": {"self": self._href("tags", tagging.tag_id, "taggings", tagging.id),
                       "osdi:tag": self._href("tags", tagging.tag_id),
                       "osdi:person": self._href("people", tagging.person_id)},
        }

    def _campaign_json(self, campaign: AnCampaign) -> dict:
        return {
            "identifiers": [f"action_network:{campaign.id}"], "origin_system": "Action Network",
            "created_date": iso(campaign.created_date), "modified_date": iso(campaign.modified_date),
            "title": campaign.title, "description": campaign.description,
            "browser_url": f"https://actionnetwork.org/event_campaigns/{campaign.id[:8]}",
            "total_events": sum(1 for e in self.data.events.values() if e.campaign_id == campaign.id),
            "action_network:hidden": False,
            "_links": {"self": self._href("event_campaigns", campaign.id),
                       "osdi:events": self._href("event_campaigns", campaign.id, "events")},
        }


def _hal_response(payload: dict) -> Response:
    return json_response(payload, headers={"Content-Type": "application/hal+json"})


def _integer(name: str, raw: object) -> int:
    return integer_argument(raw, ApiError(400, f"{name} must be an integer"))


def serve(world: World, api_key: str, *, rate_limit: float | None = RATE_LIMIT, port: int = 0) -> FakeService:
    """A fake Action Network API over `world`, 4 requests in any one second (call `.start()` or use `with`)."""
    return FakeService(ActionNetworkApi(world, api_key), name=SOURCE, rate_limit=rate_limit, strict_window=True,
                       port=port, clock=lambda: world.clock.now)


# pacing for a fake served without a rate limit
UNLIMITED_REQUESTS_PER_SECOND = 200


def client_env(service: FakeService, api_key: str) -> dict[str, str]:
    """The configuration that points the `action_network` source at this fake, paced to its limit."""
    rate = service.bucket.rate if service.bucket is not None else UNLIMITED_REQUESTS_PER_SECOND
    return {
        "SOURCES__ACTION_NETWORK__BASE_URL": f"{service.url}{API_PREFIX}",
        "SOURCES__ACTION_NETWORK__API_KEY": api_key,
        "SOURCES__ACTION_NETWORK__REQUESTS_PER_SECOND": f"{rate:g}",
    }
