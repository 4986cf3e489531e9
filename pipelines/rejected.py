"""What an API source cannot load goes aside, instead of failing its loads for good.

- A record whose primary key `id` is missing, empty or of the wrong type (not a number where the
  table's ids are numbers; a list or an object anywhere) would fail the whole load at the
  warehouse's NOT NULL key. `RecordChecks` filters such records out as they are extracted and
  they are appended to `<source>._rejected_records` (source, resource, table, reason, the record
  as JSON, when) by a second, small load.
- A dlt load package that failed is replayed first by every later run, so one bad package would
  wedge its source even after the vendor is fixed. `retry_pending` retries a pending package once;
  if it fails again it is copied to `<pipelines dir>/set_aside/<source>/<load id>/`, dropped, and
  dlt's local state is dropped with it, so the next extract starts from the cursors of what the
  warehouse really holds (dlt restores them from the destination). `status` lists what was set
  aside; `[sync] keep_set_aside_packages` bounds how many are kept.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.warehouse import pipelines_dir

REJECTED_TABLE = "_rejected_records"
SET_ASIDE = "set_aside"
# dlt's types for an integer key: a string of digits is coerced by dlt and loads fine
INTEGER_TYPES = ("bigint", "wei", "decimal")


def invalid_key(value: Any, column_type: str | None) -> str | None:
    """Why `value` cannot be a row's key, or None when it can."""
    if value is None or value == "":
        return "no id"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return f"id of type {type(value).__name__}"
    if column_type in INTEGER_TYPES and isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return "id is text where the table's ids are numbers"
    return None


class RecordChecks:
    """Key checks on every selected resource of one source; the records they reject."""

    def __init__(self, source: dlt.sources.DltSource, pipeline: dlt.Pipeline) -> None:
        self.source_name = source.name
        self.rejected: list[dict[str, Any]] = []
        schema = pipeline.schemas[source.name] if source.name in pipeline.schema_names else None
        for resource in source.selected_resources.values():
            if resource.has_dynamic_table_name:
                continue
            table = resource.table_name
            keys = [name for name, column in resource.compute_table_schema().get("columns", {}).items()
                    if column.get("primary_key")]
            if keys == ["id"]:
                known = schema.get_table_columns(table).get("id", {}) if schema and table in schema.tables else {}
                resource.add_filter(self._check(resource.name, table, known.get("data_type")))

    def _check(self, resource: str, table: str, column_type: str | None) -> Callable[[Any], bool]:
        # before the first load the warehouse knows no type: the first usable id of the run sets it
        expected = [column_type]

        def loadable(record: Any) -> bool:
            reason = invalid_key(record.get("id"), expected[0]) if isinstance(record, dict) else "not an object"
            if reason is None and expected[0] is None:
                expected[0] = "bigint" if isinstance(record["id"], int) else "text"
            if reason is not None:
                self.rejected.append({
                    "source": self.source_name, "resource": resource, "table_name": table, "reason": reason,
                    "record": json.dumps(record, default=str, ensure_ascii=False), "rejected_at": time.time()})
            return reason is None

        return loadable

    def load(self, pipeline: dlt.Pipeline) -> dict[str, str]:
        """Appends the rejected records to `<source>._rejected_records`; a count per table for the run log."""
        if not self.rejected:
            return {}
        pipeline.run(dlt.resource(self.rejected, name=REJECTED_TABLE, write_disposition="append",
                                  columns={"record": {"data_type": "text"}, "rejected_at": {"data_type": "double"}}))
        counts: dict[str, int] = {}
        for row in self.rejected:
            counts[row["table_name"]] = counts.get(row["table_name"], 0) + 1
        return {table: f"{count} records without a usable id, in {self.source_name}.{REJECTED_TABLE}"
                for table, count in counts.items()}


def set_aside_dir(warehouse: Path, source: str) -> Path:
    return pipelines_dir(warehouse) / SET_ASIDE / source


def set_aside_packages(warehouse: Path, source: str) -> list[str]:
    """Load ids set aside for `source`, oldest first."""
    folder = set_aside_dir(warehouse, source)
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def retry_pending(pipeline: dlt.Pipeline, warehouse: Path, source: str, keep: int,
                  describe: Callable[[PipelineStepFailed], str]) -> tuple[dlt.Pipeline, dict[str, str]]:
    """Loads what an earlier run left pending; what fails again is set aside. Returns the pipeline to use."""
    if not pipeline.has_pending_data:
        return pipeline, {}
    try:
        pipeline.run()
        return pipeline, {}
    except PipelineStepFailed as failed:
        reason = describe(failed)
    folder = set_aside_dir(warehouse, source)
    set_aside: dict[str, str] = {}
    for load_id in [*pipeline.list_extracted_load_packages(), *pipeline.list_normalized_load_packages()]:
        shutil.copytree(pipeline.get_load_package_info(load_id).package_path, folder / load_id, dirs_exist_ok=True)
        set_aside[f"load package {load_id}"] = f"failed twice, set aside in {folder / load_id}: {reason}"
    kept = set_aside_packages(warehouse, source)
    for old in kept[:max(0, len(kept) - keep)]:
        shutil.rmtree(folder / old, ignore_errors=True)
    # the dropped packages carried cursor updates: dlt restores the loaded ones from the warehouse
    return pipeline.drop(), set_aside
