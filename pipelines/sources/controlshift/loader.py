"""The ControlShift loader: every new export file, listed or queued, into the warehouse.

- per table, files apply in timestamp order: the newest new full export replaces the table
  (older new fulls are superseded), incrementals newer than the table's full export merge on
  `id` (delete + insert by name), incrementals it already covers change nothing. A full export
  that arrives after newer incrementals were loaded is followed by those incrementals again, so
  arrival order never loses a row;
- everything a run does to one table, and the bookkeeping row of every file it used
  (`controlshift._loaded_files`), commits in one warehouse transaction (DuckDB's, or Postgres's
  through `stores.py`: `WAREHOUSE_ENGINE`): a load that fails part way
  leaves yesterday's table whole and queryable, and a file recorded as loaded is never applied
  twice (re-running any file changes nothing);
- files announced by the webhook receiver (`webhook.py`, through `queue.py`) are loaded from
  their signed URL, or, once that has expired (403), from their `s3` bucket/key; a queue entry
  is removed only after its file's load committed.

Downloads run ahead by one table while DuckDB parses the current one; the state (which files are
loaded, up to which date prefix) lives in the same warehouse and commits with the data.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import duckdb

from pipelines.sources.controlshift.exports import (DEFAULT_ALLOWED_ORIGINS, DEFAULT_BUCKET, DOWNLOADS_PREFIX,
                                                    EXPORT_BUCKETS, REPAIR_ADVICE, SCHEMA, ControlShiftError,
                                                    ExportFile, LinkExpired, ListingRefused, download,
                                                    ends_with_newline, list_table_exports, list_table_prefixes,
                                                    remove_abandoned_downloads, s3_client)
from pipelines.sources.controlshift.queue import (DEAD_LETTER, QueueRules, default_queue_dir, read_queue,
                                                  remove_from_queue)
from pipelines.sources.controlshift.stores import Store, open_store
from pipelines.sources.controlshift.tables import (BOOKKEEPING, MAX_REJECT_TEXT, TableWriter, parse_schema,
                                                   read_header)
from pipelines.sources.http import HttpPolicy, VendorClient
from pipelines.sql import identifier

API_KEY_VARIABLE = "SOURCES__CONTROLSHIFT__API_KEY"
# the columns of a `_loaded_files` row a file's later outcome overwrites (its key stays)
RECORDED = ("table_name", "kind", "export_date", "exported_at", "outcome", "row_count", "rejected_rows", "loaded_at")
log = logging.getLogger(__name__)


class UnreadableFile(Exception):
    """DuckDB's CSV reader gave up on a whole file; its table loads again without it."""

    def __init__(self, export: ExportFile, reason: str) -> None:
        super().__init__(reason)
        self.export, self.reason = export, reason


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


class BulkDataSource:
    """Loads the organisation's bulk-data exports into `controlshift.*` of the warehouse (DuckDB or Postgres).

    Two ways to the files, used together when both are there: the webhook queue (signed links;
    every organisation has it) and the exports bucket (listing needs Direct AWS Access, which
    ControlShift grants on request). With no bucket configured, or its listing refused, the queue
    alone is loaded (webhook-only mode)."""

    name = SCHEMA

    def __init__(self, *, bucket: Optional[str], organization_slug: str, s3_endpoint_url: Optional[str] = None,
                 base_url: Optional[str] = None, api_key: Optional[str] = None, use_schema_types: bool,
                 queue_dir: Optional[str] = None, temp_dir: Optional[str] = None, sniff_sample: int,
                 requests_per_second: float, max_attempts: int, timeout: float,
                 download_threads: int, full_export_overlap_hours: float,
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

    def listed_files(self, store: Store, summary: LoadSummary) -> list[ExportFile]:
        """Export files in date prefixes at or after the newest loaded one, per table and kind;
        none without bucket access."""
        if not self.bucket:
            return []
        last_dates = {(kind, table): date for kind, table, date in store.rows(
            f"select kind, table_name, max(export_date) from {SCHEMA}._loaded_files group by kind, table_name")}
        with ThreadPoolExecutor(self.download_threads, thread_name_prefix="controlshift-list") as pool:
            try:
                table_prefixes = list_table_prefixes(self.s3, self.bucket, self.slug, pool)
            except ListingRefused:
                self.bucket_access = False
                summary.notes.append(f"listing s3://{self.bucket}/{self.slug}/ was refused (no Direct AWS Access): "
                                     "loading what the webhook queued, through its signed links")
                return []
            if not table_prefixes:
                summary.warnings.append(
                    f"no exports under s3://{self.bucket}/{self.slug}/: check SOURCES__CONTROLSHIFT__ORGANIZATION_SLUG "
                    "(your organisation's slug, the first part of every export key) and the bucket")
            listed = pool.map(lambda prefix: list_table_exports(self.s3, self.bucket, prefix, last_dates),
                              table_prefixes)
            return [export for exports in listed for export in exports]

    def queued_files(self, warehouse: Path, summary: LoadSummary) -> list[ExportFile]:
        """Files announced by the webhook receiver (`python -m pipelines controlshift-webhook`)."""
        folder = self.queue_dir or default_queue_dir(warehouse)
        rules = QueueRules(self.slug, self.bucket or DEFAULT_BUCKET, self.allowed_origins,
                           tuple({*EXPORT_BUCKETS, *([self.bucket] if self.bucket else [])}))
        exports, set_aside = read_queue(folder, rules)
        summary.warnings += [f"queue entry set aside in {folder / DEAD_LETTER}: {line}" for line in set_aside]
        return exports

    # --- the warehouse side -------------------------------------------------------------------
    def load_into(self, warehouse: Path) -> LoadSummary:
        summary = LoadSummary()
        schema_types = self.schema_types()
        self.s3  # noqa: B018 - made once, before threads share it
        remove_abandoned_downloads(Path(self.temp_dir or tempfile.gettempdir()))
        # the downloads and, on Postgres, the parser's scratch database: deleted whatever happens
        with tempfile.TemporaryDirectory(prefix=f"{DOWNLOADS_PREFIX}{os.getpid()}-", dir=self.temp_dir) as folder, \
                open_store(warehouse, Path(folder) / "parser") as store:
            store.execute(BOOKKEEPING)
            plans = self.plan(store, warehouse, summary)
            with ThreadPoolExecutor(self.download_threads, thread_name_prefix="controlshift-download") as pool:
                # downloads run ahead by one table while DuckDB parses the current one
                fetches = [None] * len(plans)
                for index, plan in enumerate(plans):
                    for ahead in range(index, min(index + 2, len(plans))):
                        if fetches[ahead] is None:
                            fetches[ahead] = {export.key: pool.submit(self._fetch, export, Path(folder), summary)
                                              for export in plans[ahead].files}
                    try:
                        summary.tables[plan.table] = self.apply_plan(store, plan, fetches[index],
                                                                     schema_types.get(plan.table), summary)
                    except ControlShiftError as error:
                        summary.failures.append(str(error))
                    finally:
                        for future in fetches[index].values():
                            if not future.cancelled() and future.done() and future.exception() is None:
                                future.result().unlink(missing_ok=True)
            summary.warnings += unrepaired_files(store)
            if not summary.failures:
                self.reconcile(store, summary)
        return summary

    def plan(self, store: Store, warehouse: Path, summary: LoadSummary) -> list[TablePlan]:
        """Every new file, listed or queued, once per file (never once per `jid`), planned per table."""
        loaded = {key for (key,) in store.rows(f"select key from {SCHEMA}._loaded_files")}
        by_table: dict[str, dict[str, ExportFile]] = {}
        for export in [*self.listed_files(store, summary), *self.queued_files(warehouse, summary)]:
            if export.file_id in loaded:
                remove_from_queue(export)
                continue
            current = by_table.setdefault(export.table, {}).get(export.file_id)
            if current is None or (export.url and not current.url):  # a queued entry carries the signed URL
                by_table[export.table][export.file_id] = export
            elif export.queue_entry is not None:
                remove_from_queue(export)  # the same file queued twice: one entry is enough
        return [self.plan_table(store, table, sorted(files.values())) for table, files in sorted(by_table.items())]

    def plan_table(self, store: Store, table: str, files: list[ExportFile]) -> TablePlan:
        """Which new files apply, in which order, and what happens to the rest.

        Whether a full export's timestamp marks the start or the end of its snapshot is
        undocumented, so an incremental stamped less than the overlap before it is applied after
        it for the rows the full export lacks; older ones are covered."""
        [(last_full,)] = store.rows(
            f"select max(exported_at) from {SCHEMA}._loaded_files "
            "where table_name = ? and kind = 'full' and outcome = 'loaded'", [table])
        fulls = [f for f in files if not f.incremental]
        newest_full = max(fulls) if fulls and (last_full is None or max(fulls).stamp > last_full) else None
        outcomes: dict[str, str] = {f.key: "superseded" for f in fulls if f is not newest_full}
        plan: list[ExportFile] = []
        if newest_full is not None:
            plan.append(newest_full)
            last_full = newest_full.stamp
            # incrementals loaded before this (late) full export arrived must apply again after it
            # (only the bucket still has them: a webhook's link is used once and soon expires)
            reloaded = [ExportFile.from_key(self.bucket, key) for (key,) in store.rows(
                f"select key from {SCHEMA}._loaded_files where table_name = ? and kind = 'incremental' "
                "and outcome = 'loaded' and exported_at > ? order by exported_at",
                [table, self._overlap_start(last_full)])] if self.bucket_access else []
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

    def apply_plan(self, store: Store, plan: TablePlan, fetches: dict[str, Future],
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
                result = self._apply_files(store, plan, paths, outcomes, unreadable, TableWriter(
                    store, plan.table, schema_types, self.sniff_sample, frozenset(undetectable)))
                break
            except UnreadableFile as error:
                if paths[error.export.key] in undetectable:
                    unreadable[error.export.key] = error.reason
                undetectable.add(paths[error.export.key])
        summary.skipped_files += len(outcomes)
        for export in plan.listed:
            if export.key in outcomes or export in plan.files:
                remove_from_queue(export)
        return result

    def _apply_files(self, store: Store, plan: TablePlan, paths: dict[str, Path],
                     outcomes: dict[str, str], unreadable: dict[str, str], writer: "TableWriter") -> TableLoad:
        result = TableLoad()
        store.execute("begin transaction")
        try:
            for export in plan.files:
                if export.key not in paths:
                    self._record(store, export, "expired", 0, 0)
                elif export.incremental and not read_header(paths[export.key]):
                    self._record(store, export, "loaded", 0, 0)  # an empty object: nothing to apply, but done
                elif export.key in unreadable:
                    store.execute(f"insert into {SCHEMA}._rejected_rows values (?, null, ?, null, now())",
                                [export.file_id, unreadable[export.key][:MAX_REJECT_TEXT]])
                    result.rejected += 1
                    self._record(store, export, "loaded", 0, 1)
                else:
                    rows, rejected = self._apply_file(store, plan, export, paths[export.key], writer)
                    result.rows, result.rejected, result.files = (result.rows + rows, result.rejected + rejected,
                                                                  result.files + 1)
                    self._record(store, export, "loaded", rows, rejected)
            for export in plan.listed:
                if export.key in outcomes:
                    self._record(store, export, outcomes[export.key], 0, 0)
            store.execute("commit")
        except Exception as error:
            store.execute("rollback")
            if isinstance(error, UnreadableFile):
                raise
            raise ControlShiftError(
                f"loading {plan.table} failed, the table is as it was: {type(error).__name__}: {error}") from error
        return result

    @staticmethod
    def _apply_file(store: Store, plan: TablePlan, export: ExportFile, path: Path,
                    writer: "TableWriter") -> tuple[int, int]:
        header = read_header(path)
        try:
            if not export.incremental:
                return writer.replace(export, path, header)
            near_full = plan.full_stamp is not None and export.stamp <= plan.full_stamp
            return writer.merge(export, path, header, only_missing=near_full)
        except store.errors as error:
            # DuckDB names the temporary download; people need the export's key, and not pages of its data
            message = str(error).replace(str(path), export.file_id)[:MAX_REJECT_TEXT]
            if isinstance(error, duckdb.InvalidInputException):
                raise UnreadableFile(export, f"the whole file could not be parsed: {message}") from error
            raise ControlShiftError(f"{export.file_id}: {type(error).__name__}: {message}") from error

    @staticmethod
    def _record(store: Store, export: ExportFile, outcome: str, rows: int, rejected: int) -> None:
        store.execute(f"insert into {SCHEMA}._loaded_files values (?, ?, ?, ?, ?, ?, ?, ?, now()) "
                      f"on conflict (key) do update set {', '.join(f'{c} = excluded.{c}' for c in RECORDED)}",
                      [export.key.lstrip("/"), export.table, export.kind, export.date, export.stamp, outcome, rows,
                       rejected])

    # --- reconciliation --------------------------------------------------------------------------
    def reconcile(self, store: Store, summary: LoadSummary) -> None:
        """Warehouse row counts against `/api/v1/organisation`, one line per table; a warning when
        the counts cannot be had (a wrong key is a setting to fix, not a reason to fail the load)."""
        try:
            counts = self.organisation_counts()
        except Exception as error:  # noqa: BLE001 - reconciliation is a report, not a load step
            summary.warnings.append(f"reconciliation skipped: {type(error).__name__}: {error}")
            return
        if counts is not None:
            summary.reconciliation = reconciliation_lines(store, counts)


def unrepaired_files(store: Store) -> list[str]:
    """Files lost to expired links that no later full export of their table has repaired yet."""
    lost = store.rows(f"""
        select lost.table_name, array_agg(lost.key order by lost.key)
        from {SCHEMA}._loaded_files as lost
        where lost.outcome = 'expired' and not exists (
            select 1 from {SCHEMA}._loaded_files as full_export
            where full_export.table_name = lost.table_name and full_export.kind = 'full'
              and full_export.outcome = 'loaded' and full_export.exported_at > lost.exported_at)
        group by lost.table_name order by 1""")
    return [f"{table}: {len(keys)} file(s) could not be loaded, their signed links expired ({', '.join(keys[:3])}"
            f"{', …' if len(keys) > 3 else ''}); {REPAIR_ADVICE.format(table=table)}" for table, keys in lost]


def reconciliation_lines(store: Store, counts: dict[str, Any]) -> list[str]:
    lines = []
    present = {t for (t,) in store.rows(
        "select table_name from information_schema.tables where table_schema = ?", [SCHEMA])}
    for table in ("members", "signatures", "petitions"):
        expected = counts.get(f"{table}_count")
        if expected is None:
            continue
        actual = store.rows(f"select count(*) from {SCHEMA}.{identifier(table)}")[0][0] if table in present else 0
        difference = actual - int(expected)
        verdict = "matches" if difference == 0 else f"differs by {difference:+d}"
        lines.append(f"reconciliation: {table} warehouse {actual} vs ControlShift {expected} ({verdict})")
    return lines
