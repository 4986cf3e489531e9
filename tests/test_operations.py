"""Operations: status, schedule, freshness, docs, the SQL shell, exports, example queries, CLI output."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines import REPO_ROOT, runlog, schedule, sqlshell, status
from pipelines.cli import main, parser
from pipelines.runner import DBT_PROJECT_DIR, dbt_target_dir
from pipelines.sources import SOURCES
from pipelines.warehouse import DuckDBReader, publish_snapshot, writer_lock
from tests.conftest import query

QUERIES = sorted((Path(__file__).resolve().parent.parent / "docs" / "queries").glob("*.sql"))


@pytest.fixture
def on_demo(demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAREHOUSE_PATH", str(demo_warehouse))
    for key in [k for k in os.environ if k.startswith("STATUS__")]:
        monkeypatch.delenv(key)
    return demo_warehouse


def test_status_reports_last_success_rows_cursors_and_exits_zero_when_healthy(on_demo, capsys):
    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [mobilize] = [s for s in report["sources"] if s["source"] == "mobilize"]
    assert mobilize["state"] == "ok" and report["alerting"] == []
    assert mobilize["last_success_at"] is not None and mobilize["age_hours"] < 1
    [(attendances,)] = query(on_demo, "select count(*) from mobilize.attendances")
    assert mobilize["tables"]["attendances"] == attendances > 0
    assert mobilize["last_rows"]["attendances"] == attendances
    # one cursor per incremental resource, from dlt's state
    assert any(name.startswith("attendances_org_") and name.endswith(".modified_date") for name in mobilize["cursors"])
    assert all(isinstance(value, int) for value in mobilize["cursors"].values())
    assert report["transform_state"] == "passed"

    assert main(["status", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "mobilize" in out and "cursor attendances_org_" in out and "last run loaded" in out
    # quiet and healthy: nothing to say, so cron sends no mail
    assert main(["--quiet", "status"]) == 0
    assert capsys.readouterr().out == ""


def test_status_turns_stale_past_the_configured_threshold(on_demo, monkeypatch):
    later = runlog.now() + 30 * 3600
    # .dlt/config.toml: [status.mobilize] stale_after_hours = 3
    stale = status.collect(on_demo, now=later)
    [mobilize] = [s for s in stale.sources if s.source == "mobilize"]
    assert mobilize.state == "stale" and "mobilize" in stale.alerting and "make sync-mobilize" in mobilize.advice
    monkeypatch.setenv("STATUS__MOBILIZE__STALE_AFTER_HOURS", "48")
    [mobilize] = [s for s in status.collect(on_demo, now=later).sources if s.source == "mobilize"]
    assert mobilize.state == "ok" and mobilize.stale_after_hours == 48


def test_a_configured_source_never_synced_is_stale(warehouse, no_source_config, monkeypatch):
    [mobilize] = [s for s in status.collect(warehouse).sources if s.source == "mobilize"]
    assert mobilize.state == "never synced" and not status.collect(warehouse).alerting
    monkeypatch.setenv("SOURCES__MOBILIZE__API_KEY", "a-key")
    monkeypatch.setenv("SOURCES__MOBILIZE__ORGANIZATION_ID", "1")
    result = status.collect(warehouse)
    [mobilize] = [s for s in result.sources if s.source == "mobilize"]
    assert mobilize.state == "stale" and "never synced" in mobilize.advice and result.alerting == ["mobilize"]


def test_a_failing_sync_is_recorded_named_and_alerted(warehouse, sandbox, monkeypatch, capsys):
    monkeypatch.setenv("SOURCES__MOBILIZE__API_KEY", "wrong-key")
    assert main(["sync", "mobilize", "--no-transform"]) == 1
    captured = capsys.readouterr()
    # the error names the source, the resource (table) and what to do
    assert re.search(r"mobilize: resource \w+, extract step: VendorAuthError", captured.err)
    assert "SOURCES__MOBILIZE__API_KEY" in captured.err and "credentials" in captured.err
    assert "Sync summary" in captured.out
    [record] = runlog.read(warehouse)
    assert record.source == "mobilize" and record.status == "failed"

    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "failing" in out and "ALERT" in out
    [mobilize] = [s for s in status.collect(warehouse).sources if s.source == "mobilize"]
    assert mobilize.state == "failing" and "VendorAuthError" in mobilize.last_error
    # the run report was written all the same, and says so
    page = (warehouse.parent / "reports" / "latest.html").read_text()
    assert "failing" in page and "VendorAuthError" in page


def test_schedule_prints_cron_lines_for_this_checkout(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(schedule, "SOURCES", {"mobilize": "", "action_network": "", "controlshift": "",
                                              "nationbuilder": ""})
    # a job names its sources, and a named source must be configured: the unconfigured one is left out
    monkeypatch.setattr(schedule, "is_configured", lambda source: source != "nationbuilder")
    lines = schedule.cron_lines(repo=tmp_path, warehouse=tmp_path / "w.duckdb", python="/opt/py")
    assert "# not configured, so not scheduled: nationbuilder (configure, then run make schedule again)" in lines
    jobs = [line for line in lines if line and not line.startswith(("#", "SHELL"))]
    assert len(jobs) == 4
    for job in jobs:
        fields = job.split()
        assert all(re.fullmatch(r"[\d*/,-]+", field) for field in fields[:5]), job
        assert f"cd {tmp_path}" in job and "--quiet --log-file" in job and "flock -n" in job
        shlex.split(job[job.index("cd "):])  # quoting is valid shell
        parser().parse_args(shlex.split(job.split(" -m pipelines ", 1)[1]))  # every option is the CLI's
    minute, hourly, nightly, check = jobs
    assert minute.startswith("* * * * *") and minute.endswith("sync controlshift --no-transform")
    assert hourly.endswith("sync mobilize action_network --wait 900") and "logs/hourly.log" in hourly
    assert "sync --full-refresh" in nightly
    assert check.endswith(" status")
    assert main(["schedule"]) == 0
    assert "pipelines --quiet --log-file" in capsys.readouterr().out


def test_quiet_prints_nothing_and_log_file_keeps_everything(on_demo, tmp_path, capsys):
    log = tmp_path / "logs" / "report.log"
    assert main(["--quiet", "--log-file", str(log), "report"]) == 0
    assert capsys.readouterr().out == ""
    assert "report: " in log.read_text() and str(on_demo.parent / "reports" / "latest.html") in log.read_text()


def test_every_raw_table_has_a_freshness_timestamp():
    """dbt source freshness needs loaded_at_field (or a loaded_at_query) on every source table."""
    missing = []
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            source_level = (source.get("config") or {}).get("loaded_at_field")
            for table in source.get("tables", []):
                config = table.get("config") or {}
                if not (source_level or config.get("loaded_at_field") or config.get("loaded_at_query")):
                    missing.append(f"{path.name}: {source['name']}.{table['name']}")
    assert not missing, ("add `config: loaded_at_field: \"to_timestamp(cast(_dlt_load_id as double))\"` to the "
                         f"source (child tables: a loaded_at_query via the parent): {missing}")


def test_freshness_and_docs_build_on_the_demo_warehouse(on_demo, capsys):
    assert main(["freshness"]) == 0
    assert "never synced" not in capsys.readouterr().out  # ControlShift too, from its own bookkeeping
    checked = json.loads((dbt_target_dir() / "sources.json").read_text())["results"]
    thresholds = {result["unique_id"].split(".")[2]: result["criteria"]["error_after"]["count"] for result in checked}
    # one source of truth: dbt errors exactly where `status` turns stale ([status] in .dlt/config.toml)
    assert thresholds == {source: status.stale_after_hours(source) for source in SOURCES}
    assert main(["docs"]) == 0
    catalog = json.loads((dbt_target_dir() / "catalog.json").read_text())
    assert any(key.endswith("marts.people") or key.endswith(".people") for key in catalog["nodes"])
    assert any(key.startswith("source.organizing_warehouse.mobilize.") for key in catalog["sources"])
    assert (dbt_target_dir() / "index.html").exists()


@pytest.mark.parametrize("sql_file", QUERIES, ids=[q.stem for q in QUERIES])
def test_example_queries_run_on_the_demo_warehouse(on_demo, sql_file):
    with duckdb.connect(str(on_demo), read_only=True) as con:
        rows = con.execute(sql_file.read_text()).fetchall()
    if sql_file.stem != "people_in_several_tools":  # needs two tools synced
        assert rows, f"{sql_file.name} returned nothing on the demo warehouse"


def test_example_queries_are_documented():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert len(QUERIES) == 8
    for sql_file in QUERIES:
        assert f"docs/queries/{sql_file.name}" in readme


def test_sql_shell_runs_statements_read_only(on_demo, capsys):
    assert main(["sql", "-c", "select count(*) as people_total from analytics.people;"]) == 0
    out = capsys.readouterr().out
    [(people,)] = query(on_demo, "select count(*) from analytics.people")
    assert "people_total" in out and str(people) in out
    assert main(["sql", "-c", "create table analytics.scratch as select 1;"]) == 1
    assert "read-only" in capsys.readouterr().out
    assert sqlshell.statements(["select 1", "as x;", ".tables", "select 2;"]) == \
        ["select 1\nas x;", ".tables", "select 2;"]


def test_export_writes_every_mart_as_parquet(on_demo, capsys):
    assert main(["export"]) == 0
    exports = on_demo.parent / "exports"
    for mart in ("people", "person_identities", "events", "attendances"):
        [(exported,)] = query(on_demo, f"select count(*) from read_parquet('{exports / mart}.parquet')")
        [(rows,)] = query(on_demo, f"select count(*) from analytics.{mart}")
        assert exported == rows > 0


def test_docs_and_freshness_refuse_a_warehouse_a_sync_holds_and_leave_the_sync_unharmed(warehouse, sandbox):
    """`make docs`/`make freshness` open the warehouse read-write through dbt: during a sync they must not."""
    assert main(["--quiet", "sync", "--no-transform", "mobilize"]) == 0
    env = {**os.environ, "WAREHOUSE_PATH": str(warehouse)}
    with writer_lock(warehouse):  # held exactly as a running sync holds it
        for target in ("docs", "freshness"):
            refused = subprocess.run(["make", "-s", target], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                     timeout=300)
            assert refused.returncode != 0, refused.stdout + refused.stderr
            assert "is being written by" in refused.stdout + refused.stderr
        # the sync goes on to write and publish as if nobody had asked
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema if not exists analytics")
            con.execute("create or replace table analytics.people as select 1 as person_id")
        assert query(publish_snapshot(warehouse), "select count(*) from analytics.people") == [(1,)]


def test_status_still_answers_while_a_sync_holds_the_warehouse(tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "busy.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    runlog.append(warehouse, runlog.RunRecord("mobilize", "loaded", runlog.now() - 60, runlog.now(),
                                              "3 rows", {"people": 3}))
    with duckdb.connect(str(warehouse)):  # a writer holds the file
        result = status.collect(warehouse)
        [mobilize] = [s for s in result.sources if s.source == "mobilize"]
        assert "busy" in result.note and mobilize.state == "ok" and mobilize.last_rows == {"people": 3}
        assert main(["sql", "--database", str(warehouse), "-c", "select 1;"]) == 1
        assert "run `make sql` again when it is done" in capsys.readouterr().err


def test_full_refresh_reloads_a_source_from_scratch(warehouse, sandbox, capsys):
    assert main(["--quiet", "sync", "mobilize", "--no-transform"]) == 0
    before = query(warehouse, "select count(*), count(distinct id) from mobilize.people")
    assert main(["--quiet", "sync", "mobilize", "--no-transform", "--full-refresh"]) == 0
    assert query(warehouse, "select count(*), count(distinct id) from mobilize.people") == before
    first, second = runlog.read(warehouse)
    assert (first.mode, second.mode) == ("incremental", "full_refresh")
    # a full refresh reads everything again, where an incremental run would have read nothing new
    assert second.rows["people"] == before[0][0]
    assert capsys.readouterr().out == ""
    # --verbose: dlt's progress, then the summary, rows per table and every cursor
    assert main(["sync", "mobilize", "--no-transform", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "Sync summary" in out and "cursor people_org_" in out and "Normalize mobilize" in out


def test_sql_shell_interactive_statements_span_lines(on_demo, monkeypatch, capsys, tmp_path):
    lines = iter(["select 41", "  + 1 as answer;", ".schema analytics.people", "select nope;", ".quit"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(lines))
    monkeypatch.setattr(sqlshell, "HISTORY", tmp_path / "history")
    with DuckDBReader(on_demo) as con:
        sqlshell.interactive(con)
    out = capsys.readouterr().out
    assert "42" in out and "person_id" in out and "Error: " in out


def test_run_log_skips_torn_lines_and_stays_bounded(tmp_path, monkeypatch):
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setattr(runlog, "MAX_BYTES", 2000)
    monkeypatch.setattr(runlog, "KEEP_LINES", 3)
    for i in range(10):
        runlog.append(warehouse, runlog.RunRecord("mobilize", "loaded", i, i + 1, rows={"people": i}))
    with runlog.runlog_path(warehouse).open("a") as log:
        log.write('{"source": "mobilize", "sta')  # a run killed mid-write
    runlog.append(warehouse, runlog.RunRecord("mobilize", "failed", 11, 12, "boom"))
    records = runlog.read(warehouse)
    assert len(records) <= 11 and records[-2].rows == {"people": 9} and records[-1].message == "boom"
    assert runlog.runlog_path(warehouse).stat().st_size < 2000 + 600


def test_every_dbt_var_is_read_somewhere():
    """A var nothing reads is documentation that lies (as `default_phone_region` did)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    code = "\n".join(path.read_text() for folder in ("models", "macros")
                     for path in (DBT_PROJECT_DIR / folder).rglob("*.sql"))
    unread = [name for name in project.get("vars", {}) if f"var('{name}'" not in code]
    assert not unread, unread


def test_sql_shell_piped_output_is_whole_and_csv_on_request(on_demo, capsys):
    wide = "select range as n, " + ", ".join(f"'{c}' as col_{c}" for c in "abcdefgh") + " from range(100);"
    assert main(["sql", "-c", wide]) == 0
    out = capsys.readouterr().out
    assert "│    50 │" in out and "col_h" in out  # every row and column, not a screenful
    assert main(["sql", "--csv", "-c", "select 1 as one, 'a,b' as two;"]) == 0
    assert capsys.readouterr().out == 'one,two\n1,"a,b"\n'
    assert main(["sql", "-c", ".mode csv\nselect 2 as two;\n.mode nope\n"]) == 1
    assert capsys.readouterr().out.startswith("two\n2\nusage: .mode box|csv")


def test_sql_shell_on_a_terminal_edits_lines_and_keeps_history(on_demo, tmp_path):
    """Driven through a pseudo-terminal as a person would: the up arrow recalls the last statement."""
    import pty
    import select
    import time

    env = {**os.environ, "WAREHOUSE_PATH": str(on_demo), "HOME": str(tmp_path)}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the shell, exactly as `make sql` runs it
        os.chdir(REPO_ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "pipelines", "sql"], env)
    seen = b""

    def read_until(marker: bytes, count: int = 1) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60  # a generous bound against a hung child, never an assertion
        while seen.count(marker) < count and time.monotonic() < deadline:
            if select.select([terminal], [], [], 0.2)[0]:
                try:
                    seen += os.read(terminal, 65536)
                except OSError:  # the shell has exited and closed its terminal
                    return

    read_until(b"sql> ")
    os.write(terminal, b"select 40 + 2 as answer;\r")
    read_until(b"sql> ", 2)
    os.write(terminal, b"\x1b[A\r")  # up arrow, enter
    read_until(b"sql> ", 3)
    os.write(terminal, b".quit\r")
    read_until(b"\0")  # until the shell exits and closes its terminal, or the bound passes
    if os.waitpid(pid, os.WNOHANG) == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert seen.count(b"42 ") == 2 and b"^[[A" not in seen, seen.decode(errors="replace")
    assert "select 40 + 2 as answer;" in (tmp_path / ".organizing_warehouse_sql_history").read_text()


def test_attendance_rate_counts_only_events_started_by_the_datas_own_clock(on_demo):
    """The sandbox's world has a fixed clock: now() would count its future events, none attended yet."""
    sql = (REPO_ROOT / "docs" / "queries" / "rsvp_to_attendance_by_event_type.sql").read_text()
    rows = query(on_demo, sql.rstrip().rstrip(";"))
    assert rows and all(with_outcome > 0 for _, _, _, with_outcome, _, _ in rows), rows


def test_no_name_in_the_people_mart_is_all_lower_case(on_demo):
    """macros/readable_name.sql on a whole world: names typed all lower case read as names."""
    [(lower_case, named)] = query(on_demo, """
        select count(*) filter (where regexp_matches(given_name, '\\p{L}') and given_name = lower(given_name)
                                   or regexp_matches(family_name, '\\p{L}') and family_name = lower(family_name)),
               count(given_name)
        from analytics.people""")
    assert named > 0 and lower_case == 0
