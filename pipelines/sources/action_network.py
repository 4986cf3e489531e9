"""Action Network (API v2, OSDI): people, events, attendances, tags, taggings, event campaigns,
and the actions people take: petitions' signatures, forms' submissions, fundraising pages'
donations, advocacy campaigns' outreaches; and lists.

Specification: `../shared/seeds/002_4d761cadd923a5d8.txt` and `003_1a0cb76621dbd42f.txt`, where
the live API has moved on `../shared/reference/vendor-behaviour.md`. Collections are HAL+JSON,
paged by `_links.next.href` (`HalNextLinkPaginator`); every record is merged on its Action
Network uuid, parsed from `identifiers` (`action_network:<uuid>`) into the column `id`.

A sync is a *plan* of reads, kept in dlt's resource state and worked through in steps of at
most `step_requests` requests; each step is loaded before the next starts (the runner runs the
source again while the state says `unfinished`), so a crash costs one step, and the rerun
resumes the plan, a paged listing from the page it reached. Requests per incremental run grow
with what changed, not with history:

- `people`, `event_campaigns`, `events` (and each campaign's events: events other groups host
  in a campaign the group sponsors are listed only there) and the action pages (`petitions`,
  `forms`, `fundraising_pages`, `advocacy_campaigns`: `ACTION_PAGES`) with the OData filter
  `modified_date gt '<cursor>'`; `tags` and `lists` whole (the API documents no filter for
  tags, taggings or lists, and a strict server rejects one);
- attendances of every event that is new (all of them), changed, or still taking RSVPs
  (starting after `open_event_days` ago), filtered by the cursor; taggings of every new tag,
  and of every changed person (`/people/{id}/taggings`: a person's `modified_date` moves with
  their actions; whether being tagged moves it is unverified, hence also the sweep);
- the actions on every action page that is new (all of them), changed, or still drawing
  actions (launched, or acted on, within `open_action_days`), filtered by the cursor: most of a
  page's actions come in its first weeks, so old pages cost nothing. Whether a new action moves
  its page's `modified_date` is unverified, so nothing depends on it;
- every `sweep_days`, a sweep: every known event's attendances, every known page's actions
  (filtered) and every tag's taggings, for late changes to old events and pages (a recurring
  donor's monthly charge on an old fundraising page).

The cursor is the vendor's clock (its `Date` header) when the plan's first answer came, not the
newest `modified_date` read: a record changed while a long plan was paging is read again by the
next run instead of being skipped. The API allows 4 requests per second; one `VendorClient`
paces every thread, and child reads run a few at a time to keep that budget used.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from itertools import takewhile
from typing import Iterator, Sequence

import dlt

from pipelines.dlt_state import cursor_value, set_cursor_value
from pipelines.sources import UNFINISHED
from pipelines.sources.columns import column_hints, declared_columns
from pipelines.sources.http import HAL_RECORDS, HalNextLinkPaginator, HttpPolicy, VendorClient

API_KEY_VARIABLE = "SOURCES__ACTION_NETWORK__API_KEY"
ID_PREFIX = "action_network:"
# the cursor: kept where dlt.sources.incremental keeps one on this column, so `status` reports it
CURSOR = "modified_date"
# the filter is strict ("gt") and datetimes have whole seconds: ask again for the cursor's last
# second, so a record changed within it is not missed (merge dedups)
CURSOR_OVERLAP = timedelta(seconds=1)
ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
# child reads in flight at once: enough to keep the paced budget busy while one waits
PARALLEL_READS = 4


@dataclass(frozen=True)
class ActionPages:
    """A kind of action page, listed at `/<pages>`, and the actions on each, at `/<pages>/{id}/<actions>`;
    both tables are named as their collections, and `column` names an action's page."""

    pages: str
    actions: str
    column: str

    @property
    def rel(self) -> str:
        """The HAL relation an action links its page by (`osdi:petition`)."""
        return f"osdi:{self.column.removesuffix('_id')}"


ACTION_PAGES = (
    ActionPages("petitions", "signatures", "petition_id"),
    ActionPages("forms", "submissions", "form_id"),
    ActionPages("fundraising_pages", "donations", "fundraising_page_id"),
    ActionPages("advocacy_campaigns", "outreaches", "advocacy_campaign_id"),
)
PAGE_KINDS = {kind.pages: kind for kind in ACTION_PAGES}
ACTION_KINDS = {kind.actions: kind for kind in ACTION_PAGES}
# collections read under a parent; all but a new page's actions are one request, mostly
CHILD_TABLES = ("attendances", "taggings", *ACTION_KINDS)
# listings the API documents no filter for: read whole every run
WHOLE_LISTINGS = ("tags", "lists")

# HAL link relation -> the id column it fills; the same id also comes namespaced,
# `action_network:<column>` (`action_network:person_id`, `action_network:petition_id`, …)
LINKED_IDS = {
    "osdi:person": "person_id", "osdi:event": "event_id", "osdi:tag": "tag_id",
    "action_network:event_campaign": "event_campaign_id",
    **{kind.rel: kind.column for kind in ACTION_PAGES},
    # an outreach's campaign as some integrations spell the relation (unverified)
    "action_network:advocacy_campaign": "advocacy_campaign_id",
}


def _table_hints(table: str) -> dict:
    return dlt.mark.make_hints(table_name=table, primary_key="id", write_disposition="merge",
                               columns=column_hints("action_network", table))


# one resource yields every table: each batch carries its table's hints as a table variant, so
# one table's columns do not become every later table's
HINTS = {table: _table_hints(table) for table in declared_columns("action_network")}


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
    """A record as loaded: `id` from its identifiers, link targets as ids, no HAL links, nothing
    embedded (an action page embeds its creator, a whole person: people come from `/people`)."""
    links = record.pop("_links", None) or {}
    record.pop("_embedded", None)
    record["id"] = action_network_id({**record, "_links": links})
    for rel, column in LINKED_IDS.items():
        namespaced = record.pop(f"action_network:{column}", None)
        linked = _href(links, rel) or namespaced
        if linked is not None:
            record[column] = linked
    record.update(columns)
    return record


def odata_after(cursor: str) -> str:
    """`modified_date gt '…'`, one overlap second before the cursor."""
    return f"modified_date gt '{(_moment(cursor) - CURSOR_OVERLAP).strftime(ISO_SECONDS)}'"


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _days_before(moment: datetime, days: int) -> str:
    return (moment - timedelta(days=days)).strftime(ISO_SECONDS)


def vendor_now(response) -> str:  # noqa: ANN001 - a requests Response
    """The vendor's clock from its `Date` header (ours when it sends none), as Action Network writes times."""
    try:
        moment = parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        moment = datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime(ISO_SECONDS)


def _read(table: str, path: str, since: str | None = None, **columns: str) -> dict:
    """One entry of a plan: a collection to read into `table`, from `next` when resuming."""
    return {"table": table, "path": path, "since": since, "columns": columns, "next": None}


def batched(read: dict) -> bool:
    """Whether a read is one request, mostly, and so read whole beside others in a parallel batch:
    child reads, except a new page's actions (all of them, many pages mostly), which are paged like
    a listing, so that a step keeps to its budget and a rerun resumes from the page it reached."""
    return read["table"] in CHILD_TABLES and not (read["table"] in ACTION_KINDS and read["since"] is None)


class Planner:
    """What one sync reads, decided from the source's state and from what the listings return.

    State (dlt's resource state, committed with each loaded step): the cursor (`CURSOR`, read and
    moved through `pipelines.dlt_state`), known `events` (id -> [campaign id or "", start]),
    `campaigns` and `tags`, known action `pages` (id -> [its collection, when it was launched or
    last acted on, whichever is later]), `last_sweep`, and the `plan` in progress.
    """

    def __init__(self, state: dict, open_event_days: int, open_action_days: int, sweep_days: int) -> None:
        self.state = state
        self.open_event_days = open_event_days
        self.open_action_days = open_action_days
        self.sweep_days = sweep_days
        self.cursor: str | None = cursor_value(state, CURSOR)
        self.known_events: dict[str, list] = state.setdefault("events", {})
        self.known_campaigns: list[str] = state.setdefault("campaigns", [])
        self.known_tags: list[str] = state.setdefault("tags", [])
        # a warehouse synced before action pages were read has a cursor and no pages: list every
        # page once, or those older than the cursor would never be read
        self.pages_since = self.cursor if "pages" in state else None
        self.known_pages: dict[str, list] = state.setdefault("pages", {})
        fresh = "plan" not in state
        if fresh:
            state["plan"] = {"started_at": None, "scheduled": [], "reads": []}
        self.plan: dict = state["plan"]
        self._scheduled = set(self.plan["scheduled"])
        if fresh:
            for read in self._listings():
                self._schedule(read)

    def _listings(self) -> list[dict]:
        reads = [_read(table, table, self.cursor) for table in ("people", "event_campaigns", "events")]
        reads += [_read("events", f"event_campaigns/{c}/events", self.cursor, event_campaign_id=c)
                  for c in self.known_campaigns]
        reads += [_read(table, table, self.pages_since) for table in PAGE_KINDS]
        return [*reads, *(_read(table, table) for table in WHOLE_LISTINGS), _read("schedule", "")]

    def next_read(self) -> dict | None:
        return self.plan["reads"][0] if self.plan["reads"] else None

    def done(self) -> None:
        """The plan's first read is done (reads are worked through in order)."""
        self.plan["reads"].pop(0)

    def saw(self, read: dict, rows: list[dict]) -> None:
        """Reads that follow from a page of a listing: children of what is new or changed."""
        table = read["table"]
        for row in rows:
            if table == "events":
                self._event(row, read["columns"].get("event_campaign_id", ""))
            elif table == "event_campaigns" and row["id"] not in self.known_campaigns:
                # a campaign seen for the first time has all its events read, however old
                self.known_campaigns.append(row["id"])
                self._schedule(_read("events", f"event_campaigns/{row['id']}/events",
                                     event_campaign_id=row["id"]))
            elif table == "tags" and row["id"] not in self.known_tags:
                self.known_tags.append(row["id"])
                self._schedule(_read("taggings", f"tags/{row['id']}/taggings"))
            elif table == "people" and self.cursor is not None:
                self._schedule(_read("taggings", f"people/{row['id']}/taggings"))
            elif table in PAGE_KINDS:
                self._page(row, table)
            elif table in ACTION_KINDS:
                self._acted_on(row.get(ACTION_KINDS[table].column), row.get("created_date"))

    def _event(self, row: dict, campaign: str) -> None:
        new = row["id"] not in self.known_events
        campaign = self.known_events[row["id"]][0] if not new else campaign
        self.known_events[row["id"]] = [campaign, row.get("start_date")]
        self._schedule(self._attendances(row["id"], None if new else self.cursor))

    def _attendances(self, event_id: str, since: str | None) -> dict:
        campaign = self.known_events[event_id][0]
        path = f"event_campaigns/{campaign}/events/{event_id}" if campaign else f"events/{event_id}"
        return _read("attendances", f"{path}/attendances", since, event_id=event_id)

    def _page(self, row: dict, pages: str) -> None:
        """A page new (all its actions read, however old) or changed (its actions since the cursor)."""
        new = row["id"] not in self.known_pages
        self.known_pages.setdefault(row["id"], [pages, ""])
        self._acted_on(row["id"], row.get("created_date"))
        self._schedule(self._actions(row["id"], None if new else self.cursor))

    def _acted_on(self, page_id: str | None, moment: str | None) -> None:
        """Keeps when a page was launched or last acted on, whichever is later: it stays open that long."""
        if page_id in self.known_pages and moment:
            self.known_pages[page_id][1] = max(self.known_pages[page_id][1], moment)

    def _actions(self, page_id: str, since: str | None) -> dict:
        kind = PAGE_KINDS[self.known_pages[page_id][0]]
        return _read(kind.actions, f"{kind.pages}/{page_id}/{kind.actions}", since, **{kind.column: page_id})

    def _schedule(self, read: dict) -> None:
        if read["path"] not in self._scheduled:
            self._scheduled.add(read["path"])
            self.plan["scheduled"].append(read["path"])
            self.plan["reads"].append(read)

    def schedule_open_and_sweep(self) -> None:
        """After the listings: events still taking RSVPs and pages still drawing actions, and every
        event, page and tag when a sweep is due."""
        now = _moment(self.plan["started_at"])
        sweep = self.sweep_due(now)
        opened = _days_before(now, self.open_event_days)
        for event_id, (_, start) in self.known_events.items():
            if sweep or start is None or start >= opened:
                self._schedule(self._attendances(event_id, self.cursor))
        active = _days_before(now, self.open_action_days)
        for page_id, (_, last_acted) in self.known_pages.items():
            if sweep or last_acted >= active:
                self._schedule(self._actions(page_id, self.cursor))
        if sweep:
            for tag_id in self.known_tags:
                self._schedule(_read("taggings", f"tags/{tag_id}/taggings"))
        self.plan["sweep"] = sweep

    def sweep_due(self, now: datetime) -> bool:
        last = self.state.get("last_sweep")
        return last is not None and now - _moment(last) >= timedelta(days=self.sweep_days)

    def finish(self) -> None:
        """Every read done: the next run asks for what changed since this plan's first answer."""
        plan = self.state.pop("plan")
        if plan["started_at"] is not None:
            set_cursor_value(self.state, CURSOR, plan["started_at"])
            if plan.get("sweep") or self.state.get("last_sweep") is None:
                self.state["last_sweep"] = plan["started_at"]


@dlt.source(name="action_network")
def action_network_source(
    api_key: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
    per_page: int = dlt.config.value,
    requests_per_second: float = dlt.config.value,
    rate_margin: float = dlt.config.value,
    max_attempts: int = dlt.config.value,
    backoff_factor: float = dlt.config.value,
    timeout: float = dlt.config.value,
    open_event_days: int = dlt.config.value,
    open_action_days: int = dlt.config.value,
    sweep_days: int = dlt.config.value,
    step_requests: int = dlt.config.value,
) -> Sequence[dlt.sources.DltResource]:
    client = VendorClient(
        vendor="Action Network",
        base_url=base_url,
        credential_variable=API_KEY_VARIABLE,
        policy=HttpPolicy(requests_per_second, max_attempts, backoff_factor, timeout=timeout, rate_margin=rate_margin),
        headers={"OSDI-API-Token": api_key, "Content-Type": "application/json"},
        paginator=HalNextLinkPaginator(),
        data_selector=HAL_RECORDS,
    )

    def pages(read: dict) -> Iterator[tuple[list[dict], str | None, str]]:
        """(records, the next page's URL or None, the vendor's clock) for each page of a read."""
        if read["next"]:
            start, params = read["next"], None
        else:
            params = {"per_page": per_page} | ({"filter": odata_after(read["since"])} if read["since"] else {})
            start = read["path"]
        for page in client.paginate(start, params=params):
            rows = [prepare(record, **read["columns"]) for record in page]
            yield rows, page.paginator.next_url, vendor_now(page.response)

    def read_whole(read: dict) -> tuple[list[dict], str, int]:
        """(every record of a read, the vendor's clock, the requests it took)."""
        rows, now, used = [], "", 0
        for page_rows, _, now in pages(read):
            rows += page_rows
            used += 1
        return rows, now, used

    @dlt.resource(name="action_network")
    def reads() -> Iterator[object]:
        planner = Planner(dlt.current.resource_state(), open_event_days, open_action_days, sweep_days)
        budget = step_requests
        while budget > 0 and (read := planner.next_read()) is not None:
            if read["table"] == "schedule":
                planner.schedule_open_and_sweep()
                planner.done()
            elif batched(read):
                budget -= yield from children(planner, budget)
            else:
                budget -= yield from listing(planner, read, budget)
        if planner.next_read() is None:
            planner.finish()
        dlt.current.source_state()[UNFINISHED] = "plan" in dlt.current.resource_state()

    def listing(planner: Planner, read: dict, budget: int) -> Iterator[object]:
        """Pages of one listing until it ends or the step's budget does; returns requests made."""
        used = 0
        for rows, next_url, now in pages(read):
            used += 1
            planner.plan["started_at"] = planner.plan["started_at"] or now
            planner.saw(read, rows)
            read["next"] = next_url
            if rows:
                yield dlt.mark.with_hints(rows, HINTS[read["table"]], create_table_variant=True)
            if next_url is None:
                break
            if used >= budget:
                return used
        planner.done()
        return used

    def children(planner: Planner, budget: int) -> Iterator[object]:
        """The next child reads (one request each, mostly), a few at a time; returns the requests made."""
        batch = list(takewhile(batched, planner.plan["reads"][:budget]))
        used = 0
        with ThreadPoolExecutor(PARALLEL_READS) as pool:
            for read, (rows, now, requests) in zip(batch, pool.map(read_whole, batch)):
                planner.plan["started_at"] = planner.plan["started_at"] or now
                planner.saw(read, rows)
                if rows:
                    yield dlt.mark.with_hints(rows, HINTS[read["table"]], create_table_variant=True)
                planner.done()
                used += requests
        return used

    return [reads]
