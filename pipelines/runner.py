"""Runs sources into the warehouse and dbt over it: what `sync` and `transform` do."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import REPO_ROOT, output, runlog
from pipelines.dlt_state import forget_resource_states, source_state
from pipelines.redact import mask_values, redact, scrub_file, secret_values
from pipelines.rejected import RecordChecks, retry_pending
from pipelines.sources import BULK, SOURCES, UNFINISHED, source_factory
from pipelines.sources.http import time_budget
from pipelines.warehouse import (SnapshotNotPublished, dbt_profile_environment, discard_unfinished_creation, dlt_destination,
                                 make_private, pipelines_dir, prepare_build, publish_snapshot, raw_tables,
                                 warehouse_label, warehouse_path)

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# tables smaller than this may halve in a day (a nightly export of a handful of rows): not guarded
ROW_DROP_MIN_ROWS = 20


def dbt_target_dir() -> Path:
    """Where dbt writes its artifacts: `DBT_TARGET_PATH` (dbt's own variable), relative to the project.

    Two dbt runs at once in one checkout (parallel test workers) must not share a target folder.
    """
    return DBT_PROJECT_DIR / os.environ.get("DBT_TARGET_PATH", "target")


def pipeline_name(source: str) -> str:
    return f"warehouse_{source}"


@dataclass
class SyncResult:
    source: str
    status: str  # "loaded", "skipped" or "failed"
    message: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    # a loaded run's problems that `status` keeps showing (ControlShift: files lost to expired links)
    warnings: list[str] = field(default_factory=list)
    detail: str = ""  # a failure's traceback, credentials masked: for --verbose and the log file


def setting(section: str, key: str) -> float:
    """A number from `[section] key` in .dlt/config.toml (where each one's default and meaning are)
    or `SECTION__KEY` in the environment: the time budget, packages kept, the row-drop guard."""
    return float(dlt.config[f"{section}.{key}"])


def make_pipeline(source: str, warehouse: Path, progress: bool = False) -> dlt.Pipeline:
    # merges and full refreshes load through `<source>_staging`: emptied after each load, so no
    # second copy of people's details stays behind
    dlt.config["load.truncate_staging_dataset"] = True
    return dlt.pipeline(
        pipeline_name=pipeline_name(source),
        destination=dlt_destination(warehouse),
        dataset_name=source,
        pipelines_dir=str(pipelines_dir(warehouse)),
        progress=dlt.progress.log(log_period=10, logger="stdout", dump_system_stats=False) if progress else None,
    )


def root_cause(error: BaseException) -> BaseException:
    """dlt wraps a source's exception in pipeline and extraction errors: find the source's."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = _cause(current)
    ours = [e for e in chain if type(e).__module__.startswith("pipelines")]
    return ours[0] if ours else chain[-1]


def _cause(error: BaseException) -> BaseException | None:
    """What an exception was raised from, unless it was raised `from None` (json's StopIteration)."""
    return error.__cause__ or (None if error.__suppress_context__ else error.__context__)


def is_configured(name: str) -> bool:
    """Whether a source has every setting it needs (a bad value counts: its sync fails loudly)."""
    try:
        source_factory(name)()
    except ConfigFieldMissingException:
        return False
    except ValueError:
        return True
    return True


def sync_source(name: str, warehouse: Path, progress: bool = False, refresh: str | None = None) -> SyncResult:
    """One source into the warehouse. `refresh` (any value) reloads it whole: see `start_full_refresh`."""
    try:
        source = source_factory(name)()
    except ConfigFieldMissingException as missing:
        variables = ", ".join(f"SOURCES__{name.upper()}__{field_name.upper()}" for field_name in missing.fields)
        return SyncResult(name, "skipped", f"not configured (set {variables})")
    except ValueError as bad:
        return SyncResult(name, "failed", str(bad))

    if SOURCES[name].kind == BULK:
        return _direct_load(name, source, warehouse)

    pipeline = make_pipeline(name, warehouse, progress)
    try:
        with time_budget(setting("sync", "time_budget_seconds")):
            return _run(name, source, pipeline, refresh, warehouse)
    finally:
        # dlt's run trace keeps exception messages, and those can quote URLs that carry tokens
        scrub_file(Path(pipeline.working_dir) / "trace.pickle", secret_values())


def _run(name: str, source: dlt.sources.DltSource, pipeline: dlt.Pipeline, refresh: str | None,
         warehouse: Path) -> SyncResult:
    # a run that died or failed after extract left packages: they load (or are set aside) first,
    # or pipeline.run() would load only those and return
    pipeline, set_aside = retry_pending(pipeline, warehouse, name,
                                        int(setting("sync", "keep_set_aside_packages")),
                                        failure_message)
    if refresh:
        start_full_refresh(source, pipeline)
    checks = RecordChecks(source, pipeline)
    try:
        # parquet files load into DuckDB far faster than the default INSERT statements
        pipeline.run(source, loader_file_format="parquet")
        rows, rejected = _loaded_rows(pipeline), {**set_aside, **checks.load(pipeline)}
        while source_state(pipeline.state, source.name).get(UNFINISHED):
            # a source committing its progress in steps: each step is loaded before the next
            step = source_factory(name)()
            checks = RecordChecks(step, pipeline)
            pipeline.run(step, loader_file_format="parquet")
            rows.update(_loaded_rows(pipeline))
            rejected.update(checks.load(pipeline))
        prune_loaded_packages(pipeline, int(setting("sync", "keep_loaded_packages")))
    except PipelineStepFailed as failed:
        return SyncResult(name, "failed", failure_message(failed), rejected={**set_aside, **failed_jobs(failed)},
                          detail=_without_values(failed, traceback_text(failed)))
    return SyncResult(name, "loaded", f"{sum(rows.values())} rows", dict(rows), rejected)


def _loaded_rows(pipeline: dlt.Pipeline) -> Counter:
    """Rows per table the pipeline's last run loaded, without dlt's own tables."""
    info = pipeline.last_trace.last_normalize_info
    return Counter({table: count for table, count in (info.row_counts if info else {}).items()
                    if not table.startswith("_dlt")})


def prune_loaded_packages(pipeline: dlt.Pipeline, keep: int) -> None:
    """Deletes all but the newest `keep` loaded packages: dlt keeps their files, people's data included, forever."""
    for load_id in sorted(pipeline.list_completed_load_packages())[:-keep or None]:
        shutil.rmtree(pipeline.get_load_package_info(load_id).package_path, ignore_errors=True)


def start_full_refresh(source: dlt.sources.DltSource, pipeline: dlt.Pipeline) -> None:
    """Forgets the source's cursors and makes its tables replace, not merge, in one transaction each.

    The new rows load into a staging dataset first; each table is then swapped by one
    `DELETE` + `INSERT … SELECT` transaction (dlt's `insert-from-staging` replace strategy, set in
    `make_pipeline`). A run killed at any moment leaves every table whole, old or new, never
    empty: dropping the tables first (dlt's `refresh="drop_sources"`) left them committed at 0
    rows. Killed after the cursors were reset, the next incremental run reads everything again
    and merges it.
    """
    # local state dropped (a package set aside, a new machine): restored from the warehouse first,
    # so that there are cursors to reset
    pipeline.sync_destination()
    if pipeline.default_schema_name:
        forget_resource_states(pipeline)
    for resource in source.selected_resources.values():
        resource.apply_hints(write_disposition="replace")


def failure_message(failed: PipelineStepFailed) -> str:
    cause = root_cause(failed)
    return _without_values(failed, redact(f"{where_failed(failed)}{type(cause).__name__}: {cause}", secret_values()))


def _without_values(failed: PipelineStepFailed, text: str) -> str:
    """The warehouse quotes the record it refused: people's details stay out of logs and reports."""
    return mask_values(text) if failed.step in ("normalize", "load") else text


def traceback_text(error: BaseException) -> str:
    return redact("".join(traceback.format_exception(error)), secret_values())


def where_failed(failed: PipelineStepFailed) -> str:
    """`resource events_org_1, extract step: ` — which part of the source failed, for the error line."""
    current: BaseException | None = failed
    seen: list[BaseException] = []
    while current is not None and current not in seen:
        seen.append(current)
        if getattr(current, "pipe_name", None):
            return f"resource {current.pipe_name}, {failed.step} step: "
        current = _cause(current)
    return f"{failed.step} step: "


def failed_jobs(failed: PipelineStepFailed) -> dict[str, str]:
    """Load jobs dlt gave up on, by table: what a run rejected."""
    info = getattr(failed, "step_info", None)
    rejected: dict[str, str] = {}
    for package in getattr(info, "load_packages", None) or []:
        for job in package.jobs.get("failed_jobs", []):
            message = (job.failed_message or "load job failed").splitlines()[0]
            rejected[job.job_file_info.table_name] = mask_values(message)[:300]
    return rejected


def _direct_load(name: str, source, warehouse: Path) -> SyncResult:  # noqa: ANN001
    """A bulk source that writes the warehouse itself (kind BULK in pipelines/sources/__init__.py)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = source.load_into(warehouse)
    except Exception as error:  # noqa: BLE001 - reported like a failed dlt run
        cause = root_cause(error)
        return SyncResult(name, "failed", redact(f"{type(cause).__name__}: {cause}", secret_values()),
                          detail=traceback_text(error))
    if summary.failures:
        return SyncResult(name, "failed", "; ".join(summary.failures) + f" (otherwise {summary.message()})",
                          summary.rows, warnings=summary.warnings)
    return SyncResult(name, "loaded", summary.message(), summary.rows, warnings=summary.warnings)


def sync(names: list[str] | None = None, warehouse: Path | None = None, progress: bool = False,
         echo=print, refresh: str | None = None) -> list[SyncResult]:  # noqa: ANN001
    warehouse = warehouse or warehouse_path()
    if discard_unfinished_creation(warehouse):
        output.current().warn(f"{warehouse}: removed the unfinished file a sync killed while creating it left")
    results = []
    for name in names or list(SOURCES):
        echo(f"{name}: syncing into {warehouse_label(warehouse)}")
        started = runlog.now()
        result = sync_source(name, warehouse, progress, refresh)
        record_run(warehouse, runlog.RunRecord(
            name, result.status, started, runlog.now(), result.message, result.rows, result.rejected,
            "full_refresh" if refresh else "incremental", result.warnings))
        details = output.rows_text(result.rows)
        # a multi-line message (ControlShift's reconciliation) keeps the table counts on its first line
        first, _, rest = result.message.partition("\n")
        echo(f"{name}: {result.status} — {first}" + (f" ({details})" if details else "") + (f"\n{rest}" if rest else ""))
        results.append(result)
    make_private(warehouse)
    return results


# prctl(2): the signal the kernel sends a process when its parent dies
PR_SET_PDEATHSIG = 1


def _dies_with(parent: int):  # noqa: ANN202
    """A `preexec_fn` tying the child's life to `parent`'s (Linux; elsewhere nothing)."""

    def tie() -> None:
        if not sys.platform.startswith("linux"):
            return
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the tie was made
            os._exit(1)

    return tie


def dbt(*args: str, warehouse: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the dbt CLI from this environment on the warehouse.

    dbt writes the warehouse under our writer lock, which dies with this process: so dbt dies
    with it too, even when this process is killed with SIGKILL, instead of writing on unlocked.
    """
    executable = Path(sys.executable).parent / "dbt"
    warehouse = (warehouse or warehouse_path()).absolute()
    # dbt runs in the warehouse's folder and its profile names the file alone: the profile is part of
    # what dbt compares before reusing its parse of the project, so warehouses of one name (a demo
    # and the real one, each test's) no longer cost a full parse each time (4 s of every dbt run)
    env = {**os.environ, "WAREHOUSE_PATH": warehouse.name, **dbt_profile_environment()}
    command = [str(executable), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return subprocess.run(command, env=env, check=check, cwd=warehouse.parent, preexec_fn=_dies_with(os.getpid()))


def transform(warehouse: Path | None = None) -> int:
    """dbt build; only when every model and test passed are the marts published (`publish_snapshot`:
    the snapshot file on DuckDB, the schema swap on Postgres).

    Refused (nothing built, the published marts kept) when a raw table lost a large share of its
    rows since the last build without a completed full refresh of its source: see `row_drops`.
    """
    warehouse = warehouse or warehouse_path()
    started = runlog.now()
    counts = raw_row_counts(warehouse)
    drops = row_drops(runlog.read(warehouse), counts, setting("transform", "max_row_drop"))
    if drops:
        message = (f"marts not rebuilt: {'; '.join(f'{table} {why}' for table, why in drops.items())}, without a "
                   "completed full refresh of its source. If that is right, `sync --full-refresh` the source "
                   "(or raise [transform] max_row_drop); the published marts stay as they were")
        output.current().error(f"transform: {message}")
        record_run(warehouse, runlog.RunRecord("transform", "failed", started, runlog.now(), message, counts, drops))
        return 1
    prepare_build(warehouse)
    # unit tests check the SQL against fixed rows, not the data: `make test` runs them, a sync need not
    code = dbt("build", "--exclude-resource-type", "unit_test", warehouse=warehouse, check=False).returncode
    rejected = dbt_failures()
    message = "dbt build passed" if code == 0 else f"dbt build failed ({len(rejected)} models or tests)"
    if code == 0:
        try:
            publish_snapshot(warehouse)
        except SnapshotNotPublished as full:
            code, message = 1, f"dbt build passed, but {full}"
            output.current().error(f"transform: {full}")
    make_private(warehouse)
    record_run(warehouse, runlog.RunRecord(
        "transform", "passed" if code == 0 else "failed", started, runlog.now(), message, counts, rejected))
    return code


def record_run(warehouse: Path, record: runlog.RunRecord) -> None:
    """Appends to the run log; a full disk costs the record and one line on stderr, not the run."""
    try:
        runlog.append(warehouse, record)
    except runlog.RunLogUnwritable as unwritable:
        output.current().error(f"run log: {unwritable}")


def raw_row_counts(warehouse: Path) -> dict[str, int]:
    """Rows per raw table, `schema.table`, without dlt's and the loaders' bookkeeping tables."""
    tables, _, _ = raw_tables(warehouse, SOURCES)
    return {f"{schema}.{table}": count for schema, by_table in tables.items() for table, count in by_table.items()
            if not table.startswith("_")}


def row_drops(records: list[runlog.RunRecord], counts: dict[str, int], max_drop: float) -> dict[str, str]:
    """Raw tables that lost more than `max_drop` of the rows the last passed build saw.

    A source whose full refresh completed since then may shrink: deletes at the vendor are real.
    A full refresh killed part way, or a vendor answering with an empty listing, is not.
    """
    built = runlog.latest(records, "transform", "passed")
    if built is None:
        return {}
    refreshed = {r.source for r in records
                 if r.mode == "full_refresh" and r.status == "loaded" and r.finished_at > built.finished_at}
    drops = {}
    for table, before in built.rows.items():
        now = counts.get(table, 0)
        if before >= ROW_DROP_MIN_ROWS and (before - now) / before > max_drop and table.split(".")[0] not in refreshed:
            drops[table] = f"fell from {before:,} to {now:,} rows since the marts were last built"
    return drops


def dbt_failures() -> dict[str, str]:
    """Models and tests the last dbt invocation failed or warned on, from its run_results.json."""
    import json

    results_file = dbt_target_dir() / "run_results.json"
    try:
        results = json.loads(results_file.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {}
    return {result["unique_id"]: f"{result['status']}: {(result.get('message') or '').strip()[:300]}"
            for result in results if result.get("status") in ("fail", "error", "warn")}
