"""Runs sources into the warehouse and dbt over it: what `sync` and `transform` do."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import REPO_ROOT, output, runlog
from pipelines.redact import redact, scrub_file, secret_values
from pipelines.sources import SOURCES, source_factory
from pipelines.warehouse import make_private, pipelines_dir, publish_snapshot, snapshot_path, warehouse_path

__all__ = ["SyncResult", "dbt", "make_pipeline", "pipelines_dir", "snapshot_path", "sync", "sync_source",
           "transform", "warehouse_path"]

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def pipeline_name(source: str) -> str:
    return f"warehouse_{source}"


@dataclass
class SyncResult:
    source: str
    status: str  # "loaded", "skipped" or "failed"
    message: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


def make_pipeline(source: str, warehouse: Path, progress: bool = False) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=pipeline_name(source),
        destination=dlt.destinations.duckdb(str(warehouse)),
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
        current = current.__cause__ or current.__context__
    ours = [e for e in chain if type(e).__module__.startswith("pipelines")]
    return ours[0] if ours else chain[-1]


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
    """One source into the warehouse. `refresh="drop_sources"` reloads it whole (tables and cursors)."""
    try:
        source = source_factory(name)()
    except ConfigFieldMissingException as missing:
        variables = ", ".join(f"SOURCES__{name.upper()}__{field_name.upper()}" for field_name in missing.fields)
        return SyncResult(name, "skipped", f"not configured (set {variables})")
    except ValueError as bad:
        return SyncResult(name, "failed", str(bad))

    if hasattr(source, "load_into"):
        return _direct_load(name, source, warehouse)

    pipeline = make_pipeline(name, warehouse, progress)
    try:
        return _run(name, source, pipeline, refresh)
    finally:
        # dlt's run trace keeps exception messages, and those can quote URLs that carry tokens
        scrub_file(Path(pipeline.working_dir) / "trace.pickle", secret_values())


def _run(name: str, source: dlt.sources.DltSource, pipeline: dlt.Pipeline, refresh: str | None) -> SyncResult:
    try:
        if pipeline.has_pending_data:
            # a run that died after extract left packages: load them before extracting anew,
            # or pipeline.run() would load only those and return
            pipeline.run()
        # parquet files load into DuckDB far faster than the default INSERT statements
        pipeline.run(source, loader_file_format="parquet", refresh=refresh)
    except PipelineStepFailed as failed:
        cause = root_cause(failed)
        message = redact(f"{where_failed(failed)}{type(cause).__name__}: {cause}", secret_values())
        return SyncResult(name, "failed", message, rejected=failed_jobs(failed))
    row_counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace.last_normalize_info else {}
    rows = {table: count for table, count in row_counts.items() if not table.startswith("_dlt")}
    return SyncResult(name, "loaded", f"{sum(rows.values())} rows", rows)


def where_failed(failed: PipelineStepFailed) -> str:
    """`resource events_org_1, extract step: ` — which part of the source failed, for the error line."""
    current: BaseException | None = failed
    seen: list[BaseException] = []
    while current is not None and current not in seen:
        seen.append(current)
        if getattr(current, "pipe_name", None):
            return f"resource {current.pipe_name}, {failed.step} step: "
        current = current.__cause__ or current.__context__
    return f"{failed.step} step: "


def failed_jobs(failed: PipelineStepFailed) -> dict[str, str]:
    """Load jobs dlt gave up on, by table: what a run rejected."""
    info = getattr(failed, "step_info", None)
    rejected: dict[str, str] = {}
    for package in getattr(info, "load_packages", None) or []:
        for job in package.jobs.get("failed_jobs", []):
            rejected[job.job_file_info.table_name] = (job.failed_message or "load job failed").splitlines()[0][:300]
    return rejected


def _direct_load(name: str, source, warehouse: Path) -> SyncResult:  # noqa: ANN001
    """A bulk source that writes the warehouse itself (see pipelines/sources/controlshift.py)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = source.load_into(warehouse)
    except Exception as error:  # noqa: BLE001 - reported like a failed dlt run
        cause = root_cause(error)
        return SyncResult(name, "failed", f"{type(cause).__name__}: {cause}")
    if summary.failures:
        return SyncResult(name, "failed", "; ".join(summary.failures) + f" (otherwise {summary.message()})",
                          summary.rows)
    return SyncResult(name, "loaded", summary.message(), summary.rows)


def sync(names: list[str] | None = None, warehouse: Path | None = None, progress: bool = False,
         echo=print, refresh: str | None = None) -> list[SyncResult]:  # noqa: ANN001
    warehouse = warehouse or warehouse_path()
    results = []
    for name in names or list(SOURCES):
        echo(f"{name}: syncing into {warehouse}")
        started = runlog.now()
        result = sync_source(name, warehouse, progress, refresh)
        runlog.append(warehouse, runlog.RunRecord(
            name, result.status, started, runlog.now(), result.message, result.rows, result.rejected,
            "full_refresh" if refresh else "incremental"))
        details = output.rows_text(result.rows)
        # a multi-line message (ControlShift's reconciliation) keeps the table counts on its first line
        first, _, rest = result.message.partition("\n")
        echo(f"{name}: {result.status} — {first}" + (f" ({details})" if details else "") + (f"\n{rest}" if rest else ""))
        results.append(result)
    make_private(warehouse)
    return results


def dbt(*args: str, warehouse: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the dbt CLI from this environment on the warehouse."""
    executable = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse or warehouse_path())}
    command = [str(executable), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return subprocess.run(command, env=env, check=check, cwd=DBT_PROJECT_DIR)


def transform(warehouse: Path | None = None) -> int:
    """dbt build; only when every model and test passed is the marts snapshot republished."""
    warehouse = warehouse or warehouse_path()
    started = runlog.now()
    code = dbt("build", warehouse=warehouse, check=False).returncode
    if code == 0:
        publish_snapshot(warehouse)
    make_private(warehouse)
    rejected = dbt_failures()
    runlog.append(warehouse, runlog.RunRecord(
        "transform", "passed" if code == 0 else "failed", started, runlog.now(),
        "dbt build passed" if code == 0 else f"dbt build failed ({len(rejected)} models or tests)", rejected=rejected))
    return code


def dbt_failures() -> dict[str, str]:
    """Models and tests the last dbt invocation failed or warned on, from its run_results.json."""
    import json

    results_file = DBT_PROJECT_DIR / "target" / "run_results.json"
    try:
        results = json.loads(results_file.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return {}
    return {result["unique_id"]: f"{result['status']}: {(result.get('message') or '').strip()[:300]}"
            for result in results if result.get("status") in ("fail", "error", "warn")}
