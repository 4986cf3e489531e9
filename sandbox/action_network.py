"""Action Network in the sandbox: its slice of the world and a fake of its v2 (OSDI) API.

Serves `../shared/seeds/002_4d761cadd923a5d8.txt` and `003_1a0cb76621dbd42f.txt`: HAL+JSON
collections of `people`, `events`, each event's `attendances`, `tags`, each tag's `taggings`
(also each person's, `/people/{id}/taggings`), `event_campaigns` and the actions (below),
records under `_embedded["osdi:…"]`, `_links.next.href` paging with `page`/`per_page` (25 per
page at most), `identifiers` in `system:id` form, OData `filter=modified_date gt '…'` (also
`lt`/`eq`, joined by `and`), the `OSDI-API-Token` header (401 when wrong). The people collection carries no totals
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

Actions: `petitions`, `forms`, `fundraising_pages` and `advocacy_campaigns` (one table,
`ACTION_KINDS`), each page's `signatures`, `submissions`, `donations` and `outreaches`
(`/petitions/{id}/signatures`, …), and `lists`, served as the public evidence shows them:

- Collections and relations: actionnetwork.org/docs/v2/{petitions, signatures, forms,
  submissions, fundraising_pages, donations, advocacy_campaigns, outreaches, lists}; the example
  payloads in move-coop/parsons `test/test_action_network/data/fake_*.json` (copied from those
  pages). Pages under `osdi:<collection>`, actions under `osdi:signatures`, `osdi:submissions`,
  `osdi:donations`, `osdi:outreaches`, lists under `osdi:lists`. Advocacy campaigns are embedded
  as `osdi:advocacy_campaigns`, not `action_network:…` (Parsons' fixture; hotglue's
  target-actionnetwork reads that key from the live API; OSDI's advocacy_campaigns.md), and an
  outreach links its campaign as `osdi:advocacy_campaign`.
- Every action carries `action_network:person_id` and its page's `action_network:<page>_id`
  (`action_network:petition_id`, …) beside the HAL links `osdi:person` and `osdi:petition` (…);
  and `action_network:referrer_data` {source, referrer, website, email_referrer,
  mobile_referrer}, "none" where empty (webhook payload docs, actionnetwork.org/docs/webhooks/
  {signature, submission, donation, outreach}; changelog May 2020: "Added email and mobile
  referrer to 'transaction' API endpoints such as signatures, submissions"). Pages carry
  `action_network:hidden` (changelog August 2016: "action resources (petitions, forms, etc...)"),
  `total_<actions>`, and embed their creator as `osdi:creator` (Parsons' fixtures).
- Donations: `amount` a string ("The amount of money donated", webhook docs; "20.01" in the
  docs' examples), `currency`, `recipients` [{display_name, amount}], `payment` {method,
  reference_number, authorization_stored}, `action_network:recurrence` {recurring, period}
  ("Monthly"; other periods unverified). A recurring donor's monthly charges are each a donation
  on the same page (help centre, "Recurring donation information"; each charge its own record is
  the reading the docs' "not deduplicated based on person" supports, unverified in detail).
- Outreaches: `type` (email or phone), `targets` [{title, given_name, family_name, ocdid}],
  `subject`/`message` for letters, `duration` for calls (OSDI outreaches.md). The docs say the UI
  shows one outreach per target; here an outreach holds one to three targets, as the API's
  `targets` array allows (unverified how often live outreaches hold more than one).
- Signatures and submissions are one per person per page ("deduplicated based on person");
  donations and outreaches are not. Signature `comments` are optional.
- Lists: read only, `name` (administrative title), `title`, `description` ("Email" or
  "Report"), `browser_url` (docs/v2/lists). The OData filter is not documented for lists (Parsons'
  list of filterable collections leaves them out): answered 400, like tags.
- Unverified, so the fake takes the stricter side: whether a new action moves its page's
  `modified_date` (here it does not), and whether email_referrer holds an email's id (here
  "email-<n>").

In the world, most of a page's actions come within days of its launch (`ACTION_LAG`), so old
pages are quiet, except fundraising pages with recurring donors, charged monthly for up to a year.
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
UNFILTERABLE = ("tags", "taggings", "person_taggings", "lists")


@dataclass(frozen=True)
class ActionKind:
    """A kind of action page and the actions people take on it, named as the API names them, with
    how many of its pages a world holds (`least`, or one per `per_people` world people)."""

    page: str  # one page: "petition" (its HAL relation osdi:petition, its id action_network:petition_id)
    pages: str  # the collection of pages, under `_embedded["osdi:<pages>"]`
    action: str  # one action: "signature" (its helper osdi:record_signature_helper)
    actions: str  # a page's collection of actions, under `_embedded["osdi:<actions>"]`
    browser_path: str  # where its pages live on actionnetwork.org
    least: int
    per_people: int
    titles: tuple[str, ...]

    @property
    def page_rel(self) -> str:
        return f"osdi:{self.page}"

    @property
    def page_id_field(self) -> str:
        return f"action_network:{self.page}_id"


ACTION_KINDS = (
    ActionKind("petition", "petitions", "signature", "signatures", "petitions", 3, 250,
               ("Fund Our Schools", "Stop the Rent Hike", "Clean Air Now", "Protect Voting Rights")),
    ActionKind("form", "forms", "submission", "submissions", "forms", 3, 300,
               ("Volunteer Interest Form", "Share Your Story", "Pledge to Vote", "Member Survey")),
    ActionKind("fundraising_page", "fundraising_pages", "donation", "donations", "fundraising", 2, 300,
               ("Sustain the Movement", "Rapid Response Fund", "Year-End Drive", "Bail Fund")),
    ActionKind("advocacy_campaign", "advocacy_campaigns", "outreach", "outreaches", "letters", 2, 400,
               ("Call Your Senator", "Write Your Council Member", "Tell the Governor: Sign the Bill")),
)
KIND_OF_PAGES = {kind.pages: kind for kind in ACTION_KINDS}
KIND_OF_ACTIONS = {kind.actions: kind for kind in ACTION_KINDS}
GROUP_NAME = "Keystone Organizing Project"
# most of a page's actions come within days of its launch: a quiet old page stays quiet
ACTION_LAG = 5 * DAY
# a page launched this recently is still drawing actions (what `advance` adds to)
RECENT_PAGE = 21 * DAY
MONTH = 30 * DAY
RECURRING_SHARE = 0.2
AMOUNTS = (5, 10, 15, 25, 27, 50, 100, 250, 1000.5)
COMMENTS = ("Our kids deserve better.", "Please act now!", "I live here and this matters.",
            "Stop doing the bad thing", "Signed for my grandmother.")
TARGETS = (("Senator", "Maria", "Alvarez", "ocd-division/country:us/state:pa"),
           ("Senator", "John", "Fetterly", "ocd-division/country:us/state:pa"),
           ("Representative", "Jill", "Black", "ocd-division/country:us/state:pa/cd:3"),
           ("Council Member", "Ray", "Okafor",
            "ocd-division/country:us/state:pa/place:philadelphia/council_district:5"))
LIST_SUBJECTS = ("Can you chip in $5?", "Event tonight!", "Monthly volunteers", "Petition signers, not donors",
                 "This week in the movement")


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


@dataclass(slots=True)
class AnPage:
    """A petition, form, fundraising page or advocacy campaign: a page people take action on."""

    id: str
    kind: str  # its collection: petitions, forms, fundraising_pages, advocacy_campaigns
    title: str
    hidden: bool  # hidden in the UI; the API still lists it, with `action_network:hidden`
    outreach_type: str  # advocacy campaigns: "email" (letters) or "phone" (calls); "" for the rest
    created_date: int
    modified_date: int


@dataclass(slots=True)
class AnAction:
    """A signature, submission, donation or outreach: one person acting on one page."""

    id: str
    kind: str  # its collection: signatures, submissions, donations, outreaches
    page_id: str
    person_id: str
    referrer: str | None  # the source code of the link followed; served as "none" when None
    email_referrer: str | None  # the email (a list) whose link was followed
    created_date: int
    modified_date: int
    comments: str | None = None  # signatures
    amount: str | None = None  # donations, as the API writes it: "25", "25.00", "1000.50"
    recurrence: str | None = None  # donations: the period ("Monthly") of a recurring donation
    targets: list[tuple[str, str, str, str]] = field(default_factory=list)  # outreaches


@dataclass(slots=True)
class AnList:
    """A list: an email sent or a report saved (read only)."""

    id: str
    name: str
    title: str
    description: str  # "Email" or "Report"
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
    # action pages and the actions on them (the truth tests count: each action's person_id is an
    # Action Network person, whose world person `World.truth` names), page id -> action ids
    petitions: dict[str, AnPage] = field(default_factory=dict)
    forms: dict[str, AnPage] = field(default_factory=dict)
    fundraising_pages: dict[str, AnPage] = field(default_factory=dict)
    advocacy_campaigns: dict[str, AnPage] = field(default_factory=dict)
    signatures: dict[str, AnAction] = field(default_factory=dict)
    submissions: dict[str, AnAction] = field(default_factory=dict)
    donations: dict[str, AnAction] = field(default_factory=dict)
    outreaches: dict[str, AnAction] = field(default_factory=dict)
    lists: dict[str, AnList] = field(default_factory=dict)
    by_page: dict[str, list[str]] = field(default_factory=dict)

    def pages_of(self, kind: ActionKind) -> dict[str, AnPage]:
        return getattr(self, kind.pages)

    def actions_of(self, kind: ActionKind) -> dict[str, AnAction]:
        return getattr(self, kind.actions)

    def add_page(self, page: AnPage) -> None:
        self.pages_of(KIND_OF_PAGES[page.kind])[page.id] = page

    def add_action(self, action: AnAction) -> None:
        self.actions_of(KIND_OF_ACTIONS[action.kind])[action.id] = action
        self.by_page.setdefault(action.page_id, []).append(action.id)

    def actions_on(self, page: AnPage) -> list[AnAction]:
        actions = self.actions_of(KIND_OF_PAGES[page.kind])
        return [actions[i] for i in self.by_page.get(page.id, [])]

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
    _generate_actions(world, data)
    return data


def advance(world: World, fraction: float) -> None:
    """A day on Action Network: profile edits, event edits, changed and new RSVPs, new tags on people,
    and actions (`_advance_actions`)."""
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
    _advance_actions(world, data, fraction)


# --- action pages, the actions people take on them, lists ----------------------------------
# Drawn from streams of their own, after the rest of the slice, so that people, events, RSVPs
# and tags draw exactly as they did before actions existed (tests compare worlds by seed).

def _generate_actions(world: World, data: ActionNetworkData) -> None:
    """A handful of each kind of page (more in a bigger world), and who acted on each when."""
    rng = world.rng(f"{SOURCE}-actions")
    now = world.clock.now
    people = list(data.people.values())
    for kind in ACTION_KINDS:
        for n in range(max(kind.least, len(world.persons) // kind.per_people)):
            # the first of each kind is running now; the rest launched over the last year and a half
            page = _page(rng, kind, now - rng.randrange(DAY, (RECENT_PAGE if n == 0 else 540 * DAY)), now)
            data.add_page(page)
            reach = rng.uniform(0.05, 0.4)
            for person in people:
                if rng.random() < reach:
                    _act(rng, data, page, person, page.created_date + int(rng.expovariate(1 / ACTION_LAG)), now)
    for n in range(max(3, len(world.persons) // 300)):
        _add_list(rng, data, now - rng.randrange(DAY, 300 * DAY), now)


def _page(rng: random.Random, kind: ActionKind, created: int, now: int) -> AnPage:
    edited = created + rng.randrange(0, max(1, min(60 * DAY, now - created)))
    return AnPage(_uuid(rng), kind.pages, rng.choice(kind.titles), rng.random() < 0.15,
                  rng.choice(("email", "email", "phone")) if kind.pages == "advocacy_campaigns" else "",
                  created, edited)


def _act(rng: random.Random, data: ActionNetworkData, page: AnPage, person: AnPerson, moment: int, now: int) -> None:
    """`person` acts on `page` at `moment`, unless that is still to come or before they were on the list."""
    if moment > now or moment < person.created_date:
        return
    for action in ACTS[page.kind](rng, page, person, moment, now):
        data.add_action(action)


def _action(rng: random.Random, kind: str, page: AnPage, person: AnPerson, created: int, now: int,
            **fields: object) -> AnAction:
    referrer = rng.choice(REFERRERS)
    # most actions are never edited; some are, within weeks
    edited = created if rng.random() < 0.85 else draws.rsvp_changed(rng, created, now)
    return AnAction(_uuid(rng), kind, page.id, person.id, referrer,
                    f"email-{rng.randrange(1, 40)}" if referrer == "email" else None, created, edited,
                    **fields)  # type: ignore[arg-type]


def _signature(rng: random.Random, page: AnPage, person: AnPerson, moment: int, now: int) -> list[AnAction]:
    comments = rng.choice(COMMENTS) if rng.random() < 0.3 else None
    return [_action(rng, "signatures", page, person, moment, now, comments=comments)]


def _submission(rng: random.Random, page: AnPage, person: AnPerson, moment: int, now: int) -> list[AnAction]:
    return [_action(rng, "submissions", page, person, moment, now)]


def _amount(rng: random.Random) -> str:
    """A donation's amount as the API writes it, a string: "25", "25.00", "1000.50"."""
    value = rng.choice(AMOUNTS)
    return f"{value:g}" if value == int(value) and rng.random() < 0.3 else f"{value:.2f}"


def _donations(rng: random.Random, page: AnPage, person: AnPerson, moment: int, now: int) -> list[AnAction]:
    """One donation, or a recurring donor's monthly donations so far, each its own record."""
    amount = _amount(rng)
    if rng.random() >= RECURRING_SHARE:
        return [_action(rng, "donations", page, person, moment, now, amount=amount)]
    payments = [moment + n * MONTH for n in range(rng.randint(2, 12))]
    return [_action(rng, "donations", page, person, paid, now, amount=amount, recurrence="Monthly")
            for paid in payments if paid <= now]


def _outreaches(rng: random.Random, page: AnPage, person: AnPerson, moment: int, now: int) -> list[AnAction]:
    """A letter or call to one to three targets; now and then a second one later the same day."""
    moments = [moment] if rng.random() < 0.9 else [moment, moment + rng.randrange(60, 6 * 3600)]
    return [_action(rng, "outreaches", page, person, sent, now, targets=rng.sample(TARGETS, rng.choice((1, 1, 2, 3))))
            for sent in moments if sent <= now]


ACTS = {"petitions": _signature, "forms": _submission, "fundraising_pages": _donations,
        "advocacy_campaigns": _outreaches}


def _add_list(rng: random.Random, data: ActionNetworkData, created: int, now: int) -> None:
    email = rng.random() < 0.7
    subject = rng.choice(LIST_SUBJECTS)
    listed = AnList(_uuid(rng), f"{'Email' if email else 'Report'}: {subject} ({iso(created)[:10]})", subject,
                    "Email" if email else "Report", created,
                    created + rng.randrange(0, max(1, min(DAY, now - created))))
    data.lists[listed.id] = listed


def _has_acted(data: ActionNetworkData, page: AnPage, person: AnPerson) -> bool:
    return any(action.person_id == person.id for action in data.actions_on(page))


def _advance_actions(world: World, data: ActionNetworkData, fraction: float) -> None:
    """Edited actions and pages, new actions on the pages running now, sometimes a new page or list."""
    rng = world.rng(f"{SOURCE}-actions-advance")
    now = world.clock.now
    changes = partial(pick_changes, rng, fraction)
    for action in changes([a for kind in ACTION_KINDS for a in data.actions_of(kind).values()]):
        if action.kind == "donations":
            action.amount = _amount(rng)  # an amount corrected
        elif action.kind == "signatures":
            action.comments = rng.choice(COMMENTS)
        action.modified_date = now
    pages = [p for kind in ACTION_KINDS for p in data.pages_of(kind).values()]
    for page in changes(pages):
        page.title = f"{page.title} (updated)"
        page.modified_date = now
    running = [p for p in pages if now - p.created_date < RECENT_PAGE]
    if not running or rng.random() < 0.3:
        running.append(_page(rng, rng.choice(ACTION_KINDS), now, now))
        data.add_page(running[-1])
    for person in changes(list(data.people.values())):
        page = rng.choice(running)
        # a person signs a petition or submits a form once; donates and writes as often as they like
        if page.kind in ("petitions", "forms") and _has_acted(data, page, person):
            continue
        _act(rng, data, page, person, now, now)
        # "the modified_date on person records updates any time a person takes an action"
        person.modified_date = now
    if rng.random() < 0.2:
        _add_list(rng, data, now, now)


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
            Rule(f"{API_PREFIX}/lists", endpoint="lists"),
            Rule(f"{API_PREFIX}/lists/<id>", endpoint="list"),
            # each kind of action page, and each page's actions: /petitions/{id}/signatures/{id}, …
            *(rule for kind in ACTION_KINDS for rule in (
                Rule(f"{API_PREFIX}/{kind.pages}", endpoint=kind.pages),
                Rule(f"{API_PREFIX}/{kind.pages}/<id>", endpoint=kind.page),
                Rule(f"{API_PREFIX}/{kind.pages}/<id>/{kind.actions}", endpoint=kind.actions),
                Rule(f"{API_PREFIX}/{kind.pages}/<page>/{kind.actions}/<id>", endpoint=kind.action))),
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
        if endpoint in SINGLE_RESOURCES:
            return self._single(endpoint, args["id"], args.get("page"))
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
    def _single(self, endpoint: str, record_id: str, page_id: str | None) -> Response:
        """One record; an action only under the page it was taken on."""
        data = self.data
        table, render = {
            "person": (data.people, self._person_json), "event": (data.events, self._event_json),
            "tag": (data.tags, self._tag_json), "event_campaign": (data.event_campaigns, self._campaign_json),
            "list": (data.lists, self._list_json),
            **{kind.page: (data.pages_of(kind), self._page_json) for kind in ACTION_KINDS},
            **{kind.action: (data.actions_of(kind), self._action_json) for kind in ACTION_KINDS},
        }[endpoint]
        if record_id not in table or (page_id is not None and table[record_id].page_id != page_id):
            raise ApiError(404, "Not found")
        payload = render(table[record_id])
        payload["_links"]["curies"] = self._curies()
        return _hal_response(payload)

    # --- collections ------------------------------------------------------------------
    def _records(self, endpoint: str, parent: str | None) -> tuple[list, str, object]:
        data = self.data
        if endpoint in KIND_OF_PAGES:
            return list(data.pages_of(KIND_OF_PAGES[endpoint]).values()), f"osdi:{endpoint}", self._page_json
        if endpoint in KIND_OF_ACTIONS:
            pages = data.pages_of(KIND_OF_ACTIONS[endpoint])
            if parent not in pages:
                raise ApiError(404, "Not found")
            return data.actions_on(pages[parent]), f"osdi:{endpoint}", self._action_json
        if endpoint == "lists":
            return list(data.lists.values()), "osdi:lists", self._list_json
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

    def _page_json(self, page: AnPage) -> dict:
        kind = KIND_OF_PAGES[page.kind]
        actions = self.data.actions_on(page)
        return {
            "identifiers": [f"action_network:{page.id}"], "origin_system": "Action Network",
            "created_date": iso(page.created_date), "modified_date": iso(page.modified_date),
            "name": f"{page.title} ({iso(page.created_date)[:7]})", "title": page.title,
            "description": f"<p>{page.title}: add your name today.</p>",
            "browser_url": f"https://actionnetwork.org/{kind.browser_path}/{page.id[:8]}",
            "featured_image_url": f"https://actionnetwork.org/images/{page.id[:8]}.jpg",
            f"total_{kind.actions}": len(actions),
            "action_network:hidden": page.hidden,
            "action_network:sponsor": {"title": GROUP_NAME, "browser_url": "https://actionnetwork.org/groups/keystone"},
            **PAGE_FIELDS[page.kind](page, actions),
            # the organizer who made it, abridged (the documents embed the whole person)
            "_embedded": {"osdi:creator": {"given_name": "Dana", "family_name": "Organizer",
                                           "identifiers": ["action_network:00000000-0000-4000-8000-00000000c0de"],
                                           "email_addresses": [{"primary": True, "address": "dana@keystone.example",
                                                                "status": "subscribed"}]}},
            "_links": {"self": self._href(page.kind, page.id),
                       f"osdi:{kind.actions}": self._href(page.kind, page.id, kind.actions),
                       f"osdi:record_{kind.action}_helper": self._href(page.kind, page.id, kind.actions),
                       "osdi:creator": self._href("people", "00000000-0000-4000-8000-00000000c0de"),
                       "action_network:embed": self._href(page.kind, page.id, "embed")},
        }

    def _action_json(self, action: AnAction) -> dict:
        kind = KIND_OF_ACTIONS[action.kind]
        page = self.data.pages_of(kind)[action.page_id]
        return {
            "identifiers": [f"action_network:{action.id}"],
            "created_date": iso(action.created_date), "modified_date": iso(action.modified_date),
            "action_network:person_id": action.person_id, kind.page_id_field: action.page_id,
            "action_network:referrer_data": {
                "source": action.referrer or "none", "referrer": action.referrer or "none",
                "website": "actionnetwork.org" if action.referrer else "none",
                "email_referrer": action.email_referrer or "none", "mobile_referrer": "none"},
            **ACTION_FIELDS[action.kind](action, page),
            "_links": {"self": self._href(kind.pages, page.id, kind.actions, action.id),
                       kind.page_rel: self._href(kind.pages, page.id),
                       "osdi:person": self._href("people", action.person_id)},
        }

    def _list_json(self, listed: AnList) -> dict:
        return {
            "identifiers": [f"action_network:{listed.id}"], "origin_system": "Action Network",
            "created_date": iso(listed.created_date), "modified_date": iso(listed.modified_date),
            "name": listed.name, "title": listed.title, "description": listed.description,
            "browser_url": f"https://actionnetwork.org/{'emails' if listed.description == 'Email' else 'reports'}/"
                           f"{listed.id[:8]}/manage",
            "_links": {"self": self._href("lists", listed.id), "osdi:items": self._href("lists", listed.id, "items")},
        }


# what each kind of page and action carries beyond the fields they share
PAGE_FIELDS = {
    "petitions": lambda page, _: {"petition_text": f"We call on the mayor: {page.title.lower()}.",
                                  "target": [{"name": "The Mayor"}]},
    "forms": lambda page, _: {"call_to_action": "Sign up"},
    "fundraising_pages": lambda page, actions: {
        "currency": "USD", "total_amount": f"{sum(float(a.amount or 0) for a in actions):.2f}"},
    "advocacy_campaigns": lambda page, _: {"type": page.outreach_type, "targets": "Pennsylvania legislators"},
}


def _signature_fields(action: AnAction, _: AnPage) -> dict:
    return {"comments": action.comments} if action.comments else {}


def _donation_fields(action: AnAction, _: AnPage) -> dict:
    recurrence = {"recurring": True, "period": action.recurrence} if action.recurrence else {"recurring": False}
    return {"currency": "USD", "amount": action.amount,
            "recipients": [{"display_name": GROUP_NAME, "amount": action.amount}],
            "payment": {"method": "Credit Card", "reference_number": action.id,
                        "authorization_stored": action.recurrence is not None},
            "action_network:recurrence": recurrence}


def _outreach_fields(action: AnAction, page: AnPage) -> dict:
    targets = [{"title": title, "given_name": given, "family_name": family, "ocdid": ocdid}
               for title, given, family, ocdid in action.targets]
    if page.outreach_type == "phone":
        return {"type": "phone", "duration": 30 + int(action.id[:4], 16) % 600, "targets": targets}
    return {"type": "email", "subject": page.title, "message": f"Please act: {page.title.lower()}.",
            "targets": targets}


ACTION_FIELDS = {"signatures": _signature_fields, "submissions": lambda action, page: {},
                 "donations": _donation_fields, "outreaches": _outreach_fields}
SINGLE_RESOURCES = ("person", "event", "tag", "event_campaign", "list",
                    *(kind.page for kind in ACTION_KINDS), *(kind.action for kind in ACTION_KINDS))


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
