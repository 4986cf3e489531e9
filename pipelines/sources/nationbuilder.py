"""NationBuilder: the nation's people.

Specification: `../shared/seeds/001_365259b0b4adad46.txt`. The first sync reads the whole
nation through the people index (`/people`, `limit` 100, plus one `/people/count` to check
nothing was skipped); later syncs ask `/people/search?updated_since=` for people updated
since the highest `updated_at` already loaded (dlt's incremental cursor, stored with the
data). Both page by an opaque `next` path (`__nonce`, `__token`) that is followed exactly as
given. Rows merge on `id`. Listings return the abbreviated person resource; the option
`fetch_full_person` replaces each listed person with the full resource (`/people/:id`: all
emails, every address, voter and donation fields), one request per changed person, paced
like every other request.
"""

from __future__ import annotations

import logging
from typing import Iterator

import dlt
from dlt.common.time import ensure_pendulum_datetime
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from pipelines.sources.columns import column_hints
from pipelines.sources.http import HttpPolicy, NextPathPaginator, VendorClient

ACCESS_TOKEN_VARIABLE = "SOURCES__NATIONBUILDER__ACCESS_TOKEN"
MAX_LIMIT = 100

logger = logging.getLogger(__name__)

# nested values kept whole as JSON: address resources, abbreviated person resources, lists
JSON_COLUMNS = (
    "tags", "subnations", "ballots", "author", "recruiter", "parent", "last_contacted_by",
    "primary_address", "home_address", "work_address", "mailing_address", "billing_address",
    "registered_address", "meetup_address", "user_submitted_address", "facebook_address", "twitter_location",
)
# columns the staging models read that are often all null in a load: typed from the first one
NULLABLE_COLUMNS = {
    "email": "text", "phone": "text", "mobile": "text", "external_id": "text", "employer": "text",
    "email1": "text", "email2": "text", "email3": "text", "email4": "text",
    "email1_is_bad": "bool", "email2_is_bad": "bool", "email3_is_bad": "bool", "email4_is_bad": "bool",
    "primary_email_id": "bigint", "support_level": "bigint", "unsubscribed_at": "timestamp",
}


def _column_hints() -> dict:
    hints = column_hints(JSON_COLUMNS, NULLABLE_COLUMNS)
    # one person listed twice in a run (updated while we paged) keeps its newest version
    hints["updated_at"] = {"data_type": "timestamp", "dedup_sort": "desc"}
    hints["created_at"] = {"data_type": "timestamp"}
    return hints


@dlt.source(name="nationbuilder")
def nationbuilder_source(
    access_token: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
    limit: int = MAX_LIMIT,
    fetch_full_person: bool = False,
    requests_per_second: float = 10.0,
    max_attempts: int = 5,
    backoff_factor: float = 1.0,
    timeout: float = 60.0,
) -> dlt.sources.DltResource:
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise ValueError(f"SOURCES__NATIONBUILDER__LIMIT must be from 1 to {MAX_LIMIT}, got {limit!r}")
    client = VendorClient(
        vendor="NationBuilder",
        base_url=base_url,
        credential_variable=ACCESS_TOKEN_VARIABLE,
        policy=HttpPolicy(requests_per_second, max_attempts, backoff_factor, timeout=timeout),
        auth=APIKeyAuth(name="access_token", api_key=access_token, location="query"),
        paginator=NextPathPaginator(base_url),
        data_selector="results",
    )
    return people(client, int(limit), fetch_full_person)


def people(client: VendorClient, limit: int, fetch_full_person: bool) -> dlt.sources.DltResource:
    """The nation's people: the listing, or (fetch_full_person) the listing piped into /people/:id."""

    @dlt.resource(name="people", primary_key="id", write_disposition="merge", columns=_column_hints())
    def people_resource(
        updated_at: dlt.sources.incremental = dlt.sources.incremental("updated_at"),
    ) -> Iterator[list[dict]]:
        since = updated_at.last_value
        if since is None:
            counted = client.get("people/count").json()["people_count"]
            pages = client.paginate("people", params={"limit": limit})
        else:
            counted = None
            pages = client.paginate("people/search", params={"limit": limit, "updated_since": since.isoformat()})
        seen: set[tuple[int, str]] = set()
        for page in pages:
            rows = []
            for person in page:
                # a page served twice (retried, or replayed by a cache) adds nothing
                version = (person["id"], person["updated_at"])
                if version not in seen:
                    seen.add(version)
                    rows.append(_typed(person))
            if rows:
                yield rows
        listed = len({person_id for person_id, _ in seen})
        if counted is not None and listed < counted:
            logger.warning("NationBuilder counted %d people but the index listed %d; people deleted during the "
                           "sync explain a difference, anything else is worth a full re-sync", counted, listed)

    if not fetch_full_person:
        return people_resource

    # a transformer sees the listing after its incremental step: only people changed since
    # the last run are fetched again; the cursor stays with the listing ("people") either way
    @dlt.transformer(name="people_full", table_name="people", primary_key="id", write_disposition="merge",
                     columns=_column_hints())
    def full_people(page: list[dict]) -> Iterator[list[dict]]:
        yield [_typed(client.get(f"people/{person['id']}").json()["person"]) for person in page]

    return people_resource | full_people


def _typed(person: dict) -> dict:
    """Timestamps as datetimes, so the cursor compares instants, not strings with offsets."""
    for column in ("updated_at", "created_at"):
        if person.get(column):
            person[column] = ensure_pendulum_datetime(person[column])
    return person
