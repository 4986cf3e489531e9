"""MobilizeAmerica: organizations, events (+ timeslots), deleted events, people, attendances.

Specification: `../shared/seeds/000_a724c45019be6897.txt`. Every collection pages with
`page`/`per_page` and a `next` link; the changing ones take `updated_since` (unix
seconds) and are loaded incrementally from the highest `modified_date` seen, merged on
`id`. An organization's event listing includes the events of organizations it promotes.
Cursors are kept per organization, so one organization's activity never hides another's.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import dlt
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator

from pipelines.sources.columns import column_hints
from pipelines.sources.http import HttpPolicy, VendorClient

API_KEY_VARIABLE = "SOURCES__MOBILIZE__API_KEY"

# nested values analysts read as a whole: kept as JSON instead of child tables
JSON_COLUMNS = {
    "events": ("location__address_lines",),
    "people": ("email_addresses", "phone_numbers", "postal_addresses"),
    "attendances": ("person", "event", "timeslot", "sponsor", "referrer"),
}


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


# columns the vendor often sends as null: typed here so they exist from the first load
NULLABLE_COLUMNS = {
    "organizations": {"race_type": "text", "promoted_by_organization_id": "bigint"},
    "events": {"high_priority": "bool", "sponsor__race_type": "text", "location__location__latitude": "double",
               "location__location__longitude": "double", "location__venue": "text",
               "location__locality": "text", "location__region": "text", "location__postal_code": "text"},
    "attendances": {"attended": "bool"},
}


def _column_hints(table: str) -> dict:
    return column_hints(JSON_COLUMNS.get(table, ()), NULLABLE_COLUMNS.get(table))


@dlt.source(name="mobilize")
def mobilize_source(
    organization_id: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
    per_page: int = 100,
    requests_per_second: float = 10.0,
    max_attempts: int = 5,
    backoff_factor: float = 1.0,
    timeout: float = 60.0,
) -> Sequence[dlt.sources.DltResource]:
    client = VendorClient(
        vendor="MobilizeAmerica",
        base_url=base_url,
        credential_variable=API_KEY_VARIABLE,
        policy=HttpPolicy(requests_per_second, max_attempts, backoff_factor, timeout=timeout),
        auth=BearerTokenAuth(api_key),
        paginator=JSONLinkPaginator(next_url_path="next"),
        data_selector="data",
    )

    def pages(path: str, **params: object) -> Iterator[list[dict]]:
        yield from client.paginate(path, params={"per_page": per_page, **params})

    def incremental_collection(table: str, path: str, cursor: str, resource_name: str):  # noqa: ANN202
        @dlt.resource(name=resource_name, table_name=table, primary_key="id",
                      write_disposition="merge", columns=_column_hints(table))
        def collection(
            updated_since: dlt.sources.incremental[int] = dlt.sources.incremental(cursor),
        ) -> Iterator[list[dict]]:
            since = updated_since.last_value
            yield from pages(path, **({"updated_since": since} if since is not None else {}))

        return collection

    orgs = organization_ids(organization_id)
    resources = [
        incremental_collection("organizations", "organizations", "modified_date", "organizations")
        .add_filter(lambda org: org["id"] in orgs),
        promoted_organizations(orgs, pages),
    ]
    # one resource per organization and collection: dlt keeps a cursor per resource
    for org in orgs:
        for table, cursor in (("events", "modified_date"), ("deleted_events", "deleted_date"),
                              ("people", "modified_date"), ("attendances", "modified_date")):
            path = f"organizations/{org}/{'events/deleted' if table == 'deleted_events' else table}"
            resource = incremental_collection(table, path, cursor, f"{table}_org_{org}")
            resources.append(resource.add_map(_tag_organization(org)))
    return resources


def promoted_organizations(orgs: list[int], pages) -> dlt.sources.DltResource:  # noqa: ANN001
    """The organizations each configured one promotes (no filters exist: read whole)."""

    @dlt.resource(name="promoted_organizations", table_name="organizations", primary_key="id",
                  write_disposition="merge", columns=_column_hints("organizations"))
    def promoted() -> Iterator[list[dict]]:
        for org in orgs:
            for page in pages(f"organizations/{org}/promoted_organizations"):
                yield [{**item, "promoted_by_organization_id": org} for item in page]

    return promoted


def _tag_organization(org: int):  # noqa: ANN202
    """Record which configured organization a row was listed under."""

    def tag(row: dict) -> dict:
        row["listed_by_organization_id"] = org
        return row

    return tag
