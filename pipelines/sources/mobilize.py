"""MobilizeAmerica: organizations, events (+ timeslots, tags), deleted events, people, attendances.

Specification: `../shared/seeds/000_a724c45019be6897.txt`, amended by what the live API does
today (`../shared/reference/vendor-behaviour.md`; the fake in `sandbox/mobilize.py`
cites the evidence). Every collection follows the `next` links as given (they carry a
`cursor`); the changing ones take `updated_since` (unix seconds) and are loaded incrementally
from the highest `modified_date` seen, merged on a key that survives the API's omissions: an
attendance read by an independent organization from a coordinated one has no id, and new
people have no person id, only a `user_id`. Rows without a cursor value or a key (issue #69's
deleted events with every field null) never fail a sync or move a cursor: they land in
`incomplete_<table>`, counted in the run summary. Events and deleted events are asked for in
every visibility and approval status, since private and unapproved events are the
organization's data too. Deleted events are read whole on every run: their `updated_since`
filters by the events' `modified_date`, which a deletion need not change. An organization's
event listing includes the events of organizations it promotes. Cursors are kept per
organization, so one organization's activity never hides another's.

An event's `tags` land in the child table `events__tags` (as its timeslots do), which dlt's merge
replaces with the event, so a tag taken off leaves no row; its `event_campaign` (shown only for
the organization's own events) lands in `event_campaign__*` columns. An RSVP's
`custom_signup_field_values` is kept whole (json), null where Mobilize withholds it (an event
the organization does not own). Raw columns and their types: `_mobilize__sources.yml`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Callable, Iterator, Sequence

import dlt
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator

from pipelines.sources.columns import column_hints
from pipelines.sources.http import HttpPolicy, VendorClient

API_KEY_VARIABLE = "SOURCES__MOBILIZE__API_KEY"


def organization_ids(value: str | int | Sequence[int | str]) -> list[int]:
    """`1`, `"1,2"` or `[1, 2]` -> `[1, 2]`; anything else is a configuration error."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    try:
        ids = [int(str(item).strip()) for item in items if str(item).strip()]
    except ValueError:
        raise ValueError(
            f"SOURCES__MOBILIZE__ORGANIZATION_ID must be organization ids separated by commas, got {value!r}"
        ) from None
    if not ids:
        raise ValueError("SOURCES__MOBILIZE__ORGANIZATION_ID names no organization")
    return ids


# every value of the listings' `visibility` and `approval_status` filters: the defaults are
# public and approved only, and private or unapproved events are the organization's data too
EVENT_FILTERS = {
    "visibility": ["PUBLIC", "PRIVATE"],
    "approval_status": ["APPROVED", "NEEDS_APPROVAL", "NEEDS_HOST_VERIFICATION", "REJECTED"],
}


def person_key(person: dict | None) -> str | None:
    """A person's id as text; `user:<user_id>` for new people, whose person id is null."""
    person = person or {}
    person_id = person.get("id") or person.get("person_id")
    if person_id is not None:
        return str(person_id)
    return f"user:{person['user_id']}" if person.get("user_id") is not None else None


def attendance_key(attendance: dict) -> str | None:
    """The attendance id as text; for an id-less attendance, a digest of what identifies it.

    An independent organization reading a coordinated one's RSVP gets no attendance id, no
    timeslot id and only the event's type: who, when they signed up, and the timeslot's dates
    are what is left, and they do not change between runs.
    """
    if attendance.get("id") is not None:
        return str(attendance["id"])
    who = person_key(attendance.get("person"))
    if who is None or attendance.get("created_date") is None:
        return None
    timeslot = attendance.get("timeslot") or {}
    event = attendance.get("event") or {}
    return "derived:" + _digest([who, attendance["created_date"], timeslot.get("start_date"),
                                 timeslot.get("end_date"), event.get("event_type")])


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def vendor_id(row: dict) -> object:
    return row.get("id")


# table -> (merge key column, how a row's key is computed, cursor column or None to read whole)
COLLECTIONS: dict[str, tuple[str, Callable[[dict], object], str | None]] = {
    "organizations": ("id", vendor_id, "modified_date"),
    "events": ("id", vendor_id, "modified_date"),
    "deleted_events": ("id", vendor_id, None),
    "people": ("person_key", person_key, "modified_date"),
    "attendances": ("attendance_key", attendance_key, "modified_date"),
}
# what each configured organization lists, and where
ORGANIZATION_COLLECTIONS = {"events": "events", "deleted_events": "events/deleted", "people": "people",
                            "attendances": "attendances"}
FILTERED_COLLECTIONS = ("events", "deleted_events")


@dlt.source(name="mobilize")
def mobilize_source(
    organization_id: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
    per_page: int = dlt.config.value,
    requests_per_second: float = dlt.config.value,
    max_attempts: int = dlt.config.value,
    backoff_factor: float = dlt.config.value,
    timeout: float = dlt.config.value,
) -> Sequence[dlt.sources.DltResource]:
    client = VendorClient(
        vendor="MobilizeAmerica",
        base_url=base_url,
        credential_variable=API_KEY_VARIABLE,
        policy=HttpPolicy(requests_per_second, max_attempts, backoff_factor, timeout=timeout),
        auth=BearerTokenAuth(api_key),
        # the `next` link carries the paging cursor and every filter: followed as given
        paginator=JSONLinkPaginator(next_url_path="next"),
        data_selector="data",
    )

    def pages(path: str, **params: object) -> Iterator[list[dict]]:
        yield from client.paginate(path, params={"per_page": per_page, **params})

    orgs = organization_ids(organization_id)
    organizations = incremental_collection("organizations", "organizations", COLLECTIONS["organizations"], pages)
    resources = [organizations.add_filter(lambda org: org.get("id") in orgs), promoted_organizations(orgs, pages)]
    # one resource per organization and collection: dlt keeps a cursor per resource
    for org in orgs:
        for table, path in ORGANIZATION_COLLECTIONS.items():
            resources.append(incremental_collection(
                table, f"organizations/{org}/{path}", COLLECTIONS[table], pages, f"{table}_org_{org}", org,
                EVENT_FILTERS if table in FILTERED_COLLECTIONS else {}))
    return resources


def incremental_collection(table: str, path: str, spec: tuple, pages, resource_name: str | None = None,  # noqa: ANN001
                           listed_by: int | None = None, params: dict | None = None) -> dlt.sources.DltResource:
    """A collection merged on its key; with a cursor, read from the highest one loaded.

    `listed_by`: the configured organization whose listing this is, recorded on every row.
    """
    key_column, key_of, cursor = spec
    # rows without a cursor value pass dlt's incremental untouched and are set aside below
    since = dlt.sources.incremental(cursor, on_cursor_value_missing="include") if cursor else None

    @dlt.resource(name=resource_name or table, table_name=table, primary_key=key_column,
                  write_disposition="merge", columns=column_hints("mobilize", table))
    def collection(updated_since: dlt.sources.incremental[int] | None = since) -> Iterator[object]:
        last = updated_since.last_value if updated_since is not None else None
        for page in pages(path, **(params or {}), **({"updated_since": last} if last is not None else {})):
            if listed_by is not None:
                page = [{**row, "listed_by_organization_id": listed_by} for row in page]
            yield from _split_incomplete(table, page, key_column, key_of, cursor)

    return collection


def _split_incomplete(table: str, page: list[dict], key_column: str, key_of, cursor: str | None) -> Iterator[object]:  # noqa: ANN001
    """The page's usable rows, keyed; rows without a key or cursor go to `incomplete_<table>`."""
    complete, incomplete = [], []
    for row in page:
        key = key_of(row)
        if key is None or (cursor is not None and row.get(cursor) is None):
            incomplete.append({**row, "row_key": _digest(row)})
        else:
            complete.append(_with_person_key({**row, key_column: key} if key_column != "id" else row))
    if complete:
        yield complete
    if incomplete:
        # keyed by content: the same incomplete row served again is merged, not added
        yield dlt.mark.with_hints(incomplete, dlt.mark.make_hints(
            table_name=f"incomplete_{table}", primary_key="row_key", write_disposition="merge"),
            create_table_variant=True)


def _with_person_key(row: dict) -> dict:
    """An attendance names its person by the same key as the people table."""
    if isinstance(row.get("person"), dict):
        row["person_key"] = person_key(row["person"])
    return row


def promoted_organizations(orgs: list[int], pages) -> dlt.sources.DltResource:  # noqa: ANN001
    """The organizations each configured one promotes (no filters exist: read whole)."""

    @dlt.resource(name="promoted_organizations", table_name="organizations", primary_key="id",
                  write_disposition="merge", columns=column_hints("mobilize", "organizations"))
    def promoted() -> Iterator[list[dict]]:
        for org in orgs:
            for page in pages(f"organizations/{org}/promoted_organizations"):
                yield [{**item, "promoted_by_organization_id": org} for item in page]

    return promoted
