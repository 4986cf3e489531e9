"""What every sync ends with: the run report, the one-screen summary and, per failure, what to do;
and the demo's last screen.

The warehouse's status and the run log are read once, here, and handed to the report and to
`--verbose`'s status table, so the three agree on one moment.
"""

from __future__ import annotations

from pathlib import Path

from pipelines import output, report, runlog, status
from pipelines.report import report_path
from pipelines.runner import SyncResult
from pipelines.sources import SOURCES
from pipelines.sql import identifier
from pipelines.warehouse import MARTS_SCHEMA, Reader, connect_warehouse, marts_location, placeholders

# failures whose advice depends only on their kind
ADVICE_BY_KIND = {
    "PagingLoopError": "the vendor's paging went round in circles (a proxy or cache in between?): report the URL "
                       "above to the vendor; the next run starts from the same cursors",
    "TimeBudgetExceeded": "the sync ran out of time: run it again (it resumes from its cursors), or raise "
                          "[sync] time_budget_seconds",
    "VendorDecodeError": "the vendor (or a proxy) answered with something other than JSON: check its base_url, "
                         "then run it again later",
}


# the settings that say where a source's data is: what a refused connection or a 404 points at
LOCATING_SETTINGS = {"mobilize": ("base_url", "organization_id"), "controlshift": ("base_url", "bucket")}


def _variables(source: str, settings: tuple[str, ...]) -> str:
    return " and ".join(f"SOURCES__{source.upper()}__{setting.upper()}" for setting in settings)


def advice(result: SyncResult) -> str:
    """What to do about a skipped or failed source, by the kind of error (first match wins)."""
    if result.status == "skipped":
        return "configure it (see README: Connecting your own accounts) or leave it out"
    if result.status != "failed":
        return ""
    message, source = result.message, result.source
    if "not configured" in message:
        return "set those variables (README: Connecting your own accounts), or leave it out"
    for kind, text in ADVICE_BY_KIND.items():
        if kind in message:
            return text
    if "VendorAuthError" in message:
        return "fix the credentials named above in .dlt/secrets.toml or the environment"
    if "Timeout" in message:
        return "the vendor timed out after retries: run it again later, or raise its timeout"
    if "could not be reached" in message or "ConnectionError" in message:
        return f"nothing answered: check {_variables(source, ('base_url',))} and the network"
    if "HTTP 404" in message:
        located = LOCATING_SETTINGS.get(source, ("base_url",))
        return f"the vendor has no such address: check {_variables(source, located)}"
    if "VendorHttpError" in message:
        return "the vendor kept failing after retries: run it again later; it resumes from its cursors"
    return f"run `python -m pipelines --verbose sync {source}` for details; the log file has the full error"


def finish_sync(results: list[SyncResult], transform_code: int | None, warehouse: Path) -> int:
    """The run report and the one-screen summary that end every sync. Returns the exit code."""
    from rich.table import Table

    out = output.current()
    records = runlog.read(warehouse)
    state = report_file = None
    try:
        state = status.collect(warehouse, records=records)
        report_file = report.write(warehouse, status=state, records=records)
    except Exception as error:  # noqa: BLE001 - the report must never turn a good sync into a failure
        out.error(f"report: could not be written ({type(error).__name__}: {error}); `make report` retries")
    table = Table(title="Sync summary", title_justify="left")
    advised = any(advice(r) for r in results)
    for column in ("source", "result", "rows", "tables", *(("what to do",) if advised else ())):
        table.add_column(column, overflow="fold")
    lines = ["Sync summary"]
    for r in results:
        style = {"loaded": "green", "failed": "bold red", "skipped": "yellow"}.get(r.status, "")
        tables = output.rows_text(r.rows) or r.message
        rejected = "; ".join(f"table {t}: {why}" for t, why in r.rejected.items())
        if r.status == "failed":
            tables = r.message + (f" ({rejected})" if rejected else "")
        elif rejected:  # records set aside while the rest loaded
            tables += f"; rejected: {rejected}"
        table.add_row(r.source, f"[{style}]{r.status}[/]", f"{sum(r.rows.values()):,}", tables,
                      *((advice(r),) if advised else ()))
        lines.append(f"  {r.source}: {r.status}, {sum(r.rows.values())} rows; {tables} {advice(r)}".rstrip())
    marts = {None: "not run", 0: "[green]passed[/]"}.get(transform_code, "[bold red]failed[/]")
    table.caption = f"marts (dbt build): {marts}" + (f" · report: {report_file}" if report_file else "")
    lines.append(f"  marts: {marts}; report: {report_file}")
    out.show(table, "\n".join(lines))
    if out.verbose and state is not None:  # rows per table now and every incremental cursor, after this run
        status.render(state, out.console, verbose=True)
    for r in results:
        if r.status == "failed":
            if r.detail:
                out.detail(f"{r.source}: the full error\n{r.detail}")
            out.error(f"{r.source}: {r.message} — {advice(r)}")
    failures = runlog.latest(records, "transform") if transform_code not in (None, 0) else None
    # a refused build or an unpublished snapshot has already said what to do; only dbt's own failures point at its log
    if transform_code not in (None, 0) and (failures is None or failures.message.startswith("dbt build failed")):
        named = ", ".join(list(failures.rejected)[:5]) if failures else ""
        out.error("marts: dbt build failed" + (f" on {named}" if named else "")
                  + " — see dbt_project/logs/dbt.log, fix, then `make transform`")
    failed = any(r.status == "failed" for r in results) or transform_code not in (None, 0)
    return 1 if failed else 0


# ----------------------------------------------------------------------------- wiring


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    status_cmd = commands.add_parser("status", parents=[common],
                                     help="per source: last success, rows, cursors, freshness, last error")


def _counts(con: Reader) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per mart, and raw rows per source (summed over its tables)."""
    schemas = [*SOURCES, MARTS_SCHEMA]
    tables = con.rows(
        f"select table_schema, table_name from information_schema.tables where table_schema in ({placeholders(schemas)}) "
        "and table_name not like '\\_%' escape '\\' and table_type = 'BASE TABLE' order by 1, 2", schemas)
    marts: dict[str, int] = {}
    raw: dict[str, int] = {}
    for schema, table in tables:
        count = con.value(f"select count(*) from {identifier(schema)}.{identifier(table)}")
        if schema == MARTS_SCHEMA:
            marts[table] = count
        else:
            raw[schema] = raw.get(schema, 0) + count
    return marts, raw


def _actions_by_type(con: Reader) -> list[tuple[str, int]]:
    """(action type, rows) of the actions mart, most first."""
    return con.rows(f"select action_type, count(*) from {identifier(MARTS_SCHEMA)}.actions group by 1 order by 2 desc, 1")


def demo_summary(warehouse: Path) -> str:
    """The demo's last screen: what was built, and the next three things to try."""
    with connect_warehouse(warehouse) as con:
        marts, raw = _counts(con)
        by_type = _actions_by_type(con) if "actions" in marts else []
    lines = ["", "Demo result", "-----------"]
    lines += [f"  {'raw rows from ' + source:<32} {count:>10,}" for source, count in raw.items()]
    lines += [f"  {'analytics.' + mart:<32} {count:>10,}" for mart, count in marts.items()]
    if "person_identities" in marts and "people" in marts:
        lines.append(f"  people matched: {marts['person_identities']:,} source records resolved to "
                     f"{marts['people']:,} people")
    if "actions" in marts:
        lines.append("  actions by type:")
        lines += [f"    {action_type:<30} {count:>10,}" for action_type, count in by_type]
    lines += [
        "",
        f"The marts are in {marts_location(warehouse)} (read-only; point BI tools here).",
        "Next, try:",
        "  make sql       a SQL shell on the marts: .tables to look around, .help for more",
        "  make -s sql < docs/queries/repeat_volunteers.sql",
        "                 one of the example analyst queries in docs/queries/",
        f"  the run report, {report_path(warehouse)}: what each source loaded, charts per week",
    ]
    return "\n".join(lines)
