"""ControlShift bulk data: nightly full and per-minute incremental CSV exports on S3.

Specification: the Bulk Data, Webhooks and Authenticated REST API parts of
`../shared/seeds/004_7c838a1544b7cc27.txt`. ControlShift writes every table it has as
`<org>/full/<table>/<YYYYMMDD>/<table>_<YYYYMMDDHHMMSS>.csv` each night (every row as it is
then: the only place updates and deletions show) and new rows as
`<org>/incremental/<table>/<YYYYMMDD>/<table>_<…>.csv` every minute, `.csv.bz2` when the
organisation compresses exports. Each export file becomes part of `controlshift.<table>`:

- the tables are whatever the listing finds under `<org>/full/` and `<org>/incremental/` (one
  delimiter listing each); none is hard-coded;
- new files are found by listing only the date prefixes from the newest one already loaded for
  that table and kind onwards (S3 `StartAfter`), never the whole bucket;
- per table, files apply in timestamp order: the newest new full export replaces the table
  (older new fulls are superseded), incrementals newer than the table's full export merge on
  `id` (delete + insert by name), incrementals it already covers change nothing. A full export
  that arrives after newer incrementals were loaded is followed by those incrementals again, so
  arrival order never loses a row;
- everything a run does to one table, and the bookkeeping row of every file it used
  (`controlshift._loaded_files`), commits in one DuckDB transaction: a load that fails part way
  leaves yesterday's table whole and queryable, and a file recorded as loaded is never applied
  twice (re-running any file changes nothing);
- column types come from `/api/bulk_data/schema.json` (`sql_type`) when `base_url` and
  `api_key` are configured, else from DuckDB's CSV sniffing; incrementals keep the table's
  existing types. A column that appears later is added; one that disappears stays, null;
- rows DuckDB cannot parse go to `controlshift._rejected_rows` (file, line, reason, the raw
  line) through `read_csv(store_rejects=…)` and are counted in the run summary;
- files announced by the webhook receiver (`pipelines.controlshift_webhook`) are loaded from
  their signed URL, or, once that has expired (403), from their `s3` bucket/key; a queue entry
  is removed only after its file's load committed.

Why this source writes to DuckDB itself instead of yielding rows to dlt: bulk exports are
millions of rows, and DuckDB's own parallel CSV reader is the fastest correct parser we have
(≈540k rows/s measured here, against ≈300k rows/s for Arrow batches through dlt and ≈11k rows/s
for Python dicts). Going through dlt would also split a full-table replacement into extract,
normalize and load steps that cannot be made one atomic swap with the file bookkeeping. So each
object is streamed (smart-open, which decompresses `.bz2` on the fly, in chunks; never a whole
file in memory) to a temporary file, read with `read_csv`, and swapped in inside a transaction;
the state (which files are loaded, up to which date prefix) lives in the same warehouse and
commits with the data. `python -m pipelines sync controlshift` runs it like any other source.
"""

from __future__ import annotations

import bz2
import datetime as dt
import itertools
import logging
import os
import re
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import dlt
import duckdb
from dlt.common.configuration import with_config

from pipelines.sources.http import HttpPolicy, VendorClient
from pipelines.sql import identifier, literal

SCHEMA = "controlshift"
API_KEY_VARIABLE = "SOURCES__CONTROLSHIFT__API_KEY"
KEY_PATTERN = re.compile(
    r"^/?(?P<org>[^/]+)/(?P<kind>full|incremental)/(?P<table>[a-z0-9_]+)/(?P<date>\d{8})/"
    r"(?P=table)_(?P<stamp>\d{14})\.csv(?P<bz2>\.bz2)?$"
)
STAMP_PATTERN = re.compile(r"_(\d{14})\.csv(\.bz2)?$")
# a signed link's path is the key (virtual-hosted URL) or the bucket then the key (path-style)
KEY_IN_PATH = re.compile(r"(?:^|/)(?P<key>[^/]+/(?:full|incremental)/[A-Za-z0-9_]+/\d{8}/[A-Za-z0-9_]+_\d{14}\.csv(?:\.bz2)?)$")
# ControlShift's documented exports buckets, US then EU
DEFAULT_BUCKET = "agra-data-exports-production"
EXPORT_BUCKETS = (DEFAULT_BUCKET, "agra-data-exports-production-eu-central-1")
# where signed links may point: the exports buckets' hosts (virtual-hosted and regional names)
DEFAULT_ALLOWED_ORIGINS = (
    "https://agra-data-exports-production.s3.amazonaws.com",
    "https://agra-data-exports-production.s3.us-east-1.amazonaws.com",
    "https://agra-data-exports-production-eu-central-1.s3.amazonaws.com",
    "https://agra-data-exports-production-eu-central-1.s3.eu-central-1.amazonaws.com",
)
TABLE_NAME = re.compile(r"[a-z0-9_]+")
MAX_REDIRECTS = 3
REPAIR_ADVICE = ("the next nightly full export of {table} repairs the table; to repair it sooner, trigger "
                 "\"Test Nightly Bulk Data Export Webhook\" under Settings > Integrations > Webhooks in ControlShift, "
                 "or ask support@controlshiftlabs.com for a re-export")
COPY_CHUNK = 8 * 1024 * 1024
# the longest reason or raw line kept in _rejected_rows: a runaway field is not copied whole
MAX_REJECT_TEXT = 2000
log = logging.getLogger(__name__)


def is_table_name(name: str) -> bool:
    """A ControlShift table name: lower-case letters, digits, `_`; never this source's bookkeeping
    (`_loaded_files`, `_rejected_rows`: names starting with `_`)."""
    return bool(TABLE_NAME.fullmatch(name)) and not name.startswith("_")


class ControlShiftError(RuntimeError):
    """A bulk-data file could not be loaded; the message says which and what to do."""


class UnreadableFile(Exception):
    """DuckDB's CSV reader gave up on a whole file; its table loads again without it."""

    def __init__(self, export: "ExportFile", reason: str) -> None:
        super().__init__(reason)
        self.export, self.reason = export, reason


class LinkExpired(ControlShiftError):
    """A queued file's signed link has expired and there is no bucket access to fall back on: that
    file is lost until the table's next full export; nothing else waits for it."""


@dataclass(frozen=True, order=True)
class ExportFile:
    """One export object. Sorts by timestamp; at the same second a full export comes first."""

    stamp: str
    incremental: bool
    table: str
    key: str
    bucket: str = field(compare=False)
    url: Optional[str] = field(default=None, compare=False)  # a signed link from a webhook
    queue_entry: Optional[Path] = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        return "incremental" if self.incremental else "full"

    @property
    def date(self) -> str:
        return self.stamp[:8]

    @property
    def compressed(self) -> bool:
        return self.key.endswith(".bz2")

    @property
    def file_id(self) -> str:
        """What makes two notifications or listings the same file: the key, without a leading slash."""
        return self.key.lstrip("/")

    @classmethod
    def from_key(cls, bucket: str, key: str) -> Optional["ExportFile"]:
        match = KEY_PATTERN.match(key)
        if not match:
            return None
        return cls(match["stamp"], match["kind"] == "incremental", match["table"], key, bucket)


# --- types ------------------------------------------------------------------------------------

def duckdb_type(sql_type: str) -> str:
    """A ControlShift column type as the DuckDB type that holds it: Redshift's (published DDL) or
    the raw Postgres ones `/api/bulk_data/schema.json` serves (`jsonb`, `hstore`, `uuid`,
    `geography(Point,4326)`, enums, arrays). What DuckDB cannot hold natively stays text: an
    hstore, a PostGIS geography (DuckDB's spatial extension cannot be installed here), a Postgres
    array literal (`{a,b}` is not DuckDB list syntax) and an enum (any label set)."""
    lowered = sql_type.lower().strip()
    if lowered.endswith("]") or lowered.startswith(("array", "_")):
        return "VARCHAR"
    precision = re.search(r"\((\d+)\s*,\s*(\d+)\)", lowered)
    word = re.match(r"[a-z0-9_ ]*", lowered).group(0).strip()
    simple = {"bigint": "BIGINT", "int8": "BIGINT", "bigserial": "BIGINT", "integer": "INTEGER", "int": "INTEGER",
              "int4": "INTEGER", "serial": "INTEGER", "smallint": "INTEGER", "int2": "INTEGER", "boolean": "BOOLEAN",
              "bool": "BOOLEAN", "date": "DATE", "double precision": "DOUBLE", "float8": "DOUBLE", "float4": "DOUBLE",
              "real": "DOUBLE", "float": "DOUBLE", "uuid": "UUID", "json": "JSON", "jsonb": "JSON",
              "interval": "INTERVAL"}
    if word in simple:
        return simple[word]
    if word.startswith("timestamp"):
        return "TIMESTAMPTZ" if "with time zone" in lowered and "without" not in lowered else "TIMESTAMP"
    if word.startswith(("numeric", "decimal")):
        return f"DECIMAL({precision[1]},{precision[2]})" if precision else "DOUBLE"
    return "VARCHAR"


def parse_schema(payload: dict) -> dict[str, dict[str, str]]:
    """`/api/bulk_data/schema.json` -> {table: {column: DuckDB type}}."""
    tables: dict[str, dict[str, str]] = {}
    for item in payload.get("tables", []):
        table = item.get("table", item)
        columns = table.get("columns", {})
        # the document shows a list of one-key objects; the API answers an object
        pairs = columns.items() if isinstance(columns, dict) else (p for c in columns for p in c.items())
        tables[table["name"]] = {name: duckdb_type(spec.get("sql_type") or spec.get("type") or "")
                                 for name, spec in pairs}
    return tables



# --- S3 and downloads ---------------------------------------------------------------------------

def s3_client(endpoint_url: Optional[str]):  # noqa: ANN201 - a boto3 client
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url or None)


def list_prefixes(s3, bucket: str, prefix: str, start_after: str = "") -> list[str]:  # noqa: ANN001
    """The "folders" directly under `prefix`, from `start_after` on (one delimiter listing)."""
    found = []
    params = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    if start_after:
        params["StartAfter"] = start_after
    for page in s3.get_paginator("list_objects_v2").paginate(**params):
        found += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    return found


def list_keys(s3, bucket: str, prefix: str) -> list[str]:  # noqa: ANN001
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def stream_to_file(source, destination: Path) -> None:  # noqa: ANN001 - a binary file object
    with destination.open("wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK)


def ends_with_newline(path: Path) -> bool:
    """Whether a downloaded export is whole: every export line ends with a newline (an empty file is
    an empty export)."""
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def fetch_link(url: str, allowed_origins: tuple[str, ...]):  # noqa: ANN201 - a streaming requests.Response
    """GET a signed link, following a redirect only to an allowed export host."""
    import requests

    from pipelines.controlshift_webhook import origin

    for _ in range(MAX_REDIRECTS + 1):
        if origin(url) not in allowed_origins:
            raise ControlShiftError(f"refusing to download from {origin(url)}: not an allowed export host "
                                    "(SOURCES__CONTROLSHIFT__ALLOWED_ORIGINS)")
        response = requests.get(url, stream=True, timeout=60, allow_redirects=False)
        if not response.is_redirect:
            return response
        response.close()
        url = requests.compat.urljoin(url, response.headers["Location"])
    raise ControlShiftError(f"more than {MAX_REDIRECTS} redirects from a signed link")


def download(export: ExportFile, destination: Path, s3, allowed_origins: tuple[str, ...]) -> Optional[str]:  # noqa: ANN001
    """The file, decompressed, at `destination`: from its signed URL if it has one, else S3 (`s3`
    is None without bucket access). Returns a note for the run summary when the URL had to be
    given up for the S3 key; raises `LinkExpired` when the link is dead and S3 is out of reach."""
    if export.url:
        response = fetch_link(export.url, allowed_origins)
        if response.status_code == 200:
            with response:
                response.raw.decode_content = True
                return copy_export(export, response.raw, destination)
        reason = ("its signed URL has expired (ControlShift keeps download links for 6 hours)"
                  if response.status_code == 403 else f"its signed URL answered HTTP {response.status_code}")
        if s3 is None or not export.bucket:
            if response.status_code != 403:
                raise ControlShiftError(f"cannot download {export.file_id}: {reason}; the next sync tries again")
            raise LinkExpired(f"{export.file_id} could not be loaded: {reason} and there is no bucket access "
                              f"to read it from; {REPAIR_ADVICE.format(table=export.table)}")
        note = f"{export.file_id}: {reason}; read s3://{export.bucket}/{export.file_id} instead"
        log.warning("controlshift: %s", note)
        try:
            note = "; ".join(filter(None, [note, _download_s3(export, destination, s3)]))
        except Exception as error:  # noqa: BLE001 - say both reasons
            raise ControlShiftError(
                f"cannot download {export.file_id}: {reason}, and reading it from S3 failed too ({error}); "
                "set AWS credentials with access to the bulk-data bucket (Direct AWS Access). "
                "The webhook queue entry is kept.") from error
        return note
    return _download_s3(export, destination, s3)


DOWNLOADS_PREFIX = "controlshift-"


def remove_abandoned_downloads(temp_dir: Path) -> None:
    """Deletes download folders of syncs that were killed (SIGKILL skips their cleanup).

    They hold exported people's data. A folder is named after its process, so one whose process
    is gone is abandoned, while another warehouse's sync sharing the temp folder is left alone.
    """
    for folder in temp_dir.glob(f"{DOWNLOADS_PREFIX}*-*"):
        owner = folder.name.removeprefix(DOWNLOADS_PREFIX).split("-", 1)[0]
        if folder.is_dir() and owner.isdigit() and not _process_exists(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _download_s3(export: ExportFile, destination: Path, s3) -> Optional[str]:  # noqa: ANN001
    import smart_open

    # smart-open streams the object in chunks (its default 128 KB read buffer halves the throughput
    # of large objects); decompression is ours, so that a plain file named .bz2 is read as plain
    with smart_open.open(f"s3://{export.bucket}/{export.file_id}", "rb", compression="disable",
                         transport_params={"client": s3, "buffer_size": COPY_CHUNK}) as body:
        return copy_export(export, body, destination)


def copy_export(export: ExportFile, body, destination: Path) -> Optional[str]:  # noqa: ANN001 - a binary stream
    """The export, decompressed as it streams, at `destination`; a note when a file named `.bz2`
    is not bzip2 at all (it is read as the plain CSV it is, not reported as a cut transfer)."""
    head = body.read(3)
    plain = not export.compressed or head != b"BZh"
    with destination.open("wb") as out:
        if plain:
            out.write(head)
            shutil.copyfileobj(body, out, COPY_CHUNK)
        else:
            decompress_bz2(itertools.chain([head], iter(lambda: body.read(COPY_CHUNK), b"")), out)
    return f"{export.file_id} is named .bz2 but is not bzip2-compressed; read as plain CSV" \
        if plain and export.compressed else None


def decompress_bz2(chunks: Iterator[bytes], out) -> None:  # noqa: ANN001 - a binary file
    """bzip2 chunk by chunk, concatenated streams included; a stream without its end is a cut transfer."""
    decompressor = bz2.BZ2Decompressor()
    for chunk in chunks:
        while chunk:
            if decompressor.eof:  # the next of concatenated streams
                decompressor = bz2.BZ2Decompressor()
            out.write(decompressor.decompress(chunk))
            chunk = decompressor.unused_data if decompressor.eof else b""
    if not decompressor.eof:
        raise EOFError("the bzip2 stream ends before its end-of-stream marker")


# --- the warehouse side -------------------------------------------------------------------------

BOOKKEEPING = f"""
    create schema if not exists {SCHEMA};
    create table if not exists {SCHEMA}._loaded_files (
        key varchar primary key, table_name varchar, kind varchar, export_date varchar,
        exported_at varchar, outcome varchar, row_count bigint, rejected_rows bigint,
        loaded_at timestamptz);
    create table if not exists {SCHEMA}._rejected_rows (
        file varchar, line bigint, reason varchar, csv_line varchar, loaded_at timestamptz);
"""


@dataclass
class TablePlan:
    table: str
    files: list[ExportFile]  # to apply, in order
    outcomes: dict[str, str]  # key -> "superseded" / "covered": recorded, not applied
    listed: list[ExportFile]  # every new file found for the table
    full_stamp: Optional[str] = None  # the table's full export once the plan has applied


@dataclass
class TableLoad:
    rows: int = 0
    rejected: int = 0
    files: int = 0


@dataclass
class LoadSummary:
    tables: dict[str, TableLoad] = field(default_factory=dict)
    skipped_files: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # what `status` must show until it is dealt with: files lost to expired links, an empty slug
    warnings: list[str] = field(default_factory=list)
    reconciliation: list[str] = field(default_factory=list)

    @property
    def rows(self) -> dict[str, int]:
        return {table: load.rows for table, load in self.tables.items() if load.files}

    @property
    def rejected(self) -> int:
        return sum(load.rejected for load in self.tables.values())

    def message(self) -> str:
        files = sum(load.files for load in self.tables.values())
        text = f"{sum(self.rows.values())} rows from {files} files"
        text += f", {self.skipped_files} files already covered" if self.skipped_files else ""
        if self.rejected:
            text += f", {self.rejected} rejected rows (see {SCHEMA}._rejected_rows)"
        for line in [*(f"warning: {w}" for w in self.warnings), *self.notes, *self.reconciliation]:
            text += f"\n  {line}"
        return text


class TableWriter:
    """Applies one table's export files inside one open transaction of `con`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, schema_types: dict[str, str] | None,
                 sniff_sample: int, undetectable: frozenset[Path] = frozenset()) -> None:
        self.con, self.table, self.schema_types, self.sniff_sample = con, table, schema_types, sniff_sample
        self.target = f"{SCHEMA}.{identifier(table)}"
        # files whose type detection already failed on a row past the sample: read as text instead
        self.undetectable = undetectable

    def existing_types(self) -> dict[str, str]:
        rows = self.con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position", [SCHEMA, self.table]).fetchall()
        return dict(rows)

    def _read_csv(self, path: Path, header: list[str], known: dict[str, str]) -> str:
        """`read_csv` in ControlShift's documented dialect (comma, double quote, header), never
        sniffed: a file whose tail opens a quote it never closes, or that holds a carriage return
        in a quoted field, fails DuckDB's dialect sniffing as a whole, while read as documented
        its good rows load and the rest go to the rejects table. Column types come from the schema
        endpoint or the table as it is; only when some are unknown does DuckDB detect types (and,
        if that detection trips on the file, those columns are read as text)."""
        options = [
            "header = true", "delim = ','", "quote = '\"'", "escape = '\"'", "store_rejects = true",
            "rejects_table = 'controlshift_rejects'", "rejects_scan = 'controlshift_reject_scans'",
        ]
        unknown = [column for column in header if column not in known]
        if unknown and path not in self.undetectable and self._types_detectable(path, options):
            types = {column: known[column] for column in header if column in known}
            options += [f"sample_size = {self.sniff_sample}"]
            if types:
                options.append("types = {" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}")
        else:
            columns = {column: known.get(column, "VARCHAR") for column in header}
            options += ["auto_detect = false",
                        "columns = {" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in columns.items()) + "}"]
        return f"read_csv({literal(str(path))}, {', '.join(options)})"

    def _types_detectable(self, path: Path, options: list[str]) -> bool:
        try:
            # on a cursor of its own: a failed statement would abort the load's open transaction
            self.con.cursor().execute(f"select * from sniff_csv({literal(str(path))}, sample_size = {self.sniff_sample}, "
                             f"{', '.join(o for o in options if o.split(' ')[0] in ('header', 'delim', 'quote', 'escape'))})")
        except duckdb.Error:
            return False
        return True

    def _record_rejects(self, key: str) -> int:
        exists = self.con.execute(
            "select count(*) from duckdb_tables() where table_name = 'controlshift_rejects' and temporary").fetchone()[0]
        if not exists:
            return 0
        rejected = self.con.execute(f"""
            insert into {SCHEMA}._rejected_rows
            select ?, line, left(string_agg(error_type || ': ' || error_message, '; ' order by column_idx), {MAX_REJECT_TEXT}),
                   left(any_value(csv_line), {MAX_REJECT_TEXT}), now()
            from controlshift_rejects group by line
        """, [key]).fetchone()[0]
        self.con.execute("drop table if exists controlshift_rejects; drop table if exists controlshift_reject_scans")
        return int(rejected or 0)

    def replace(self, export: ExportFile, path: Path, header: list[str]) -> tuple[int, int]:
        """The table becomes this full export; columns it had that the file lacks stay, null. A full
        export without a header (a zero-byte file) is an empty table."""
        old = self.existing_types()
        if not header:
            if old:
                self.con.execute(f"delete from {self.target}")
            return 0, 0
        known = {**old, **(self.schema_types or {})}
        staging = f"{SCHEMA}.{identifier('__new_' + self.table)}"
        vanished = [f"cast(null as {old[c]}) as {identifier(c)}" for c in old if c not in header]
        select = ", ".join(["*", *vanished])
        self.con.execute(f"drop table if exists {staging}")
        self.con.execute(f"create table {staging} as select {select} from {self._read_csv(path, header, known)}")
        rows = self.con.execute(f"select count(*) from {staging}").fetchone()[0]
        self.con.execute(f"drop table if exists {self.target}")
        self.con.execute(f"alter table {staging} rename to {identifier(self.table)}")
        return rows, self._record_rejects(export.file_id)

    def merge(self, export: ExportFile, path: Path, header: list[str], only_missing: bool = False) -> tuple[int, int]:
        """New rows merge on `id`; the table gains columns it has not seen. `only_missing`: rows
        whose id the table already has are left as they are (an incremental the latest full export
        may already contain, newer, is applied only for what it lacks)."""
        old = self.existing_types()
        if not header:
            return 0, 0
        known = {**(self.schema_types or {}), **old}
        rows = self._read_csv(path, header, known)
        if "id" in header:
            # an id listed twice in one file is one row: its last line is its latest state
            rows = f"""(select * exclude (__line) from (select *, row_number() over () as __line from {rows})
                        qualify row_number() over (partition by id order by __line desc) = 1)"""
        self.con.execute("drop table if exists controlshift_increment")
        self.con.execute(f"create temp table controlshift_increment as select * from {rows}")
        rejected = self._record_rejects(export.file_id)
        if not old:
            self.con.execute(f"create table {self.target} as select * from controlshift_increment")
        else:
            new_types = dict(self.con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where database_name = 'temp' and table_name = 'controlshift_increment' order by column_index").fetchall())
            for column, data_type in new_types.items():
                if column not in old:
                    self.con.execute(f"alter table {self.target} add column {identifier(column)} {data_type}")
            if "id" in new_types and "id" in old:
                if only_missing:
                    self.con.execute(f"delete from controlshift_increment where id in (select id from {self.target})")
                else:
                    self.con.execute(f"delete from {self.target} where id in (select id from controlshift_increment)")
            self.con.execute(f"insert into {self.target} by name select * from controlshift_increment")
        rows = self.con.execute("select count(*) from controlshift_increment").fetchone()[0]
        self.con.execute("drop table controlshift_increment")
        return rows, rejected


def read_header(path: Path) -> list[str]:
    """The column names: the first line only, so that a bad byte further on is DuckDB's to reject."""
    import csv

    with path.open("rb") as handle:
        first_line = handle.readline().decode("utf-8-sig", errors="replace")
    return next(csv.reader([first_line]), [])


class BulkDataSource:
    """Loads the organisation's bulk-data exports into `controlshift.*` of a DuckDB warehouse.

    Two ways to the files, used together when both are there: the webhook queue (signed links;
    every organisation has it) and the exports bucket (listing needs Direct AWS Access, which
    ControlShift grants on request). With no bucket configured, or its listing refused, the queue
    alone is loaded (webhook-only mode)."""

    name = SCHEMA

    def __init__(self, *, bucket: Optional[str], organization_slug: str, s3_endpoint_url: Optional[str] = None,
                 base_url: Optional[str] = None, api_key: Optional[str] = None, use_schema_types: bool = True,
                 queue_dir: Optional[str] = None, temp_dir: Optional[str] = None, sniff_sample: int = 20480,
                 requests_per_second: float = 2.0, max_attempts: int = 5, timeout: float = 60.0,
                 download_threads: int = 4, full_export_overlap_hours: float = 2.0,
                 allowed_origins: Optional[list[str]] = None) -> None:
        self.bucket = bucket or None
        self.slug = organization_slug.strip("/")
        self.s3_endpoint_url = s3_endpoint_url
        self.base_url = base_url
        self.api_key = api_key
        self.use_schema_types = use_schema_types
        self.queue_dir = Path(queue_dir) if queue_dir else None
        self.temp_dir = temp_dir
        self.sniff_sample = sniff_sample
        self.download_threads = download_threads
        self.overlap = dt.timedelta(hours=full_export_overlap_hours)
        self.allowed_origins = tuple(o.rstrip("/").lower() for o in (allowed_origins or DEFAULT_ALLOWED_ORIGINS))
        self.policy = HttpPolicy(requests_per_second, max_attempts, timeout=timeout)
        self._s3 = None
        self.bucket_access = self.bucket is not None  # until a listing is refused

    # --- the vendor side ----------------------------------------------------------------------
    @property
    def s3(self):  # noqa: ANN201
        if self._s3 is None:
            self._s3 = s3_client(self.s3_endpoint_url)
        return self._s3

    def api(self, key_required: bool = True) -> Optional[VendorClient]:
        if not self.base_url or (key_required and not self.api_key):
            return None
        from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

        return VendorClient(vendor="ControlShift", base_url=self.base_url, credential_variable=API_KEY_VARIABLE,
                            policy=self.policy, auth=BearerTokenAuth(self.api_key) if self.api_key else None)

    def schema_types(self) -> dict[str, dict[str, str]]:
        # ControlShift's own loader reads the schema without a key
        client = self.api(key_required=False) if self.use_schema_types else None
        return parse_schema(client.get("/api/bulk_data/schema.json").json()) if client else {}

    def organisation_counts(self) -> Optional[dict[str, int]]:
        client = self.api()
        return client.get("/api/v1/organisation").json().get("organisation") if client else None

    def listed_files(self, con: duckdb.DuckDBPyConnection, summary: LoadSummary) -> list[ExportFile]:
        """Export files in date prefixes at or after the newest loaded one, per table and kind;
        none without bucket access."""
        if not self.bucket:
            return []
        from botocore.exceptions import ClientError

        last_dates = {(kind, table): date for kind, table, date in con.execute(
            f"select kind, table_name, max(export_date) from {SCHEMA}._loaded_files group by all").fetchall()}
        roots = [f"{self.slug}/{kind}/" for kind in ("full", "incremental")]
        with ThreadPoolExecutor(self.download_threads, thread_name_prefix="controlshift-list") as pool:
            try:
                table_prefixes = [prefix for found in pool.map(lambda root: list_prefixes(self.s3, self.bucket, root), roots)
                                  for prefix in found]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("AccessDenied", "403", "AllAccessDisabled"):
                    raise
                self.bucket_access = False
                summary.notes.append(f"listing s3://{self.bucket}/{self.slug}/ was refused (no Direct AWS Access): "
                                     "loading what the webhook queued, through its signed links")
                return []
            if not table_prefixes:
                summary.warnings.append(
                    f"no exports under s3://{self.bucket}/{self.slug}/: check SOURCES__CONTROLSHIFT__ORGANIZATION_SLUG "
                    "(your organisation's slug, the first part of every export key) and the bucket")
            listed = pool.map(lambda prefix: self._list_table(prefix, last_dates), table_prefixes)
            return [export for exports in listed for export in exports]

    def _list_table(self, table_prefix: str, last_dates: dict[tuple[str, str], str]) -> list[ExportFile]:
        kind, table = table_prefix.rstrip("/").split("/")[-2:]
        if not is_table_name(table):
            log.warning("controlshift: ignoring %s (not a ControlShift table name)", table_prefix)
            return []
        last = last_dates.get((kind, table))
        found = []
        for date_prefix in list_prefixes(self.s3, self.bucket, table_prefix, f"{table_prefix}{last}" if last else ""):
            for key in list_keys(self.s3, self.bucket, date_prefix):
                export = ExportFile.from_key(self.bucket, key)
                if export is None:
                    log.warning("controlshift: ignoring %s (not a bulk-data export name)", key)
                elif export.table == table:
                    found.append(export)
        return found

    def queued_files(self, warehouse: Path, summary: LoadSummary) -> list[ExportFile]:
        """Files announced by the webhook receiver (`python -m pipelines controlshift-webhook`)."""
        from pipelines.controlshift_webhook import QueueRules, default_queue_dir, read_queue

        queue = self.queue_dir or default_queue_dir(warehouse)
        rules = QueueRules(self.slug, self.bucket or DEFAULT_BUCKET, self.allowed_origins,
                           tuple({*EXPORT_BUCKETS, *([self.bucket] if self.bucket else [])}))
        exports, set_aside = read_queue(queue, rules)
        summary.warnings += [f"queue entry set aside in {queue / 'dead-letter'}: {line}" for line in set_aside]
        return exports

    # --- the warehouse side -------------------------------------------------------------------
    def load_into(self, warehouse: Path) -> LoadSummary:
        summary = LoadSummary()
        schema_types = self.schema_types()
        self.s3  # noqa: B018 - made once, before threads share it
        con = duckdb.connect(str(warehouse))
        try:
            con.execute("set enable_progress_bar = false")
            con.execute(BOOKKEEPING)
            plans = self.plan(con, warehouse, summary)
            remove_abandoned_downloads(Path(self.temp_dir or tempfile.gettempdir()))
            with tempfile.TemporaryDirectory(prefix=f"{DOWNLOADS_PREFIX}{os.getpid()}-", dir=self.temp_dir) as folder, \
                    ThreadPoolExecutor(self.download_threads, thread_name_prefix="controlshift-download") as pool:
                # downloads run ahead by one table while DuckDB loads the current one
                fetches = [None] * len(plans)
                for index, plan in enumerate(plans):
                    for ahead in range(index, min(index + 2, len(plans))):
                        if fetches[ahead] is None:
                            fetches[ahead] = {export.key: pool.submit(self._fetch, export, Path(folder), summary)
                                              for export in plans[ahead].files}
                    try:
                        summary.tables[plan.table] = self.apply_plan(con, plan, fetches[index],
                                                                     schema_types.get(plan.table), summary)
                    except ControlShiftError as error:
                        summary.failures.append(str(error))
                    finally:
                        for future in fetches[index].values():
                            if not future.cancelled() and future.done() and future.exception() is None:
                                future.result().unlink(missing_ok=True)
            summary.warnings += unrepaired_files(con)
            if not summary.failures:
                self.reconcile(con, summary)
        finally:
            con.close()
        return summary

    def plan(self, con: duckdb.DuckDBPyConnection, warehouse: Path, summary: LoadSummary) -> list["TablePlan"]:
        """Every new file, listed or queued, once per file (never once per `jid`), planned per table."""
        loaded = {key for (key,) in con.execute(f"select key from {SCHEMA}._loaded_files").fetchall()}
        by_table: dict[str, dict[str, ExportFile]] = {}
        for export in [*self.listed_files(con, summary), *self.queued_files(warehouse, summary)]:
            if export.file_id in loaded:
                self._forget_queued(export)
                continue
            current = by_table.setdefault(export.table, {}).get(export.file_id)
            if current is None or (export.url and not current.url):  # a queued entry carries the signed URL
                by_table[export.table][export.file_id] = export
            elif export.queue_entry is not None:
                self._forget_queued(export)  # the same file queued twice: one entry is enough
        return [self.plan_table(con, table, sorted(files.values())) for table, files in sorted(by_table.items())]

    def plan_table(self, con: duckdb.DuckDBPyConnection, table: str, files: list[ExportFile]) -> "TablePlan":
        """Which new files apply, in which order, and what happens to the rest.

        Whether a full export's timestamp marks the start or the end of its snapshot is
        undocumented, so an incremental stamped less than the overlap before it is applied after
        it for the rows the full export lacks; older ones are covered."""
        last_full = con.execute(
            f"select max(exported_at) from {SCHEMA}._loaded_files "
            "where table_name = ? and kind = 'full' and outcome = 'loaded'", [table]).fetchone()[0]
        fulls = [f for f in files if not f.incremental]
        newest_full = max(fulls) if fulls and (last_full is None or max(fulls).stamp > last_full) else None
        outcomes: dict[str, str] = {f.key: "superseded" for f in fulls if f is not newest_full}
        plan: list[ExportFile] = []
        if newest_full is not None:
            plan.append(newest_full)
            last_full = newest_full.stamp
            # incrementals loaded before this (late) full export arrived must apply again after it
            # (only the bucket still has them: a webhook's link is used once and soon expires)
            reloaded = [ExportFile.from_key(self.bucket, key) for (key,) in con.execute(
                f"select key from {SCHEMA}._loaded_files where table_name = ? and kind = 'incremental' "
                "and outcome = 'loaded' and exported_at > ? order by exported_at",
                [table, self._overlap_start(last_full)]).fetchall()] if self.bucket_access else []
            plan += [export for export in reloaded if export is not None]
        for export in sorted(f for f in files if f.incremental):
            if last_full is not None and export.stamp <= self._overlap_start(last_full):
                outcomes[export.key] = "covered"
            else:
                plan.append(export)
        return TablePlan(table, plan, outcomes, files, last_full)

    def _overlap_start(self, stamp: str) -> str:
        moment = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S") - self.overlap
        return moment.strftime("%Y%m%d%H%M%S")

    def _fetch(self, export: ExportFile, folder: Path, summary: LoadSummary) -> Path:
        handle, name = tempfile.mkstemp(suffix=".csv", dir=folder)
        os.close(handle)
        path = Path(name)
        try:
            note = download(export, path, self.s3 if self.bucket_access else None, self.allowed_origins)
            if note:
                summary.notes.append(note)
            if not ends_with_newline(path):
                raise ControlShiftError(
                    f"{export.file_id} ends part way through a line: a half-written export. Nothing of it was loaded; "
                    "the next sync reads it again")
        except ControlShiftError:
            path.unlink(missing_ok=True)
            raise
        except Exception as error:  # noqa: BLE001 - S3/HTTP errors name the file
            path.unlink(missing_ok=True)
            where = "its signed URL" if export.url else f"s3://{export.bucket}/{export.file_id}"
            raise ControlShiftError(
                f"cannot download {export.file_id} from {where} ({type(error).__name__}: {error}); a transfer cut "
                "short loads nothing, and the next sync tries again") from error
        return path

    def apply_plan(self, con: duckdb.DuckDBPyConnection, plan: "TablePlan", fetches: dict[str, Future],
                   schema_types: Optional[dict[str, str]], summary: LoadSummary) -> TableLoad:
        """Everything new for one table, in one transaction. A file whose link expired with no
        bucket to fall back on is recorded as `expired` and skipped; the rest still applies."""
        paths: dict[str, Path] = {}
        expired: list[ExportFile] = []
        for export in plan.files:
            try:
                paths[export.key] = fetches[export.key].result()
            except LinkExpired as error:
                expired.append(export)
                log.warning("controlshift: %s", error)
        # a full export lost to an expired link covers nothing: what it would have covered waits
        lost_full = next((e for e in expired if not e.incremental), None)
        outcomes = {key: outcome for key, outcome in plan.outcomes.items() if not (lost_full and outcome == "covered")}
        # a file DuckDB cannot read at all (its parser gives up part way) is read again without type
        # detection, then, if it still fails, set aside whole with its reason in _rejected_rows; the
        # table's transaction runs again each time
        unreadable: dict[str, str] = {}
        undetectable: set[Path] = set()
        for _ in range(2 * len(plan.files) + 1):
            try:
                result = self._apply_files(con, plan, paths, outcomes, unreadable, TableWriter(
                    con, plan.table, schema_types, self.sniff_sample, frozenset(undetectable)))
                break
            except UnreadableFile as error:
                if paths[error.export.key] in undetectable:
                    unreadable[error.export.key] = error.reason
                undetectable.add(paths[error.export.key])
        summary.skipped_files += len(outcomes)
        for export in plan.listed:
            if export.key in outcomes or export in plan.files:
                self._forget_queued(export)
        return result

    def _apply_files(self, con: duckdb.DuckDBPyConnection, plan: "TablePlan", paths: dict[str, Path],
                     outcomes: dict[str, str], unreadable: dict[str, str], writer: "TableWriter") -> TableLoad:
        result = TableLoad()
        con.execute("begin transaction")
        try:
            for export in plan.files:
                if export.key not in paths:
                    self._record(con, export, "expired", 0, 0)
                elif export.incremental and not read_header(paths[export.key]):
                    self._record(con, export, "loaded", 0, 0)  # an empty object: nothing to apply, but done
                elif export.key in unreadable:
                    con.execute(f"insert into {SCHEMA}._rejected_rows values (?, null, ?, null, now())",
                                [export.file_id, unreadable[export.key][:MAX_REJECT_TEXT]])
                    result.rejected += 1
                    self._record(con, export, "loaded", 0, 1)
                else:
                    rows, rejected = self._apply_file(con, plan, export, paths[export.key], writer)
                    result.rows, result.rejected, result.files = (result.rows + rows, result.rejected + rejected,
                                                                  result.files + 1)
                    self._record(con, export, "loaded", rows, rejected)
            for export in plan.listed:
                if export.key in outcomes:
                    self._record(con, export, outcomes[export.key], 0, 0)
            con.execute("commit")
        except Exception as error:
            con.execute("rollback")
            if isinstance(error, UnreadableFile):
                raise
            raise ControlShiftError(
                f"loading {plan.table} failed, the table is as it was: {type(error).__name__}: {error}") from error
        return result

    @staticmethod
    def _apply_file(con: duckdb.DuckDBPyConnection, plan: "TablePlan", export: ExportFile, path: Path,
                    writer: "TableWriter") -> tuple[int, int]:
        header = read_header(path)
        try:
            if not export.incremental:
                return writer.replace(export, path, header)
            near_full = plan.full_stamp is not None and export.stamp <= plan.full_stamp
            return writer.merge(export, path, header, only_missing=near_full)
        except duckdb.Error as error:
            # DuckDB names the temporary download; people need the export's key, and not pages of its data
            message = str(error).replace(str(path), export.file_id)[:MAX_REJECT_TEXT]
            if isinstance(error, duckdb.InvalidInputException):
                raise UnreadableFile(export, f"the whole file could not be parsed: {message}") from error
            raise ControlShiftError(f"{export.file_id}: {type(error).__name__}: {message}") from error

    @staticmethod
    def _record(con: duckdb.DuckDBPyConnection, export: ExportFile, outcome: str, rows: int, rejected: int) -> None:
        con.execute(f"insert or replace into {SCHEMA}._loaded_files values (?, ?, ?, ?, ?, ?, ?, ?, now())",
                    [export.key.lstrip("/"), export.table, export.kind, export.date, export.stamp, outcome, rows,
                     rejected])

    @staticmethod
    def _forget_queued(export: ExportFile) -> None:
        if export.queue_entry is not None:
            export.queue_entry.unlink(missing_ok=True)

    # --- reconciliation --------------------------------------------------------------------------
    def reconcile(self, con: duckdb.DuckDBPyConnection, summary: LoadSummary) -> None:
        """Warehouse row counts against `/api/v1/organisation`, one line per table; a warning when
        the counts cannot be had (a wrong key is a setting to fix, not a reason to fail the load)."""
        try:
            counts = self.organisation_counts()
        except Exception as error:  # noqa: BLE001 - reconciliation is a report, not a load step
            summary.warnings.append(f"reconciliation skipped: {type(error).__name__}: {error}")
            return
        if counts is not None:
            summary.reconciliation = reconciliation_lines(con, counts)


def unrepaired_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Files lost to expired links that no later full export of their table has repaired yet."""
    lost = con.execute(f"""
        select lost.table_name, list(lost.key order by lost.key)
        from {SCHEMA}._loaded_files as lost
        where lost.outcome = 'expired' and not exists (
            select 1 from {SCHEMA}._loaded_files as full_export
            where full_export.table_name = lost.table_name and full_export.kind = 'full'
              and full_export.outcome = 'loaded' and full_export.exported_at > lost.exported_at)
        group by all order by 1""").fetchall()
    return [f"{table}: {len(keys)} file(s) could not be loaded, their signed links expired ({', '.join(keys[:3])}"
            f"{', …' if len(keys) > 3 else ''}); {REPAIR_ADVICE.format(table=table)}" for table, keys in lost]


def reconciliation_lines(con: duckdb.DuckDBPyConnection, counts: dict[str, Any]) -> list[str]:
    lines = []
    present = {t for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]).fetchall()}
    for table in ("members", "signatures", "petitions"):
        expected = counts.get(f"{table}_count")
        if expected is None:
            continue
        actual = con.execute(f"select count(*) from {SCHEMA}.{identifier(table)}").fetchone()[0] if table in present else 0
        difference = actual - int(expected)
        verdict = "matches" if difference == 0 else f"differs by {difference:+d}"
        lines.append(f"reconciliation: {table} warehouse {actual} vs ControlShift {expected} ({verdict})")
    return lines


@with_config(sections=("sources", SCHEMA))
def controlshift_source(
    organization_slug: str = dlt.config.value,
    bucket: Optional[str] = None,
    s3_endpoint_url: Optional[str] = None,
    base_url: Optional[str] = None,
    api_key: Optional[str] = dlt.secrets.value,
    use_schema_types: bool = dlt.config.value,
    queue_dir: Optional[str] = None,
    temp_dir: Optional[str] = None,
    sniff_sample: int = dlt.config.value,
    requests_per_second: float = dlt.config.value,
    max_attempts: int = dlt.config.value,
    timeout: float = dlt.config.value,
    download_threads: int = dlt.config.value,
    full_export_overlap_hours: float = dlt.config.value,
    allowed_origins: Optional[list[str]] = None,
) -> BulkDataSource:
    """The configured ControlShift bulk-data source (dlt resolves every argument from config).
    Without `bucket` it loads only what the webhook receiver queued (webhook-only mode)."""
    return BulkDataSource(bucket=bucket, organization_slug=organization_slug, s3_endpoint_url=s3_endpoint_url,
                          base_url=base_url, api_key=api_key, use_schema_types=use_schema_types,
                          queue_dir=queue_dir, temp_dir=temp_dir, sniff_sample=sniff_sample,
                          requests_per_second=requests_per_second, max_attempts=max_attempts, timeout=timeout,
                          download_threads=download_threads, full_export_overlap_hours=full_export_overlap_hours,
                          allowed_origins=allowed_origins)
