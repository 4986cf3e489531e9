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
from pipelines.sources import SOURCES, source_factory

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def warehouse_path() -> Path:
    """`WAREHOUSE_PATH`, else `warehouse.duckdb` at the repo root."""
    return Path(os.environ.get("WAREHOUSE_PATH") or REPO_ROOT / "warehouse.duckdb").resolve()


def pipelines_dir(warehouse: Path) -> Path:
    """dlt's working state lives beside the warehouse it belongs to."""
    return warehouse.parent / f".{warehouse.stem}.dlt"


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

    if hasattr(source, "load_into"):
        return _direct_load(name, source, warehouse)

    pipeline = make_pipeline(name, warehouse, progress)
    try:
        if pipeline.has_pending_data:
            # a run that died after extract left packages: load them before extracting anew,
            # or pipeline.run() would load only those and return
            pipeline.run()
        # parquet files load into DuckDB far faster than the default INSERT statements
        pipeline.run(source, loader_file_format="parquet")
    except PipelineStepFailed as failed:
        cause = root_cause(failed)
        return SyncResult(name, "failed", f"{type(cause).__name__}: {cause}")
    row_counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace.last_normalize_info else {}
    rows = {table: count for table, count in row_counts.items() if not table.startswith("_dlt")}
    return SyncResult(name, "loaded", f"{sum(rows.values())} rows", rows)


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
         echo=print) -> list[SyncResult]:  # noqa: ANN001
    warehouse = warehouse or warehouse_path()
    results = []
    for name in names or list(SOURCES):
        echo(f"{name}: syncing into {warehouse}")
        result = sync_source(name, warehouse, progress)
        details = ", ".join(f"{table} {count}" for table, count in sorted(result.rows.items()))
        # a multi-line message (ControlShift's reconciliation) keeps the table counts on its first line
        first, _, rest = result.message.partition("\n")
        echo(f"{name}: {result.status} — {first}" + (f" ({details})" if details else "") + (f"\n{rest}" if rest else ""))
        results.append(result)
    return results


def dbt(*args: str, warehouse: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the dbt CLI from this environment on the warehouse."""
    executable = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse or warehouse_path())}
    command = [str(executable), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return subprocess.run(command, env=env, check=check, cwd=DBT_PROJECT_DIR)


def transform(warehouse: Path | None = None) -> int:
    return dbt("build", warehouse=warehouse, check=False).returncode
