"""dlt's pipeline state where this project reads or writes it outside a running resource.

dlt's public API gives a running resource its own state (`dlt.current.resource_state()`) and a
pipeline its whole state (`pipeline.state`), but documents neither where a source's keys sit in
the latter nor where `dlt.sources.incremental` keeps its cursor; resetting cursors without
touching tables has no public call either. The few places that need them (`status` reading every
cursor, the runner asking whether a source left work for another step and resetting cursors,
Action Network moving its cursor by hand so `status` reports it like dlt's own) use this module,
and `tests/test_dlt_state.py` fails loudly when a dlt upgrade changes any of it.
"""

from __future__ import annotations

from typing import Any

import dlt
from dlt.pipeline.helpers import pipeline_drop

# dlt.sources.incremental keeps each cursor at resource state ["incremental"][<cursor path>]["last_value"]
INCREMENTAL = "incremental"
LAST_VALUE = "last_value"


def source_state(pipeline_state: dict, source_name: str) -> dict:
    """What the source named `source_name` kept in `dlt.current.source_state()` (empty if nothing)."""
    return pipeline_state.get("sources", {}).get(source_name, {})


def incremental_cursors(pipeline_state: dict) -> dict[str, Any]:
    """Every incremental cursor's last value, as `<resource>.<cursor path>`, sorted."""
    found: dict[str, Any] = {}
    for state in pipeline_state.get("sources", {}).values():
        for resource, resource_state in state.get("resources", {}).items():
            for cursor_path, incremental in (resource_state.get(INCREMENTAL) or {}).items():
                found[f"{resource}.{cursor_path}"] = incremental.get(LAST_VALUE)
    return dict(sorted(found.items()))


def cursor_value(resource_state: dict, cursor_path: str) -> Any:
    """A cursor a resource moves by hand, read from where `dlt.sources.incremental` keeps one (its
    place is made if missing, so `status` lists the cursor from the first run)."""
    return resource_state.setdefault(INCREMENTAL, {}).setdefault(cursor_path, {}).get(LAST_VALUE)


def set_cursor_value(resource_state: dict, cursor_path: str, value: Any) -> None:
    resource_state.setdefault(INCREMENTAL, {}).setdefault(cursor_path, {})[LAST_VALUE] = value


def forget_resource_states(pipeline: dlt.Pipeline) -> None:
    """Drops every resource's state (cursors included) of the pipeline's schema, locally and in the
    destination, and leaves its tables as they are (what `dlt pipeline drop --state-only` does)."""
    pipeline_drop(pipeline, drop_all=True, state_only=True)()
