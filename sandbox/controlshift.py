"""ControlShift in the sandbox: bulk-data CSV exports on a local S3, and a fake REST API.

Serves the Bulk Data, Webhooks and Authenticated REST API parts of
`../shared/seeds/004_7c838a1544b7cc27.txt`:

- every table of ControlShift's published bulk-data schema (`controlshift_bulk_tables.sql`
  beside this module, 63 tables) exported as CSV to a moto S3 server on 127.0.0.1 in the
  documented key layout `<org>/full/<table>/<YYYYMMDD>/<table>_<YYYYMMDDHHMMSS>.csv` (nightly,
  every row as it is now) and `<org>/incremental/<table>/<YYYYMMDD>/<table>_<…>.csv` (new rows
  only), `.csv.bz2` when `data.compress` is on;
- `members`, `signatures`, `petitions`, `events`, `locations`, `attendees`, `unsubscribes` and
  `users` carry the world's people (noisy copies, so they overlap the other tools); every other
  table holds a few rows; text holds HTML, commas, quotes, newlines and non-ASCII;
- two nights of history before the world's "now": full export, a day of incrementals (new
  rows), updates and deletions that only the next full export shows, another full export,
  another day. `advance()` adds rows (incremental files), edits and deletes rows (seen only in
  the next full) and writes a full export whenever the clock passes 02:00 UTC;
  `export_full(world)` writes one on demand;
- `/api/bulk_data/schema/columns?table=…` and `/api/v1/organisation` (counts) behind Bearer
  auth (401 otherwise); `/api/bulk_data/schema.json` without auth, serving raw Postgres types
  (`jsonb`, `hstore`, `uuid`, `geography(Point,4326)`, an enum, an array) for a few columns, as
  ControlShift's own loader reads it (vendor-behaviour.md, ControlShift: schema.json is fetched
  unauthenticated and serves raw Postgres types);
- signed download links, path-style S3 URLs `<url>/<bucket>/<key>?AWSAccessKeyId=…&Expires=…&
  Signature=…` as in the docs' webhook examples, answering 403 `AccessDenied` once 6 hours old
  (seeds 004, "Bulk Data Files": "We expire access to data 6 hours after it has been generated");
- notifications as ControlShift sends them (`notify`): `type`, `data` {`url`, `table`,
  `compression_format`, and `s3` {bucket, key} only with Direct AWS Access}, a JSON body signed
  with `x-controlshift-webhook-signature`, and one `jid` reused across the notifications of one
  export run (the docs' examples reuse one `jid` across different notifications; it is
  undocumented);
- Direct AWS Access is "an advanced feature" granted on request (seeds 004, "Bulk Data"): with
  `bucket_access=False` the organisation has only webhooks: notifications carry no `s3`, and the
  exports bucket, reached at this fake's own URL as an S3 endpoint, refuses listing (403
  `AccessDenied`) while the signed links still work;
- what real exports contain (vendor-behaviour.md, ControlShift): `attendees.attending_status` in
  all five documented values (`attending`, `not_attending`, `attended`, `confirmed`, `no_show`);
  soft-deleted signatures (`deleted_at` set, the row still exported); a table with no rows, whose
  full export is a header alone (`EMPTY_TABLE`); and one table (`MALFORMED_TAIL_TABLE`) whose full
  exports end with a line that opens a quote and never closes it (issue 17: such exports reach
  users and failed DuckDB's dialect sniffing for the whole file).

ControlShift's buckets are `agra-data-exports-production` (US) and
`agra-data-exports-production-eu-central-1` (EU); the sandbox's bucket has a name of its own per
service, because moto keeps every server's buckets in one process-wide store.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import hmac
import io
import json
import random
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox import draws, noise
from sandbox.fakehttp import ApiError, FakeService, VendorApi, has_bearer, json_response
from sandbox.world import DAY, World, pick_changes

SCHEMA_FILE = Path(__file__).with_name("controlshift_bulk_tables.sql")
# moto takes any credentials; these are masked in all output like real ones, so they must not be
# a word the output uses ("sandbox" was, and the demo's messages and the fake app's client id lost it)
SANDBOX_AWS_KEY_ID = "sandbox-aws-access-key-id"
SANDBOX_AWS_SECRET = "sandbox-aws-secret-access-key"
ORGANISATION_SLUG = "keystone-action"
ORGANISATION_ID = 1
# the documented lifetime of a bulk-data download link
URL_LIFETIME = 6 * 3600
# the tables that carry the world's people; every other one gets FILLER_ROWS rows
WORLD_TABLES = ("users", "members", "petitions", "signatures", "locations", "events", "attendees", "unsubscribes")
FILLER_ROWS = 3
# a table with no rows: its nightly full export is a header alone
EMPTY_TABLE = "petition_flags"
# a table whose full exports end with a line opening a quote that never closes
MALFORMED_TAIL_TABLE = "comments"
MALFORMED_TAIL = b'999999,"a comment whose closing quote never came\n'
ATTENDING_STATUSES = ("attending", "not_attending", "attended", "confirmed", "no_show")
# raw Postgres types the schema endpoint serves where the published Redshift DDL says varchar
RAW_POSTGRES_TYPES = {"additional_fields": "jsonb", "external_ids": "jsonb", "utm_params": "hstore",
                      "token": "uuid", "partnership_opt_ins": "character varying[]",
                      "admin_status": "admin_status_enum"}
# the nightly full export runs at 02:00 UTC
NIGHTLY_AT = 2 * 3600
PEOPLE_TABLES = ("members", "signatures", "attendees", "users")
CITIES = (("Philadelphia", "PA", 39.95, -75.16), ("Pittsburgh", "PA", 40.44, -79.99), ("Atlanta", "GA", 33.75, -84.39),
          ("Detroit", "MI", 42.33, -83.05), ("Milwaukee", "WI", 43.04, -87.91), ("Phoenix", "AZ", 33.45, -112.07))
TIME_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix")
CAUSES = ("clean water", "rent control", "a living wage", "safe streets", "public transit", "climate jobs")


def parse_schema(text: str) -> dict[str, dict[str, str]]:
    """`CREATE TABLE t ("col" type, …);` lines -> {table: {column: sql type}} in file order."""
    tables: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"CREATE TABLE (\w+) \((.*)\);", text):
        tables[match.group(1)] = {
            name: sql_type.strip()
            for name, sql_type in re.findall(r'"(\w+)" ((?:[^,(]|\([^)]*\))+)', match.group(2))
        }
    return tables


TABLES = parse_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def timestamp(unix: int) -> str:
    """ControlShift's CSV timestamps: UTC, no zone, to the second."""
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def export_key(slug: str, kind: str, table: str, at: int, compress: bool) -> str:
    moment = datetime.fromtimestamp(at, timezone.utc)
    suffix = ".csv.bz2" if compress else ".csv"
    return f"{slug}/{kind}/{table}/{moment:%Y%m%d}/{table}_{moment:%Y%m%d%H%M%S}{suffix}"


def encode_csv(columns: list[str], rows: list[dict]) -> bytes:
    """A header and rows as ControlShift writes them: RFC 4180 quoting (a field holding a comma, a
    quote, a CR or a LF is quoted), LF line ends, empty = null."""
    lines = []
    for values in [columns, *([_csv_value(row.get(c)) for c in columns] for row in rows)]:
        buffer = io.StringIO()
        # Python quotes CR only when it is part of the line terminator: write CRLF, end with LF
        csv.writer(buffer, lineterminator="\r\n").writerow(values)
        lines.append(buffer.getvalue()[:-2] + "\n")
    return "".join(lines).encode("utf-8")


def _csv_value(value: object) -> object:
    return "" if value is None else "true" if value is True else "false" if value is False else value


@dataclass
class ControlShiftData:
    slug: str
    columns: dict[str, list[str]]  # the current export columns of every table (tests may drift them)
    rows: dict[str, dict[int, dict]]  # table -> id -> row
    next_ids: dict[str, int]
    members_by_email: dict[str, int]  # lower-cased email -> member id
    compress: bool = False
    files: dict[str, bytes] = field(default_factory=dict)  # every export written, by key
    last_export_at: int = 0
    sinks: list[Callable[[str, bytes], None]] = field(default_factory=list)

    def new_id(self, table: str) -> int:
        self.next_ids[table] = self.next_ids.get(table, 0) + 1
        return self.next_ids[table]

    def put(self, key: str, body: bytes) -> None:
        self.files[key] = body
        for sink in self.sinks:
            sink(key, body)

    def write_export(self, kind: str, table: str, rows: list[dict], at: int) -> str:
        body = encode_csv(self.columns[table], rows)
        if kind == "full" and table == MALFORMED_TAIL_TABLE:
            body += MALFORMED_TAIL
        if self.compress:
            body = bz2.compress(body)
        key = export_key(self.slug, kind, table, at, self.compress)
        self.put(key, body)
        return key


# --- the world's ControlShift slice ---------------------------------------------------------

class _Builder:
    """Makes rows for one world; shared by generate() and advance()."""

    def __init__(self, world: World, data: ControlShiftData, rng: random.Random) -> None:
        self.world, self.data, self.rng = world, data, rng

    def add(self, table: str, row: dict, at: int) -> dict:
        row_id = self.data.new_id(table)
        full = {column: None for column in TABLES[table]}
        full |= {"id": row_id, "created_at": timestamp(at), "updated_at": timestamp(at)} | row
        self.data.rows[table][row_id] = full
        return full

    def contact(self, key: int) -> noise.Contact:
        return noise.noisy_contact(self.world.persons[key - 1], self.rng)

    def person_record(self, table: str, key: int, row: dict, at: int) -> dict:
        added = self.add(table, row, at)
        self.world.truth.append(("controlshift", f"{table}:{added['id']}", key))
        return added

    def member(self, key: int, at: int) -> int:
        """ControlShift keeps one member per email address: a household sharing one is one member."""
        email = self.world.persons[key - 1].email.lower()
        if email not in self.data.members_by_email:
            member = self.person_record("members", key, {
                "email": email, "organisation_id": ORGANISATION_ID, "forum_premoderation_required": False,
                "external_ids": json.dumps({"crm": f"C{key:06d}"}),
            }, at)
            self.data.members_by_email[email] = member["id"]
        return self.data.members_by_email[email]

    def user(self, key: int, at: int) -> dict:
        contact = self.contact(key)
        return self.person_record("users", key, {
            "email": contact.email or self.world.persons[key - 1].email, "first_name": contact.given_name,
            "last_name": contact.family_name, "phone_number": contact.phone, "postcode": contact.postal_code,
            "organisation_id": ORGANISATION_ID, "admin": self.rng.random() < 0.2, "join_organisation": True,
            "member_id": self.member(key, at), "sign_in_count": self.rng.randrange(1, 40), "locale": "en",
            "cached_organisation_slug": self.data.slug, "country": "US",
        }, at)

    def location(self, at: int) -> dict:
        city, region, lat, lon = self.rng.choice(CITIES)
        street = draws.street(self.rng)
        return self.add("locations", {
            "query": f"{street}, {city}, {region}", "latitude": f"{lat + self.rng.uniform(-0.1, 0.1):.10f}",
            "longitude": f"{lon + self.rng.uniform(-0.1, 0.1):.10f}", "street": street, "locality": city,
            "postal_code": draws.postal_code(self.rng), "country": "US", "region": region,
        }, at)

    def petition(self, user: dict, at: int) -> dict:
        cause = self.rng.choice(CAUSES)
        title = f"Win {cause} for \"{self.rng.choice(CITIES)[0]}\", now!"
        return self.add("petitions", {
            "title": title, "who": "The City Council, Mayor's Office",
            "what": f"Guarantee {cause}, fund it, and report back.",
            "why": f"<p>Because <b>{cause}</b> matters &amp; we \"can't\" wait.</p>\n<p>— Señora Zoë Ó Súilleabháin</p>",
            "user_id": user["id"], "slug": re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-"),
            "organisation_id": ORGANISATION_ID, "hidden": False, "admin_status": "good", "launched": True,
            "campaigner_contactable": True, "locale": "en", "custom_goal": self.rng.choice((100, 500, 1000)),
            "utm_params": json.dumps({"utm_source": self.rng.choice(("email", "facebook"))}),
        }, at)

    def event(self, user: dict, at: int) -> dict:
        location = self.location(at)
        start = self.world.clock.now + self.rng.randrange(-60, 60) * DAY
        start -= start % 1800
        virtual = self.rng.random() < 0.15
        cancelled = self.rng.random() < 0.05
        return self.add("events", {
            "title": f"Canvass, phone bank & potluck: {location['locality']}",
            "description": "<h2>Join us!</h2>\n<p>Bring water, \"good shoes\", and a friend; café provided.</p>",
            "slug": f"event-{self.data.next_ids.get('events', 0) + 1}", "start_at": timestamp(start),
            "end_at": timestamp(start + self.rng.choice((3600, 7200))), "location_id": location["id"],
            "user_id": user["id"], "organisation_id": ORGANISATION_ID, "admin_status": "good",
            "max_attendees_count": self.rng.choice((None, 20, 50)), "locale": "en",
            "time_zone": self.rng.choice(TIME_ZONES), "virtual": virtual,
            "cancelled_at": timestamp(at) if cancelled else None, "cancel_reason": "Rain, sorry!" if cancelled else None,
            "location_venue": None if virtual else self.rng.choice(("Union Hall", "St. Mark's Church", "Café Olé")),
            "web_conference_url": "https://meet.example.org/abc" if virtual else None,
        }, at)

    def signature(self, key: int, petition_id: int, at: int) -> dict:
        contact = self.contact(key)
        return self.person_record("signatures", key, {
            "petition_id": petition_id, "email": contact.email or self.world.persons[key - 1].email,
            "first_name": contact.given_name, "last_name": contact.family_name,
            "phone_number": contact.phone, "postcode": contact.postal_code,
            "join_organisation": self.rng.random() < 0.8, "member_id": self.member(key, at),
            "additional_fields": json.dumps({"comment": "Yes, \"absolutely\", <b>now</b>"}),
            "cached_organisation_slug": self.data.slug, "source": self.rng.choice(("", "facebook", "email")),
            "new_member": False, "locale": "en", "country": "US", "last_signed_at": timestamp(at),
            "utm_params": json.dumps({"utm_source": self.rng.choice(("email", "sms", "twitter"))}),
            "opt_in_sms": self.rng.random() < 0.3,
        }, at)

    def attendee(self, key: int, event_id: int, at: int) -> dict:
        contact = self.contact(key)
        return self.person_record("attendees", key, {
            "event_id": event_id, "member_id": self.member(key, at),
            "email": contact.email or self.world.persons[key - 1].email,
            "first_name": contact.given_name, "last_name": contact.family_name,
            "phone_number": contact.phone, "postcode": contact.postal_code, "country": "US",
            "new_member": False, "attending_status": self.rng.choice(ATTENDING_STATUSES),
            "cached_organisation_slug": self.data.slug, "join_organisation": True, "locale": "en",
            "utm_params": json.dumps({"utm_source": "email", "utm_campaign": "spring-canvass"}),
        }, at)

    def unsubscribe(self, member_id: int, at: int) -> dict:
        member = self.data.rows["members"][member_id]
        return self.add("unsubscribes", {
            "organisation_id": ORGANISATION_ID, "member_id": member_id, "email": member["email"],
            "unsubscribe_object": False, "unsubscribe_organisation": True, "unsubscribable_id": ORGANISATION_ID,
            "unsubscribable_type": "Organisation", "source": "unsubscribe_page",
        }, at)

    def filler(self, table: str, at: int) -> dict:
        """A plausible row for a table that carries no world data."""
        row: dict = {}
        n = self.data.next_ids.get(table, 0) + 1
        for column, sql_type in TABLES[table].items():
            kind = sql_type.lower()
            raw = RAW_POSTGRES_TYPES.get(column, "")
            if column in ("id", "created_at", "updated_at"):
                continue
            if raw == "uuid":
                row[column] = str(uuid.UUID(int=n * 7919 + len(column)))
            elif raw == "jsonb":
                row[column] = json.dumps({"note": f"{column} {n}", "quoted": "say \"hi\""})
            elif kind.startswith(("integer", "bigint")):
                row[column] = n * 7 % 97 + 1
            elif kind.startswith("boolean"):
                row[column] = n % 2 == 0
            elif kind.startswith("timestamp"):
                row[column] = timestamp(at - n * 3600)
            elif kind.startswith("numeric"):
                row[column] = f"{n / 4:.2f}"
            elif n == 2:
                row[column] = f"<p>{column}, \"quoted\"\nline two — naïve café</p>"
            else:
                row[column] = f"{column} {n}"
        return self.add(table, row, at)

    def new_activity(self, keys: list[int], at: int) -> None:
        """People take action: sign petitions, RSVP to events, some unsubscribe."""
        petitions, events = list(self.data.rows["petitions"]), list(self.data.rows["events"])
        for key in keys:
            for petition_id in self.rng.sample(petitions, min(len(petitions), self.rng.choice((1, 1, 2, 3)))):
                self.signature(key, petition_id, at)
            for event_id in self.rng.sample(events, min(len(events), self.rng.choice((0, 0, 1, 2)))):
                self.attendee(key, event_id, at)
            if self.rng.random() < 0.05:
                self.unsubscribe(self.member(key, at), at)


def _day(world: World, data: ControlShiftData, start: int, end: int, keys: list[int], fraction: float,
         batches: int) -> None:
    """New rows from `keys` in `batches` incremental files between start and end, then edits and deletions."""
    rng = world.rng(f"controlshift-day-{start}")
    builder = _Builder(world, data, rng)
    per_batch = max(1, -(-len(keys) // batches)) if keys else 0
    for n in range(batches):
        at = start + (n + 1) * (end - start) // (batches + 1)
        before = {table: set(rows) for table, rows in data.rows.items()}
        builder.new_activity(keys[n * per_batch:(n + 1) * per_batch], at)
        write_incrementals(data, before, at)
    edit(world, data, rng, fraction, end)


def write_incrementals(data: ControlShiftData, before: dict[str, set[int]], at: int) -> list[str]:
    """One incremental export per table that gained rows since `before`."""
    keys = []
    for table, rows in data.rows.items():
        added = [row for row_id, row in rows.items() if row_id not in before.get(table, ())]
        if added:
            keys.append(data.write_export("incremental", table, added, at))
    return keys


def edit(world: World, data: ControlShiftData, rng: random.Random, fraction: float, at: int) -> None:
    """Updates and deletions: no incremental shows them, only the next full export."""
    for row in pick_changes(rng, fraction, list(data.rows["signatures"].values())):
        row["postcode"] = draws.postal_code(rng)
        row["updated_at"] = timestamp(at)
    for row in pick_changes(rng, fraction, list(data.rows["petitions"].values())):
        row["title"] = f"{row['title']} (updated)"
        row["updated_at"] = timestamp(at)
    for row in pick_changes(rng, fraction, list(data.rows["events"].values())):
        row["title"] = f"{row['title']} (updated)"
        row["updated_at"] = timestamp(at)
    # a member asked to be forgotten: their signature goes (the truth row stays harmless)
    for row in pick_changes(rng, fraction / 2, list(data.rows["signatures"].values())):
        del data.rows["signatures"][row["id"]]
    # a signature deleted in the admin stays in the export with deleted_at set
    for row in pick_changes(rng, fraction / 2, [r for r in data.rows["signatures"].values() if not r["deleted_at"]]):
        row["deleted_at"] = row["updated_at"] = timestamp(at)


def export_full(world: World, at: int | None = None) -> list[str]:
    """The nightly export: every table, every row as it is now."""
    data: ControlShiftData = world.vendors["controlshift"]  # type: ignore[assignment]
    at = world.clock.now if at is None else at
    keys = [data.write_export("full", table, list(rows.values()), at) for table, rows in data.rows.items()]
    data.last_export_at = at
    return keys


def generate(world: World) -> ControlShiftData:
    rng = world.rng("controlshift")
    now = world.clock.now
    data = ControlShiftData(ORGANISATION_SLUG, {table: list(columns) for table, columns in TABLES.items()},
                            {table: {} for table in TABLES}, {}, {})
    world.vendors["controlshift"] = data
    builder = _Builder(world, data, rng)
    keys = [person.key for person in world.persons if rng.random() < 0.6]
    first_night, second_night = now - 2 * DAY + NIGHTLY_AT, now - DAY + NIGHTLY_AT
    early = first_night - 300 * DAY
    staff = rng.sample(keys, max(3, len(keys) // 50)) if len(keys) >= 3 else keys or [world.persons[0].key]
    users = [builder.user(key, early) for key in staff]
    for n in range(max(4, len(world.persons) // 40)):
        builder.petition(rng.choice(users), early + n * DAY)
    for n in range(max(4, len(world.persons) // 50)):
        builder.event(rng.choice(users), early + n * DAY)
    for table in TABLES:
        if table not in (*WORLD_TABLES, EMPTY_TABLE):
            for _ in range(FILLER_ROWS):
                builder.filler(table, early)
    # most people acted before the history starts; the rest join during the two days shown
    split = int(len(keys) * 0.8)
    for key in keys[:split]:
        builder.new_activity([key], early + rng.randrange(0, 290 * DAY))
    export_full(world, first_night)
    rest = keys[split:]
    _day(world, data, first_night, second_night, rest[: len(rest) // 2], 0.02, 4)
    export_full(world, second_night)
    _day(world, data, second_night, now, rest[len(rest) // 2:], 0.02, 4)
    data.last_export_at = second_night
    return data


def advance(world: World, fraction: float) -> None:
    """An hour on ControlShift: new rows (an incremental file), edits and deletions, a nightly full
    export when the clock passes 02:00 UTC."""
    data: ControlShiftData = world.vendors["controlshift"]  # type: ignore[assignment]
    rng = world.rng("controlshift-advance")
    now = world.clock.now
    builder = _Builder(world, data, rng)
    before = {table: set(rows) for table, rows in data.rows.items()}
    builder.new_activity(pick_changes(rng, fraction, [p.key for p in world.persons]), now)
    write_incrementals(data, before, now)
    edit(world, data, rng, fraction, now)
    if (now - NIGHTLY_AT) // DAY > (data.last_export_at - NIGHTLY_AT) // DAY:
        export_full(world, now)


def keep_tables(world: World, tables: tuple[str, ...] = WORLD_TABLES) -> None:
    """Drop every other table and its exports (before `serve`): a quicker sandbox for tests."""
    data: ControlShiftData = world.vendors["controlshift"]  # type: ignore[assignment]
    for table in set(data.rows) - set(tables):
        del data.rows[table], data.columns[table]
    data.files = {key: body for key, body in data.files.items() if key.split("/")[2] in data.rows}


def organisation_counts(data: ControlShiftData) -> dict[str, int]:
    return {f"{table}_count": len(data.rows.get(table, ()))
            for table in ("petitions", "signatures", "blast_emails", "members")}


# --- the fake REST API and signed download links ----------------------------------------------

def _column_json(column: str, sql_type: str) -> dict:
    lowered = sql_type.lower()
    kind = ("integer" if lowered.startswith(("integer", "bigint")) else "boolean" if lowered.startswith("boolean")
            else "datetime" if lowered.startswith("timestamp") else "decimal" if lowered.startswith("numeric")
            else "string")
    limit = 8 if lowered.startswith("bigint") else 4 if lowered.startswith("integer") else None
    served = RAW_POSTGRES_TYPES.get(column) or re.sub(r"\(max\)", "", sql_type, flags=re.I).lower().strip()
    return {"type": kind, "sql_type": served, "limit": limit, "nullable": True, "default_value": None}


class ControlShiftApi(VendorApi):
    """The WSGI side of the fake; `FakeService` adds limits and faults around it.

    Besides the REST API it answers as the exports bucket's S3 endpoint (path-style): a signed
    link downloads its object until it expires; anything else, a listing included, is refused
    with S3's 403 `AccessDenied`, which is what an organisation without Direct AWS Access meets.
    """

    vendor = "controlshift"

    def __init__(self, world: World, api_key: str, signing_key: bytes, bucket: str) -> None:
        self.world, self.api_key, self.signing_key, self.bucket = world, api_key, signing_key, bucket
        self.routes = Map([
            Rule("/api/bulk_data/schema.json", endpoint="schema"),
            Rule("/api/bulk_data/schema/columns", endpoint="columns"),
            Rule("/api/v1/organisation", endpoint="organisation"),
            Rule(f"/{bucket}", endpoint="bucket"),
            Rule(f"/{bucket}/", endpoint="bucket"),
            Rule(f"/{bucket}/<path:key>", endpoint="download"),
        ])

    def signature(self, key: str, expires: int) -> str:
        return hmac.new(self.signing_key, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def handle(self, request: Request, endpoint: str, args: dict) -> Response:
        if endpoint == "download":
            return self._download(request, args["key"])
        if endpoint == "bucket":
            return _access_denied("Access Denied")
        # ControlShift's own loader reads the schema without a key
        if endpoint != "schema" and not has_bearer(request, self.api_key):
            raise ApiError(401, {"error": "invalid_token", "error_description": "The access token is invalid"})
        return getattr(self, f"_{endpoint}")(request)

    def _schema(self, request: Request) -> Response:
        tables = [{"table": {"name": table, "columns": {column: _column_json(column, TABLES[table].get(column, "character varying"))
                                                        for column in columns}}}
                  for table, columns in self.data.columns.items()]
        settings = {"compression_format": "BZIP2"} if self.data.compress else {}
        return json_response({"tables": tables, "settings": settings})

    def _columns(self, request: Request) -> Response:
        table = request.args.get("table", "")
        if table not in self.data.columns:
            raise ApiError.from_message(404, f"unknown table {table!r}")
        return Response(",".join(self.data.columns[table]) + "\n", mimetype="text/csv")

    def _organisation(self, request: Request) -> Response:
        return json_response({"organisation": {"slug": self.data.slug, "name": "Keystone Action",
                                               **organisation_counts(self.data)}})

    def _download(self, request: Request, key: str) -> Response:
        expires = request.args.get("Expires", "")
        if (not expires.isdigit() or not hmac.compare_digest(self.signature(key, int(expires)), request.args.get("Signature", ""))
                or int(expires) < self.world.clock.now):
            return _access_denied("Request has expired")
        if key not in self.data.files:
            return Response("<Error><Code>NoSuchKey</Code></Error>", status=404, mimetype="application/xml")
        return Response(self.data.files[key], mimetype="text/csv")


def _access_denied(message: str) -> Response:
    return Response(f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>",
                    status=403, mimetype="application/xml")


def _quiet_moto_server():  # noqa: ANN202 - a ThreadedMotoServer
    """moto's threaded S3 server on a free loopback port, without a log line per request."""
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, ThreadedMotoServer, create_backend_app
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    class QuietServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=QuietHandler)
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.05)  # stop() waits a poll, as FakeService's

    return QuietServer(ip_address="127.0.0.1", port=0, verbose=False)


def _moto_store(bucket: str):  # noqa: ANN202 - a moto S3Backend, or None
    """The in-process store of moto's S3, which the server thread reads and writes, if it holds `bucket`."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    store = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    return store if bucket in store.buckets else None


class ControlShiftService:
    """A moto S3 server holding the exports plus the fake REST API; a context manager like FakeService."""

    def __init__(self, world: World, api_key: str, *, rate_limit: float | None = None,
                 bucket_access: bool = True) -> None:
        self.world = world
        self.bucket = f"controlshift-exports-{secrets.token_hex(4)}"
        # whether the organisation has Direct AWS Access (tests may switch it off at any time)
        self.bucket_access = bucket_access
        self.api = ControlShiftApi(world, api_key, secrets.token_bytes(16), self.bucket)
        self.rest = FakeService(self.api, name="controlshift", rate_limit=rate_limit)
        self._moto = None
        self._s3 = None
        self._store = None

    @property
    def data(self) -> ControlShiftData:
        return self.api.data

    @property
    def url(self) -> str:
        return self.rest.url

    @property
    def faults(self):  # noqa: ANN201 - the REST fake's switchable faults
        return self.rest.faults

    def count(self, status: int | None = None, path_prefix: str = "") -> int:
        return self.rest.count(status, path_prefix)

    def reset_log(self) -> None:
        self.rest.reset_log()

    def start(self) -> "ControlShiftService":
        import boto3

        self._moto = _quiet_moto_server()
        self._moto.start()
        self.s3_endpoint_url = "http://127.0.0.1:%d" % self._moto.get_host_and_port()[1]
        self._s3 = boto3.client("s3", endpoint_url=self.s3_endpoint_url, region_name="us-east-1",
                                aws_access_key_id=SANDBOX_AWS_KEY_ID, aws_secret_access_key=SANDBOX_AWS_SECRET)
        self._s3.create_bucket(Bucket=self.bucket)
        self._store = _moto_store(self.bucket)
        for key, body in self.data.files.items():
            self.put_object(key, body)
        self.data.sinks.append(self.put_object)
        self.rest.start()
        return self

    def stop(self) -> None:
        if self.put_object in self.data.sinks:
            self.data.sinks.remove(self.put_object)
        self.rest.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> "ControlShiftService":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def put_object(self, key: str, body: bytes) -> None:
        """Writes an export into the bucket: straight into moto's store when it is in reach, the same
        object a PUT request makes (body, ETag, type), without a signed HTTP request per file (those
        were almost all of a sandbox's start: 1.5 CPU-s for a world's 154 files)."""
        if self._store is not None:
            self._store.put_object(self.bucket, key, body)
        else:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def delete_object(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def signed_url(self, key: str, lifetime: int = URL_LIFETIME) -> str:
        expires = self.world.clock.now + lifetime
        return (f"{self.url}/{self.bucket}/{quote(key)}?AWSAccessKeyId=sandbox&Expires={expires}"
                f"&Signature={self.api.signature(key, expires)}")

    def webhook_payload(self, key: str, lifetime: int = URL_LIFETIME, jid: str = "") -> dict:
        """What ControlShift POSTs when the export `key` is ready."""
        kind = "full" if "/full/" in key else "incremental"
        data = {"url": self.signed_url(key, lifetime), "table": key.split("/")[2],
                "compression_format": "bzip2" if key.endswith(".bz2") else "none"}
        if self.bucket_access:
            data["s3"] = {"bucket": self.bucket, "key": key}
        return {"type": f"data.{kind}_table_exported", "data": data, "jid": jid or secrets.token_hex(12)}

    def notify(self, endpoint: str, secret: str, keys: list[str], lifetime: int = URL_LIFETIME) -> list[int]:
        """POSTs one signed notification per export, as ControlShift does, all sharing one `jid`
        (one export run); returns the receiver's status codes."""
        import requests

        jid = secrets.token_hex(12)
        statuses = []
        for key in keys:
            body = json.dumps(self.webhook_payload(key, lifetime, jid)).encode()
            signature = "sha256:" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            statuses.append(requests.post(endpoint, data=body, timeout=10, headers={
                "Content-Type": "application/json", "x-controlshift-webhook-signature": signature}).status_code)
        return statuses


def serve(world: World, api_key: str, *, rate_limit: float | None = None, bucket_access: bool = True) -> ControlShiftService:
    """The local S3 and fake REST API over `world` (call `.start()` or use `with`)."""
    return ControlShiftService(world, api_key, rate_limit=rate_limit, bucket_access=bucket_access)


def client_env(service: ControlShiftService, api_key: str) -> dict[str, str]:
    """The configuration that points the `controlshift` source at this sandbox."""
    return {
        "SOURCES__CONTROLSHIFT__BUCKET": service.bucket,
        "SOURCES__CONTROLSHIFT__ORGANIZATION_SLUG": service.data.slug,
        # without Direct AWS Access the bucket is the real one, which refuses this organisation
        "SOURCES__CONTROLSHIFT__S3_ENDPOINT_URL": service.s3_endpoint_url if service.bucket_access else service.url,
        "SOURCES__CONTROLSHIFT__BASE_URL": service.url,
        # the signed links point at this fake, not at ControlShift's export hosts
        "SOURCES__CONTROLSHIFT__ALLOWED_ORIGINS": json.dumps([service.url]),
        "SOURCES__CONTROLSHIFT__API_KEY": api_key,
        "AWS_ACCESS_KEY_ID": SANDBOX_AWS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SANDBOX_AWS_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
