"""NationBuilder in the sandbox: one nation's people, a fake of its People API (v1), and its OAuth server.

Serves `../shared/seeds/001_365259b0b4adad46.txt`: the people index (abbreviated person
resource), `/people/search` with `updated_since` and the other documented search
parameters, `/people/count`, `/people/:id` (the full resource; `id_type=external` looks a
person up by external id) and `/people/:id/taggings`. Listings page by `limit` (default 10,
max 100) and an opaque `next` path carrying `__nonce` and `__token`: the client must follow
it as given; an altered nonce, token or filter is answered 400, never with another page.
The same `next` fetched twice gives the same page. Errors are `{"code": …, "message": …}`.

Tokens, by default as NationBuilder issues them today (`../shared/reference/vendor-behaviour.md`;
support.nationbuilder.com "Access Token Migration Guide", "Generating API Tokens" and "API
Authentication Quick Start Guide"):

- `GET /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…` is the
  authorization-code flow; the sandbox's nation admin always approves, so it redirects at once
  to `redirect_uri?code=…&state=…` (a code is good for one exchange, with the same redirect_uri).
- `POST /oauth/token` (JSON or form) with `client_id`, `client_secret` and either
  `grant_type=authorization_code` + `code` + `redirect_uri`, or `grant_type=refresh_token` +
  `refresh_token`, answers `{access_token, token_type: "bearer", expires_in, refresh_token,
  scope, created_at}` (RFC 6749's token response; `created_at` and `token_type` as
  chrisjensen/omniauth-nationbuilder's auth hash shows them). Every refresh returns a
  new pair and revokes the old one, access token included: refresh tokens are single use.
  Wrong app credentials are 401 `invalid_client`; a used, revoked or unknown code or refresh
  token is 400 `invalid_grant`.
- Access tokens expire. NationBuilder's last 24 hours; the sandbox's expire after
  `access_token_requests` API requests (default 10), so any sync of more than a few pages
  meets a 401 mid-way and must refresh. `expires_in` still says 86400, as the real ones do.
- Migration path: the nation's legacy (non-expiring) token, given as the refresh token, is
  exchanged for a current pair. Whether NationBuilder revokes a legacy token once exchanged is
  not documented (the guide promises "no disruption to your service"); the sandbox keeps it
  working, as an access token and as a migration seed, so several warehouses (the tests' clean
  and faulty runs) can each migrate from it. Tokens issued by the flows above are strictly
  single use.
- Any token is accepted as `Authorization: Bearer` (the current API's form) or as the v1
  `access_token` query parameter (nationbuilder/nationbuilder-rb sends it so); with
  `accepts_bearer=False` the nation ignores the header, as a nation behind a proxy that strips
  it would. 401 when missing, wrong or expired.

`OAuthServer.issued` lists every pair handed out and `OAuthServer.uses` counts each access
token's accepted requests, so tests can tell when a client refreshed and when it first used
the new token.

A nation holds several emails per person (`email1`…`email4`, one of them primary, some
flagged bad; a work email is sometimes the primary) and addresses as address resources.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import math
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox import draws, fakehttp, noise
from sandbox.fakehttp import FakeService, ListingCache, VendorApi, json_response
from sandbox.mobilize import CITIES
from sandbox.world import DAY, Person, World, _ascii, generate_persons, pick_changes

SOURCE = "nationbuilder"
API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
# the nation's time zone: NationBuilder writes timestamps with the nation's UTC offset
NATION_OFFSET = timezone(timedelta(hours=-5))
# search parameters matched by equality against the person resource
SEARCH_EQUALS = ("first_name", "last_name", "sex", "birthdate", "civicrm_id", "county_file_id", "state_file_id",
                 "datatrust_id", "dw_id", "media_market_id", "ngp_id", "pf_strat_id", "van_id", "salesforce_id",
                 "rnc_id", "rnc_regid", "external_id")
SEARCH_PARAMS = (*SEARCH_EQUALS, "email", "city", "state", "updated_since", "with_mobile")
PAGING_PARAMS = ("limit", "__nonce", "__token", "access_token")
# the sandbox's access tokens expire after this many API requests (NationBuilder's: after 24 hours)
ACCESS_TOKEN_REQUESTS = 10
ACCESS_TOKEN_SECONDS = 24 * 3600
TAGS = ("volunteer", "donor", "canvass-lead", "climate", "housing-justice", "phonebank", "prospect", "house-party-host")
EMPLOYERS = ("Sunrise Movement", "SEIU Local 32BJ", "Philly Tenants Union", "City of Pittsburgh", "Acme Health",
             "Keystone Credit Union")
ADDRESS_TYPES = ("home_address", "work_address", "mailing_address", "billing_address", "registered_address")

# the abbreviated person resource the index and search return (spec order)
ABBREVIATED_FIELDS = (
    "birthdate", "city_district", "civicrm_id", "county_district", "county_file_id", "created_at", "do_not_call",
    "do_not_contact", "dw_id", "email", "email_opt_in", "employer", "external_id", "federal_district",
    "fire_district", "first_name", "has_facebook", "id", "is_twitter_follower", "is_volunteer", "judicial_district",
    "labour_region", "last_name", "linkedin_id", "mobile", "mobile_opt_in", "nbec_guid", "ngp_id", "note",
    "occupation", "party", "pf_strat_id", "phone", "precinct_id", "primary_address", "profile_image_url_ssl",
    "recruiter_id", "rnc_id", "rnc_regid", "salesforce_id", "school_district", "school_sub_district", "sex",
    "signup_type", "state_file_id", "state_lower_district", "state_upper_district", "support_level",
    "supranational_district", "tags", "twitter_id", "twitter_name", "updated_at", "van_id", "village_district",
)
# what the full resource adds; fields the sandbox does not model are served with these values
FULL_ONLY_DEFAULTS: dict[str, object] = {
    **dict.fromkeys((
        "active_customer_expires_at", "active_customer_started_at", "author", "author_id", "auto_import_id",
        "availability", "banned_at", "bio", "call_status_id", "call_status_name", "church", "city_sub_district",
        "closed_invoices_amount_in_cents", "closed_invoices_count", "contact_status_id", "contact_status_name",
        "could_vote_status", "demo", "ethnicity", "facebook_address", "facebook_profile_url", "facebook_updated_at",
        "facebook_username", "fax_number", "first_donated_at", "first_fundraised_at", "first_invoice_at",
        "first_prospect_at", "first_recruited_at", "first_volunteer_at", "import_id", "inferred_party",
        "inferred_support_level", "invoices_amount_in_cents", "invoices_count", "language", "last_call_id",
        "last_contacted_at", "last_contacted_by", "last_donated_at", "last_fundraised_at", "last_invoice_at",
        "last_rule_violation_at", "legal_name", "locale", "marital_status", "media_market_name", "meetup_address",
        "meetup_id", "membership_expires_at", "membership_level_name", "membership_started_at", "middle_name",
        "nbec_precinct_code", "note_updated_at", "outstanding_invoices_amount_in_cents",
        "outstanding_invoices_count", "page_slug", "parent", "parent_id", "party_member", "phone_time",
        "precinct_code", "precinct_name", "prefix", "previous_party", "priority_level", "priority_level_changed_at",
        "profile_content", "profile_content_html", "profile_headline", "recruiter", "registered_at", "religion",
        "submitted_address", "suffix", "support_level_changed_at", "support_probability_score",
        "turnout_probability_score", "twitter_address", "twitter_description", "twitter_followers_count",
        "twitter_friends_count", "twitter_location", "twitter_login", "twitter_updated_at", "twitter_website",
        "unsubscribed_at", "user_submitted_address", "username", "voter_updated_at", "website",
        "work_phone_number", "is_absentee_voter", "is_active_voter", "is_early_voter",
        "is_permanent_absentee_voter"), None),
    **dict.fromkeys((
        "capital_amount_in_cents", "children_count", "donations_amount_in_cents",
        "donations_amount_this_cycle_in_cents", "donations_count", "donations_count_this_cycle",
        "donations_pledged_amount_in_cents", "donations_raised_amount_in_cents",
        "donations_raised_amount_this_cycle_in_cents", "donations_raised_count",
        "donations_raised_count_this_cycle", "donations_to_raise_amount_in_cents",
        "invoice_payments_amount_in_cents", "invoice_payments_referred_amount_in_cents", "overdue_invoices_count",
        "received_capital_amount_in_cents", "recruits_count", "rule_violations_count",
        "spent_capital_amount_in_cents", "warnings_count"), 0),
    **dict.fromkeys((
        "federal_donotcall", "is_deceased", "is_donor", "is_fundraiser", "is_ignore_donation_limits",
        "is_mobile_bad", "is_possible_duplicate", "is_profile_private", "is_prospect",
        "is_survey_question_private"), False),
    **dict.fromkeys(("is_leaderboardable", "is_profile_searchable", "is_supporter"), True),
    "ballots": [],
    "subnations": [],
}


@dataclass
class NationBuilderPerson:
    id: int
    first_name: str
    last_name: str
    emails: list[str | None]  # email1..email4
    bad_emails: list[bool]
    primary_email_id: int | None  # 1..4
    phone: str | None
    mobile: str | None
    addresses: dict[str, dict]  # address type -> address resource
    tags: list[tuple[str, int]]  # (tag, tagged at)
    sex: str | None
    birthdate: str | None
    external_id: str | None
    van_id: str | None
    employer: str | None
    support_level: int | None
    is_volunteer: bool
    email_opt_in: bool
    mobile_opt_in: bool
    do_not_call: bool
    created_at: int
    updated_at: int

    @property
    def email(self) -> str | None:
        """The best email: the primary one unless it is bad."""
        if self.primary_email_id and not self.bad_emails[self.primary_email_id - 1]:
            return self.emails[self.primary_email_id - 1]
        return None

    @property
    def primary_address(self) -> dict | None:
        return self.addresses.get("home_address") or next(iter(self.addresses.values()), None)


@dataclass
class NationBuilderData:
    people: dict[int, NationBuilderPerson]
    next_id: int
    # world person keys the nation holds, so advance() adds only people it lacks
    keys: set[int] = field(default_factory=set)


# --- the world's NationBuilder slice ---------------------------------------------------------

def _address(rng: random.Random, postal_code: str | None) -> dict:
    city, state = rng.choice(CITIES)
    return {
        "address1": draws.street(rng),
        "address2": rng.choice((None, None, "Apt 2", "Unit B")), "address3": None,
        "city": city, "state": state, "country_code": "US",
        "zip": postal_code or draws.postal_code(rng), **draws.coordinates(rng, 4, names=("lat", "lng")),
    }


def _new_person(nb_id: int, person: Person, rng: random.Random, now: int) -> NationBuilderPerson:
    contact = noise.noisy_contact(person, rng, email_rate=0.95)
    emails: list[str | None] = [None] * 4
    bad = [False] * 4
    free = [0, 1, 2, 3]
    # the personal email: usually email1, not always
    personal = None
    if contact.email:
        personal = free.pop(rng.choice((0, 0, 0, 1, 2)))
        emails[personal] = contact.email
    employer = rng.choice(EMPLOYERS) if rng.random() < 0.3 else None
    work = None
    if employer:
        work = free.pop(rng.randrange(len(free)))
        domain = "".join(ch for ch in employer.lower() if ch.isalnum())[:16]
        emails[work] = f"{_ascii(person.given_name)}.{_ascii(person.family_name)}{person.key}@{domain}.org"
    if rng.random() < 0.1:
        old = free.pop(rng.randrange(len(free)))
        emails[old] = f"{_ascii(person.given_name)}{person.key}@oldmail.net"
        bad[old] = True
    primary = personal
    if work is not None and (personal is None or rng.random() < 0.15):
        primary = work
    addresses = {"home_address": _address(rng, contact.postal_code)} if contact.postal_code or rng.random() < 0.5 else {}
    if employer and rng.random() < 0.5:
        addresses["work_address"] = _address(rng, None)
    if rng.random() < 0.1:
        addresses["mailing_address"] = _address(rng, contact.postal_code)
    mobile = contact.phone if contact.phone and rng.random() < 0.6 else None
    created = now - rng.randrange(DAY, 500 * DAY)
    tags = [(tag, draws.later(rng, created, now)) for tag in rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3)))]
    return NationBuilderPerson(
        id=nb_id, first_name=contact.given_name, last_name=contact.family_name, emails=emails, bad_emails=bad,
        primary_email_id=None if primary is None else primary + 1,
        phone=None if mobile or not contact.phone else contact.phone, mobile=mobile,
        addresses=addresses, tags=tags, sex=rng.choice(("M", "F", "O", None)),
        birthdate=None if rng.random() < 0.5 else f"{rng.randrange(1940, 2006)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        external_id=f"ext-{nb_id * 7 + 3}" if rng.random() < 0.3 else None,
        van_id=str(rng.randrange(10**6, 10**7)) if rng.random() < 0.2 else None,
        employer=employer, support_level=rng.choice((None, 1, 2, 3, 4, 5)),
        is_volunteer=any(tag == "volunteer" for tag, _ in tags),
        email_opt_in=rng.random() < 0.8, mobile_opt_in=rng.random() < 0.5, do_not_call=rng.random() < 0.05,
        created_at=created, updated_at=draws.later(rng, created, now),
    )


def generate(world: World) -> NationBuilderData:
    rng = world.rng(SOURCE)
    now = world.clock.now
    members = [person for person in world.persons if rng.random() < 0.6]
    rng.shuffle(members)  # ids follow sign-up order, not the world's order
    data = NationBuilderData(people={}, next_id=100)
    for person in members:
        _add(world, data, person, rng, now)
    return data


def _add(world: World, data: NationBuilderData, person: Person, rng: random.Random, now: int) -> NationBuilderPerson:
    data.next_id += rng.randrange(1, 4)  # deleted and merged records leave gaps
    record = _new_person(data.next_id, person, rng, now)
    data.people[record.id] = record
    data.keys.add(person.key)
    world.truth.append((SOURCE, str(record.id), person.key))
    return record


def advance(world: World, fraction: float) -> None:
    """A day in the nation: edits (tags, support levels, new emails) and a few sign-ups."""
    data: NationBuilderData = world.vendors[SOURCE]  # type: ignore[assignment]
    rng = world.rng(f"{SOURCE}-advance")
    now = world.clock.now
    people = list(data.people.values())
    for person in pick_changes(rng, fraction, people):
        person.support_level = rng.choice((1, 2, 3, 4, 5))
        if rng.random() < 0.5:
            tag = rng.choice(TAGS)
            if tag not in {t for t, _ in person.tags}:
                person.tags.append((tag, now))
        person.email_opt_in = rng.random() < 0.8
        person.updated_at = now
    newcomers = [p for p in world.persons if p.key not in data.keys]
    for person in rng.sample(newcomers, min(len(newcomers), max(1, int(len(people) * fraction / 5)))):
        record = _add(world, data, person, rng, now)
        record.created_at = record.updated_at = now


def nation(people: int, seed: int = 7) -> World:
    """A world whose nation holds exactly `people` people and nothing else (the other vendors are not built)."""
    world = World(seed=seed, persons=generate_persons(math.ceil(people / 0.55), seed))
    data = generate(world)
    for person_id in sorted(data.people)[people:]:
        del data.people[person_id]
    world.truth = [row for row in world.truth if int(row[1]) in data.people]
    world.vendors[SOURCE] = data
    return world


def edit(world: World, count: int) -> int:
    """`count` people edited at the world's next tick; how many a search from the last cursor lists."""
    data: NationBuilderData = world.vendors[SOURCE]  # type: ignore[assignment]
    cursor = max(p.updated_at for p in data.people.values())
    world.version += 1
    now = world.clock.tick()
    for person in world.rng("nation-edits").sample(list(data.people.values()), count):
        person.support_level = 1 + (person.support_level or 0) % 5
        person.updated_at = now
    return sum(1 for p in data.people.values() if p.updated_at >= cursor)


# --- rendering ---------------------------------------------------------------------------------

def _timestamp(unix_seconds: int) -> str:
    return datetime.fromtimestamp(unix_seconds, NATION_OFFSET).isoformat()


def abbreviated(person: NationBuilderPerson) -> dict:
    row = dict.fromkeys(ABBREVIATED_FIELDS)
    row.update(
        id=person.id, first_name=person.first_name, last_name=person.last_name, email=person.email,
        phone=person.phone, mobile=person.mobile, primary_address=person.primary_address,
        tags=[tag for tag, _ in person.tags], sex=person.sex, birthdate=person.birthdate,
        external_id=person.external_id, van_id=person.van_id, employer=person.employer,
        support_level=person.support_level, is_volunteer=person.is_volunteer, email_opt_in=person.email_opt_in,
        mobile_opt_in=person.mobile_opt_in, do_not_call=person.do_not_call, do_not_contact=False,
        has_facebook=False, is_twitter_follower=False, signup_type=0,
        created_at=_timestamp(person.created_at), updated_at=_timestamp(person.updated_at),
    )
    return row


def full(person: NationBuilderPerson) -> dict:
    row = {**abbreviated(person), **FULL_ONLY_DEFAULTS}
    for n in range(4):
        row[f"email{n + 1}"] = person.emails[n]
        row[f"email{n + 1}_is_bad"] = person.bad_emails[n]
    row.update({address_type: person.addresses.get(address_type) for address_type in ADDRESS_TYPES})
    name = " ".join(part for part in (person.first_name.strip(), person.last_name.strip()) if part)
    row.update(
        primary_email_id=person.primary_email_id, full_name=name,
        mobile_normalized="".join(ch for ch in person.mobile if ch.isdigit()) if person.mobile else None,
        phone_normalized="".join(ch for ch in person.phone if ch.isdigit()) if person.phone else None,
        first_supporter_at=_timestamp(person.created_at),
    )
    return row


# --- the nation's OAuth server ----------------------------------------------------------------

@dataclass
class IssuedPair:
    access_token: str
    refresh_token: str
    requests_left: int | None  # None: as many as 24 hours allow
    expires_at: float
    revoked: bool = False


def client_credentials(legacy_token: str) -> tuple[str, str]:
    """The sandbox app's client id and secret, derived from the nation's legacy token."""
    digest = hashlib.sha256(legacy_token.encode()).hexdigest()
    return f"sandbox-app-{digest[:12]}", f"sandbox-secret-{digest[12:44]}"


class OAuthServer:
    """The nation's `/oauth/authorize` and `/oauth/token`, and the check every API request passes."""

    def __init__(self, legacy_token: str, access_token_requests: int | None = ACCESS_TOKEN_REQUESTS) -> None:
        self.legacy_token = legacy_token
        self.client_id, self.client_secret = client_credentials(legacy_token)
        self.access_token_requests = access_token_requests
        self.issued: list[IssuedPair] = []
        self.uses: dict[str, int] = {}
        self._by_access: dict[str, IssuedPair] = {}
        self._by_refresh: dict[str, IssuedPair] = {}
        self._codes: dict[str, str] = {}  # code -> the redirect_uri it was issued for
        self._lock = threading.Lock()

    def admits(self, token: str | None) -> bool:
        """Whether an API request carrying `token` may pass (and counts it against the token)."""
        with self._lock:
            if token == self.legacy_token:
                return True
            pair = self._by_access.get(token or "")
            if pair is None or pair.revoked or time.time() >= pair.expires_at or pair.requests_left == 0:
                return False
            if pair.requests_left is not None:
                pair.requests_left -= 1
            self.uses[pair.access_token] = self.uses.get(pair.access_token, 0) + 1
            return True

    def authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("response_type") != "code" or args.get("client_id") != self.client_id or not args.get("redirect_uri"):
            return json_response({"error": "invalid_request",
                                  "error_description": "response_type=code, the app's client_id and a redirect_uri"}, 400)
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = args["redirect_uri"]
        query = urlencode({"code": code, **({"state": args["state"]} if "state" in args else {})})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def token(self, request: Request) -> Response:
        if request.method != "POST":
            return json_response({"error": "invalid_request", "error_description": "POST only"}, 405)
        form = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        if not isinstance(form, dict):
            return json_response({"error": "invalid_request"}, 400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return json_response({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        with self._lock:
            if form.get("grant_type") == "authorization_code":
                redirect_uri = self._codes.pop(str(form.get("code")), None)
                granted = redirect_uri is not None and redirect_uri == form.get("redirect_uri")
            elif form.get("grant_type") == "refresh_token":
                granted = self._rotate(str(form.get("refresh_token")))
            else:
                return json_response({"error": "unsupported_grant_type"}, 400)
            if not granted:
                return json_response({"error": "invalid_grant", "error_description": "The provided authorization "
                                      "grant is invalid, expired, revoked or was issued to another client."}, 400)
            pair = self._issue()
        return json_response({"access_token": pair.access_token, "token_type": "bearer",
                              "expires_in": ACCESS_TOKEN_SECONDS, "refresh_token": pair.refresh_token,
                              "scope": "default", "created_at": int(time.time())})

    def _rotate(self, refresh_token: str) -> bool:
        """Single use: the old pair stops working. The legacy token is a migration seed (see the module doc)."""
        if refresh_token == self.legacy_token:
            return True
        pair = self._by_refresh.get(refresh_token)
        if pair is None or pair.revoked:
            return False
        pair.revoked = True
        return True

    def _issue(self) -> IssuedPair:
        pair = IssuedPair(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.access_token_requests,
                          time.time() + ACCESS_TOKEN_SECONDS)
        self.issued.append(pair)
        self._by_access[pair.access_token] = self._by_refresh[pair.refresh_token] = pair
        return pair

    def grant(self) -> IssuedPair:
        """A pair as if an admin had just authorized the app (for tests that start from one)."""
        with self._lock:
            return self._issue()


# --- the fake API -----------------------------------------------------------------------------

class ApiError(fakehttp.ApiError):
    """NationBuilder's refusal: `{"code": …, "message": …}`, the code naming the kind of error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, {"code": code, "message": message})

    @classmethod
    def from_message(cls, status: int, message: str) -> "ApiError":
        code = {401: "unauthorized", 404: "not_found", 429: "rate_limit_exceeded"}.get(
            status, "server_error" if status >= 500 else "bad_request")
        return cls(status, code, message)


@dataclass(frozen=True)
class _Cursor:
    """What a `next` path stands for: where a listing continues."""

    endpoint: str
    filters: tuple[tuple[str, str], ...]
    after_id: int
    limit: int


class NationBuilderApi(VendorApi):
    """The WSGI side of the fake; `FakeService` adds limits and faults around it."""

    vendor = SOURCE
    errors = ApiError
    not_found = "Record not found"

    def __init__(self, world: World, legacy_token: str, access_token_requests: int | None = ACCESS_TOKEN_REQUESTS,
                 accepts_bearer: bool = True) -> None:
        self.world = world
        self.oauth = OAuthServer(legacy_token, access_token_requests)
        self.accepts_bearer = accepts_bearer
        self.routes = Map([
            Rule("/oauth/authorize", endpoint="authorize"),
            Rule("/oauth/token", endpoint="token"),
            Rule(f"{API_PREFIX}/people", endpoint="index"),
            Rule(f"{API_PREFIX}/people/search", endpoint="search"),
            Rule(f"{API_PREFIX}/people/count", endpoint="count"),
            Rule(f"{API_PREFIX}/people/<person_id>", endpoint="show"),
            Rule(f"{API_PREFIX}/people/<person_id>/taggings", endpoint="taggings"),
        ], strict_slashes=False)
        self._secret = secrets.token_bytes(16)
        self._cursors: dict[str, _Cursor] = {}
        # sorted ids of a filtered listing of the current world version
        self._listings = ListingCache(world)

    def handle(self, request: Request, endpoint: str, args: dict) -> Response:
        if endpoint in ("authorize", "token"):
            return getattr(self.oauth, endpoint)(request)
        if not self.oauth.admits(self._token(request)):
            raise ApiError(401, "unauthorized", "You are not authorized to access this content. "
                                                "Your access token may be missing or invalid.")
        if request.method != "GET":
            raise ApiError(405, "method_not_allowed", f"{request.method} is not supported by the sandbox")
        return getattr(self, f"_{endpoint}")(request, **args)

    def _token(self, request: Request) -> str | None:
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        if self.accepts_bearer and scheme.lower() == "bearer" and bearer:
            return bearer
        return request.args.get("access_token")

    # --- endpoints ----------------------------------------------------------------------
    def _count(self, request: Request) -> Response:
        return json_response({"people_count": len(self.data.people)})

    def _index(self, request: Request) -> Response:
        return self._listing(request, "index", ())

    def _search(self, request: Request) -> Response:
        filters = tuple(sorted((k, v) for k, v in request.args.items(multi=True) if k in SEARCH_PARAMS
                               or k.startswith("custom_values[")))
        return self._listing(request, "search", filters)

    def _show(self, request: Request, person_id: str) -> Response:
        return json_response({"person": full(self._person(request, person_id)), "precinct": None})

    def _taggings(self, request: Request, person_id: str) -> Response:
        person = self._person(request, person_id)
        return json_response({"taggings": [{"person_id": person.id, "tag": tag, "created_at": _timestamp(at)}
                                           for tag, at in person.tags]})

    def _person(self, request: Request, person_id: str) -> NationBuilderPerson:
        if request.args.get("id_type") == "external":
            match = next((p for p in self.data.people.values() if p.external_id == person_id), None)
        else:
            match = self.data.people.get(int(person_id)) if person_id.isdigit() else None
        if match is None:
            raise ApiError(404, "not_found", "Record not found")
        return match

    # --- paging -------------------------------------------------------------------------
    def _sign(self, nonce: str, cursor: _Cursor) -> str:
        message = f"{nonce}|{cursor.endpoint}|{cursor.filters}|{cursor.after_id}|{cursor.limit}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]

    def _listing(self, request: Request, endpoint: str, filters: tuple[tuple[str, str], ...]) -> Response:
        nonce, token = request.args.get("__nonce"), request.args.get("__token")
        if nonce is not None or token is not None:
            cursor = self._cursors.get(nonce or "")
            if cursor is None or token is None or not hmac.compare_digest(token, self._sign(nonce, cursor)):
                raise ApiError(400, "invalid_pagination_token",
                               "The pagination nonce or token is invalid: follow the next link exactly as given")
            if (cursor.endpoint, cursor.filters) != (endpoint, filters) or (
                    "limit" in request.args and request.args["limit"] != str(cursor.limit)):
                raise ApiError(400, "invalid_pagination_token",
                               "The request does not match its pagination token: follow the next link exactly as given")
        else:
            cursor = _Cursor(endpoint, filters, 0, _limit(request))
        ids = self._ids(filters)
        start = bisect.bisect_right(ids, cursor.after_id)
        page = ids[start: start + cursor.limit]
        next_path = None
        if start + cursor.limit < len(ids):
            following = _Cursor(endpoint, filters, page[-1], cursor.limit)
            nonce = secrets.token_urlsafe(16)
            self._cursors[nonce] = following
            query = [("__nonce", nonce), ("__token", self._sign(nonce, following)), *filters]
            next_path = f"{API_PREFIX}/people{'/search' if endpoint == 'search' else ''}?{urlencode(query)}"
        return json_response({"next": next_path, "prev": None,
                              "results": [abbreviated(self.data.people[i]) for i in page]})

    def _ids(self, filters: tuple[tuple[str, str], ...]) -> list[int]:
        key = (filters, len(self.data.people))

        def build() -> list[int]:
            checks = [_matcher(name, value) for name, value in filters]
            return sorted(p.id for p in self.data.people.values() if all(c(p) for c in checks))

        return self._listings.get(key, build)


def _limit(request: Request) -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, "bad_request", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _parse_time(raw: str) -> int:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "bad_request", f"updated_since is not an ISO 8601 date or time: {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=NATION_OFFSET)
    return int(moment.timestamp())


def _matcher(name: str, value: str):  # noqa: ANN202
    """A predicate over a person for one search parameter (NationBuilder matches case-insensitively)."""
    wanted = value.strip().lower()
    if name == "updated_since":
        since = _parse_time(value)
        return lambda p: p.updated_at >= since
    if name == "with_mobile":
        return (lambda p: p.mobile is not None) if wanted in ("1", "true") else (lambda p: True)
    if name == "email":
        return lambda p: any(e and e.strip().lower() == wanted for e in p.emails)
    if name in ("city", "state"):
        return lambda p: bool(p.primary_address) and str(p.primary_address[name]).lower() == wanted
    if name.startswith("custom_values["):
        return lambda p: False  # the sandbox nation defines no custom fields
    return lambda p: str(abbreviated(p).get(name) or "").strip().lower() == wanted


def serve(world: World, api_key: str, *, rate_limit: float | None = None, port: int = 0,
          access_token_requests: int | None = ACCESS_TOKEN_REQUESTS, accepts_bearer: bool = True) -> FakeService:
    """A started-on-demand fake nation over `world` (call `.start()` or use `with`); `api_key` is its legacy token.

    `access_token_requests=None` gives access tokens that last their 24 hours, as NationBuilder's do.
    """
    api = NationBuilderApi(world, api_key, access_token_requests, accepts_bearer)
    return FakeService(api, name=SOURCE, rate_limit=rate_limit, port=port)


def client_env(service: FakeService, api_key: str) -> dict[str, str]:
    """The configuration that points the `nationbuilder` source at this fake: the refresh flow, seeded by
    NationBuilder's migration path (the legacy token as the first refresh token)."""
    client_id, client_secret = client_credentials(api_key)
    return {
        "SOURCES__NATIONBUILDER__BASE_URL": f"{service.url}{API_PREFIX}",
        "SOURCES__NATIONBUILDER__CLIENT_ID": client_id,
        "SOURCES__NATIONBUILDER__CLIENT_SECRET": client_secret,
        "SOURCES__NATIONBUILDER__REFRESH_TOKEN": api_key,
    }
