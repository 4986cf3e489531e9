"""Action Network (API v2, OSDI): people, events, attendances, tags, taggings, event campaigns.

Specification: `../shared/seeds/002_4d761cadd923a5d8.txt` and `003_1a0cb76621dbd42f.txt`.
Collections are HAL+JSON, paged by `_links.next.href` (`HalNextLinkPaginator`); every
record is merged on its Action Network uuid, parsed from `identifiers`
(`action_network:<uuid>`) into the column `id`. Each collection is incremental on
`modified_date` through the OData filter `modified_date gt '…'`.

Attendances live under each event and taggings under each tag, so every run asks each
known event (tag) once for its children changed since the last run: one filtered request
per event when nothing changed; an event seen for the first time has all its attendances
read. Known event and tag ids are kept in dlt's resource state, because the filtered
event listing returns only the events that changed.

The API allows 4 requests per second. One `VendorClient` (one rate limiter) serves every
thread; collections run as parallel dlt resources and child pages as a parallel dlt
transformer, so the budget is used fully and never exceeded.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Iterator, Sequence

import dlt

from pipelines.sources.columns import column_hints
from pipelines.sources.http import HAL_RECORDS, HalNextLinkPaginator, HttpPolicy, VendorClient

API_KEY_VARIABLE = "SOURCES__ACTION_NETWORK__API_KEY"
ID_PREFIX = "action_network:"
# the filter is strict ("gt") and datetimes have whole seconds: ask again for the last second
# seen, so a record changed within that second after the last run is not missed (merge dedups)
CURSOR_OVERLAP = timedelta(seconds=1)

JSON_COLUMNS = {
    "people": ("identifiers", "email_addresses", "phone_numbers", "postal_addresses", "custom_fields",
               "languages_spoken"),
    "events": ("identifiers", "reminders", "location__address_lines"),
    "attendances": ("identifiers",),
    "tags": ("identifiers",),
    "taggings": ("identifiers",),
    "event_campaigns": ("identifiers",),
}

# columns the vendor often leaves out: typed here so they exist from the first load
NULLABLE_COLUMNS = {
    "events": {"start_date": "text", "end_date": "text", "capacity": "bigint", "event_campaign_id": "text",
               "description": "text", "browser_url": "text", "location__venue": "text",
               "location__locality": "text", "location__region": "text", "location__postal_code": "text",
               "location__location__latitude": "double", "location__location__longitude": "double"},
    "attendances": {"attended": "bool", "person_id": "text", "event_id": "text"},
    "taggings": {"person_id": "text", "tag_id": "text"},
}


TIMESTAMP_COLUMNS = {"created_date": "timestamp", "modified_date": "timestamp"}


def _column_hints(table: str) -> dict:
    return column_hints(JSON_COLUMNS.get(table, ()), TIMESTAMP_COLUMNS | NULLABLE_COLUMNS.get(table, {}))


def action_network_id(record: dict) -> str:
    """The uuid after `action_network:` in `identifiers`, else the last segment of the self link."""
    for identifier in record.get("identifiers") or ():
        if identifier.startswith(ID_PREFIX):
            return identifier[len(ID_PREFIX):]
    href = _href(record.get("_links", {}), "self")
    if href:
        return href
    raise ValueError(f"an Action Network record without an action_network identifier: {record!r:.200}")


def _href(links: dict, rel: str) -> str | None:
    """The id a HAL link points at: the last path segment of its href."""
    link = links.get(rel)
    href = link.get("href") if isinstance(link, dict) else None
    return href.rstrip("/").rsplit("/", 1)[-1] if href else None


def prepare(record: dict, **columns: str) -> dict:
    """A record as loaded: `id` from its identifiers, link targets as ids, no HAL links."""
    links = record.pop("_links", None) or {}
    record["id"] = action_network_id({**record, "_links": links})
    if "osdi:person" in links or "action_network:person_id" in record:
        record["person_id"] = _href(links, "osdi:person") or record.get("action_network:person_id")
    record.pop("action_network:person_id", None)
    record.pop("action_network:event_id", None)
    if "action_network:event_campaign_id" in record:
        record["event_campaign_id"] = record.pop("action_network:event_campaign_id")
    record.update(columns)
    return record


class ChildCursor:
    """The `modified_date` cursor of a child collection read under many parents.

    Every parent's children are filtered by the cursor as it was when the run started,
    and the newest `modified_date` seen becomes the next run's. (`dlt.sources.incremental`
    on a transformer moves its start as each parent's children arrive, and would drop one
    event's older RSVPs for being older than another event's newest.) Thread-safe: the
    transformer runs for several parents at once.
    """

    def __init__(self, resource_name: str) -> None:
        self.resource_name = resource_name
        self._lock = threading.Lock()
        self._state: dict | None = None
        self._start: str | None = None

    def _bind(self) -> dict:
        if self._state is None:
            # laid out as dlt keeps an incremental's state, so `status` reports this cursor too
            resource = dlt.current.resource_state(self.resource_name)
            self._state = resource.setdefault("incremental", {}).setdefault("modified_date", {})
            self._start = self._state.get("last_value")
        return self._state

    def start(self) -> str | None:
        with self._lock:
            self._bind()
            return self._start

    def advance(self, seen: str | None) -> None:
        with self._lock:
            state = self._bind()
            if seen is not None and (state.get("last_value") is None or seen > state["last_value"]):
                state["last_value"] = seen


def odata_after(cursor: str) -> str:
    """`modified_date gt '…'`, one overlap second before the cursor."""
    moment = datetime.fromisoformat(cursor.replace("Z", "+00:00")).astimezone(timezone.utc) - CURSOR_OVERLAP
    return f"modified_date gt '{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}'"


@dlt.source(name="action_network")
def action_network_source(
    api_key: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
    per_page: int = 25,
    requests_per_second: float = 4.0,
    max_attempts: int = 5,
    backoff_factor: float = 1.0,
    timeout: float = 60.0,
) -> Sequence[dlt.sources.DltResource]:
    client = VendorClient(
        vendor="Action Network",
        base_url=base_url,
        credential_variable=API_KEY_VARIABLE,
        policy=HttpPolicy(requests_per_second, max_attempts, backoff_factor, timeout=timeout),
        headers={"OSDI-API-Token": api_key, "Content-Type": "application/json"},
        paginator=HalNextLinkPaginator(),
        data_selector=HAL_RECORDS,
    )

    def pages(path: str, since: str | None) -> Iterator[list[dict]]:
        params: dict[str, object] = {"per_page": per_page}
        if since is not None:
            params["filter"] = odata_after(since)
        yield from client.paginate(path, params=params)

    def collection(table: str) -> dlt.sources.DltResource:
        @dlt.resource(name=table, primary_key="id", write_disposition="merge", columns=_column_hints(table),
                      parallelized=True)
        def records(
            modified_date: dlt.sources.incremental[str] = dlt.sources.incremental("modified_date", primary_key=()),
        ) -> Iterator[list[dict]]:
            for page in pages(table, modified_date.start_value):
                yield [prepare(record) for record in page]

        return records

    def with_children(table: str, child_table: str, parent_column: str) -> list[dlt.sources.DltResource]:
        """`table` incrementally, and for every known `table` record its `child_table` collection."""

        @dlt.resource(name=f"{table}_listing", selected=False, parallelized=True)
        def listing(
            modified_date: dlt.sources.incremental[str] = dlt.sources.incremental(
                "modified_date", primary_key=(), on_cursor_value_missing="include"),
        ) -> Iterator[dict]:
            """Every known parent once: `record` when it changed (else None), `new` when first seen."""
            known: list[str] = dlt.current.resource_state().setdefault("known_ids", [])
            already_known = set(known)
            fetched: set[str] = set()
            for page in pages(table, modified_date.start_value):
                for record in page:
                    record = prepare(record)
                    fetched.add(record["id"])
                    yield {"id": record["id"], "modified_date": record.get("modified_date"), "record": record,
                           "new": record["id"] not in already_known}
            unchanged = [record_id for record_id in known if record_id not in fetched]
            known.extend(sorted(fetched - already_known))
            for record_id in unchanged:
                yield {"id": record_id, "modified_date": None, "record": None, "new": False}

        @dlt.transformer(data_from=listing, name=table, primary_key="id", write_disposition="merge",
                         columns=_column_hints(table))
        def parents(item: dict) -> Iterator[dict]:
            if item["record"] is not None:
                yield item["record"]

        cursor = ChildCursor(child_table)

        @dlt.transformer(data_from=listing, name=child_table, primary_key="id", write_disposition="merge",
                         columns=_column_hints(child_table), parallelized=True)
        def children(item: dict) -> Iterator[list[dict]]:
            # a parent seen for the first time has all its children read, however old they are
            since = None if item["new"] else cursor.start()
            for page in pages(f"{table}/{item['id']}/{child_table}", since):
                rows = [prepare(child, **{parent_column: item["id"]}) for child in page]
                cursor.advance(max((row["modified_date"] for row in rows if row.get("modified_date")), default=None))
                yield rows

        return [listing, parents, children]

    return [
        collection("people"),
        collection("event_campaigns"),
        *with_children("events", "attendances", "event_id"),
        *with_children("tags", "taggings", "tag_id"),
    ]
