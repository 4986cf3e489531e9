"""`python -m pipelines status`: is every source loading, how fresh is it, what went wrong last.

Built generically over `SOURCES` from three places that outlive a run: the warehouse (rows per
table, dlt's `_dlt_loads`), dlt's pipeline state in the pipelines dir (incremental cursors) and
the run log the runner appends to (successes, failures, skips; see `pipelines.runlog`).

Freshness threshold: `[status.<source>] stale_after_hours` in `.dlt/config.toml` (env
`STATUS__<SOURCE>__STALE_AFTER_HOURS`), else `[status] stale_after_hours`; dbt's source
freshness (`make freshness`) is given the same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dlt

from pipelines import runlog
from pipelines.dlt_state import incremental_cursors
from pipelines.rejected import set_aside_dir, set_aside_packages
from pipelines.runner import is_configured, pipeline_name
from pipelines.sources import SOURCES
from pipelines.warehouse import pipelines_dir, raw_tables, warehouse_label

# states that make `status` exit non-zero, so cron can alert
ALERTING = ("stale", "failing", "warning")


@dataclass
class SourceStatus:
    source: str
    state: str  # ok, warning, stale, failing, never synced, not configured
    stale_after_hours: float  # from .dlt/config.toml: see `stale_after_hours()`
    last_success_at: float | None = None
    age_hours: float | None = None
    tables: dict[str, int] = field(default_factory=dict)  # rows now in the warehouse
    last_rows: dict[str, int] = field(default_factory=dict)  # rows the last successful run loaded
    cursors: dict[str, Any] = field(default_factory=dict)  # "resource.cursor_path" -> last value
    last_error: str = ""
    last_error_at: float | None = None
    advice: str = ""
    warnings: list[str] = field(default_factory=list)  # what the last run loaded around, still to act on
    set_aside: list[str] = field(default_factory=list)  # failed load packages moved out of dlt's way


@dataclass
class WarehouseStatus:
    warehouse: str
    sources: list[SourceStatus]
    transform_state: str = "never run"  # passed, failed, never run
    transform_at: float | None = None
    transform_error: str = ""
    note: str = ""  # e.g. the warehouse was busy
    location: str = ""  # where its tables are: the DuckDB file, or the Postgres database

    @property
    def alerting(self) -> list[str]:
        names = [s.source for s in self.sources if s.state in ALERTING]
        return names + (["transform"] if self.transform_state == "failed" else [])

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "alerting": self.alerting}, indent=2, default=str)


def stale_after_hours(source: str) -> float:
    """`[status.<source>] stale_after_hours`, else `[status] stale_after_hours` (.dlt/config.toml)."""
    value = dlt.config.get(f"status.{source}.stale_after_hours")
    return float(dlt.config["status.stale_after_hours"] if value is None else value)


def cursors(source: str, warehouse: Path) -> dict[str, Any]:
    """Each incremental cursor's last value, from dlt's local pipeline state."""
    directory = pipelines_dir(warehouse)
    if not (directory / pipeline_name(source)).exists():
        return {}
    try:
        state = dlt.attach(pipeline_name(source), pipelines_dir=str(directory)).state
    except Exception:  # noqa: BLE001 - a damaged working dir must not break status
        return {}
    return incremental_cursors(state)


def collect(warehouse: Path, now: float | None = None, records: list[runlog.RunRecord] | None = None) -> WarehouseStatus:
    """Every source's state; `records`, the run log, when the caller has read it already."""
    now = runlog.now() if now is None else now
    records = runlog.read(warehouse) if records is None else records
    tables, loads, note = raw_tables(warehouse, SOURCES)
    statuses = []
    for source in SOURCES:
        success = runlog.latest(records, source, "loaded")
        last = runlog.latest(records, source)
        last_success_at = max(filter(None, [success.finished_at if success else None, loads.get(source)]),
                              default=None)
        status = SourceStatus(source, "ok", stale_after_hours(source), last_success_at,
                              tables=tables.get(source, {}), last_rows=success.rows if success else {},
                              cursors=cursors(source, warehouse), set_aside=set_aside_packages(warehouse, source))
        failure = runlog.latest(records, source, "failed")
        if failure:
            status.last_error, status.last_error_at = failure.message, failure.finished_at
        if last_success_at is not None:
            status.age_hours = (now - last_success_at) / 3600
        if last is not None and last.status == "failed":
            status.state = "failing"
            status.advice = (f"fix the error, then run `make sync-{source}`; the next run resumes from the "
                             "cursors above")
        elif last_success_at is None and last is not None and last.status == "skipped":
            status.state, status.advice = "not configured", last.message
        elif last_success_at is None and is_configured(source):
            # configured and never loaded: its schedule is not running, which cron should hear about
            status.state = "stale"
            status.advice = (f"configured but never synced: run `make sync-{source}` and check the scheduler "
                             "(`make schedule`)")
        elif last_success_at is None:
            status.state, status.advice = "never synced", f"run `make sync-{source}` once it is configured"
        elif status.age_hours > status.stale_after_hours:
            status.state = "stale"
            status.advice = (f"no successful load for {status.age_hours:.1f} h (limit {status.stale_after_hours:g} h): "
                             f"check the scheduler (`make schedule`) and the logs, or run `make sync-{source}`")
        elif last is not None and last.warnings:
            status.state, status.warnings = "warning", last.warnings
        statuses.append(status)
    result = WarehouseStatus(str(warehouse), statuses, note=note, location=warehouse_label(warehouse))
    transform = runlog.latest(records, "transform")
    if transform:
        result.transform_state, result.transform_at = transform.status, transform.finished_at
        if transform.status == "failed":
            result.transform_error = "; ".join(f"{name}: {message}" for name, message in
                                               list(transform.rejected.items())[:3]) or transform.message
    return result


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def cursor_text(value: Any) -> str:
    """Unix-second cursors are shown as dates too; anything else as it is."""
    if isinstance(value, (int, float)) and 946684800 <= value <= 4102444800:
        return f"{value} ({when(float(value))})"
    return str(value)


STATE_STYLE = {"ok": "green", "warning": "yellow", "stale": "yellow", "failing": "bold red", "never synced": "dim",
               "not configured": "dim", "passed": "green", "failed": "bold red", "never run": "dim"}


def render(status: WarehouseStatus, console, verbose: bool = False) -> None:  # noqa: ANN001 - a rich Console
    from rich.table import Table

    table = Table(title=f"Sources in {status.location or status.warehouse}", title_justify="left")
    for column in ("source", "state", "last success", "age", "rows now", "last error"):
        table.add_column(column, overflow="fold")
    for s in status.sources:
        table.add_row(
            s.source, f"[{STATE_STYLE.get(s.state, '')}]{s.state}[/]", when(s.last_success_at),
            "" if s.age_hours is None else f"{s.age_hours:.1f} h / {s.stale_after_hours:g} h",
            f"{sum(s.tables.values()):,}" if s.tables else "",
            (f"{when(s.last_error_at)}: {s.last_error}" if s.last_error else ""))
    console.print(table)
    console.print(f"marts (dbt build): [{STATE_STYLE.get(status.transform_state, '')}]{status.transform_state}[/] "
                  f"{when(status.transform_at) if status.transform_at else ''}"
                  + (f" — {status.transform_error}" if status.transform_error else ""))
    if status.note:
        console.print(f"[yellow]note:[/] {status.note}")
    for s in status.sources:
        if s.advice and s.state in ALERTING:
            console.print(f"[bold]{s.source}[/]: {s.advice}")
        for warning in s.warnings:
            console.print(f"[bold]{s.source}[/] [yellow]warning:[/] {warning}", soft_wrap=True)
        if s.set_aside:
            console.print(f"[yellow]{s.source}[/]: {len(s.set_aside)} failed load package(s) set aside in "
                          f"{set_aside_dir(Path(status.warehouse), s.source)} (they failed twice; the run log says why)")
        if verbose:
            console.print(f"\n[bold]{s.source}[/] ({s.state})")
            for name, count in s.tables.items():
                loaded = s.last_rows.get(name)
                console.print(f"  {s.source}.{name:<32} {count:>10,} rows"
                              + (f"   (last run loaded {loaded:,})" if loaded is not None else ""))
            for cursor, value in s.cursors.items():
                console.print(f"  cursor {cursor} = {cursor_text(value)}")
            if s.advice and s.state not in ALERTING:
                console.print(f"  {s.advice}")
    if status.alerting:
        console.print(f"[bold red]ALERT[/]: {', '.join(status.alerting)} need attention")
