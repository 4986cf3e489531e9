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

from pipelines import REPO_ROOT
from pipelines.redact import redact, scrub_file, secret_values
from pipelines.sources import SOURCES, source_factory
from pipelines.warehouse import make_private, pipelines_dir, publish_snapshot, snapshot_path, warehouse_path

__all__ = ["SyncResult", "dbt", "make_pipeline", "pipelines_dir", "snapshot_path", "sync", "sync_source",
           "transform", "warehouse_path"]

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@dataclass
class SyncResult:
    source: str
    status: str  # "loaded", "skipped" or "failed"
    message: str = ""
    rows: dict[str, int] = field(default_factory=dict)


def make_pipeline(source: str, warehouse: Path, progress: bool = False) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"warehouse_{source}",
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


def sync_source(name: str, warehouse: Path, progress: bool = False) -> SyncResult:
    try:
        source = source_factory(name)()
    except ConfigFieldMissingException as missing:
        variables = ", ".join(f"SOURCES__{name.upper()}__{field_name.upper()}" for field_name in missing.fields)
        return SyncResult(name, "skipped", f"not configured (set {variables})")
    except ValueError as bad:
        return SyncResult(name, "failed", str(bad))

    pipeline = make_pipeline(name, warehouse, progress)
    try:
        return _run(name, source, pipeline)
    finally:
        # dlt's run trace keeps exception messages, and those can quote URLs that carry tokens
        scrub_file(Path(pipeline.working_dir) / "trace.pickle", secret_values())


def _run(name: str, source: dlt.sources.DltSource, pipeline: dlt.Pipeline) -> SyncResult:
    try:
        if pipeline.has_pending_data:
            # a run that died after extract left packages: load them before extracting anew,
            # or pipeline.run() would load only those and return
            pipeline.run()
        # parquet files load into DuckDB far faster than the default INSERT statements
        pipeline.run(source, loader_file_format="parquet")
    except PipelineStepFailed as failed:
        cause = root_cause(failed)
        return SyncResult(name, "failed", redact(f"{type(cause).__name__}: {cause}", secret_values()))
    row_counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace.last_normalize_info else {}
    rows = {table: count for table, count in row_counts.items() if not table.startswith("_dlt")}
    return SyncResult(name, "loaded", f"{sum(rows.values())} rows", rows)


def sync(names: list[str] | None = None, warehouse: Path | None = None, progress: bool = False,
         echo=print) -> list[SyncResult]:  # noqa: ANN001
    warehouse = warehouse or warehouse_path()
    results = []
    for name in names or list(SOURCES):
        echo(f"{name}: syncing into {warehouse}")
        result = sync_source(name, warehouse, progress)
        details = ", ".join(f"{table} {count}" for table, count in sorted(result.rows.items()))
        echo(f"{name}: {result.status} — {result.message}" + (f" ({details})" if details else ""))
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
    code = dbt("build", warehouse=warehouse, check=False).returncode
    if code == 0:
        publish_snapshot(warehouse)
    make_private(warehouse)
    return code
