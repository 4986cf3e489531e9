"""Fixtures shared by every test: an isolated warehouse, a running sandbox, its configuration."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import duckdb
import pytest
from hypothesis import settings

from pipelines import REPO_ROOT
from sandbox import Sandbox
from sandbox.world import World, build_world

pytest_plugins = ["tests.postgres_fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    """Each parallel worker (pytest-xdist) runs dbt with a target and log folder of its own.

    dbt's log file keeps what it says at info (each model and test, failures with their errors), not
    its debug trace of every query: that trace was a fifth of a dbt build's CPU (20 against 16 s).
    """
    os.environ.setdefault("DBT_LOG_LEVEL_FILE", "info")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["DBT_TARGET_PATH"] = f"target/{worker}"
        os.environ["DBT_LOG_PATH"] = f"logs/{worker}"


# a test on these runs real syncs (the demo warehouse: syncs and a dbt build), so it is an integration
# test wherever it lives; `make test-fast` leaves integration tests out
PIPELINE_FIXTURES = {"demo_warehouse", "sandbox"}
LONGEST_FIRST = ("test_marts.py", "test_crash_resume.py", "test_faults.py", "test_actions_mart.py",
                 "test_dbt_project.py", "test_identity_hubs.py", "test_action_network_source.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
    # `make test` hands out whole files in this order: the longest first (as measured), then the other
    # files with integration tests, then the short ones to fill in at the end; each file's tests keep
    # their own order. The demo's first user is among the first, so the shared demo is built while
    # the other long files run, not while its other users wait for it.
    slow_files = {item.path for item in items if item.get_closest_marker("integration")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        if item.path.name in LONGEST_FIRST:
            return 0, LONGEST_FIRST.index(item.path.name)
        return (1 if item.path in slow_files else 2), 0

    items.sort(key=rank)


@pytest.fixture
def report(request: pytest.FixtureRequest):  # noqa: ANN201
    """Prints a line in the test run's summary: figures a test measured, shown even when it passes.

    The line travels as a user property of the test's report, so it reaches the summary from a
    parallel worker too.
    """
    return lambda line: request.node.user_properties.append(("report", line))


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    for reports in terminalreporter.stats.values():
        for test_report in reports:
            if getattr(test_report, "when", None) == "call":
                for key, line in getattr(test_report, "user_properties", ()):
                    if key == "report":
                        terminalreporter.write_line(line)


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB warehouse path for one test; WAREHOUSE_PATH points at it."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(path))
    return path


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A small world with every fake vendor running, and the sources configured for it."""
    with Sandbox(people=300, seed=11) as running:
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        yield running


@pytest.fixture
def stopped_fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fakes' clock stands still: requests a test sends one after another all arrive in the same
    instant as far as a fake's rate limit can tell, however slowly a loaded machine sends them."""
    from sandbox import fakehttp

    monkeypatch.setattr(fakehttp, "time", SimpleNamespace(monotonic=lambda: 0.0, sleep=time.sleep))


@pytest.fixture
def no_source_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No vendor configured from the environment (a developer's shell may have some)."""
    for key in list(os.environ):
        if key.startswith("SOURCES__"):
            monkeypatch.delenv(key)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def table_rows(warehouse: Path, table: str, exclude_prefix: str = "_dlt") -> set[tuple]:
    """A table's rows without dlt's bookkeeping columns, for exact before/after comparisons."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema || '.' || table_name = ? "
            "order by ordinal_position", [table]).fetchall() if not c.startswith(exclude_prefix)]
        return set(con.execute(f"select {', '.join(columns)} from {table}").fetchall())


def compare_schemas(clean: Path, other: Path, schema: str) -> tuple[int, int, list[str]]:
    """(rows lost, rows duplicated, tables missing) of one schema in `other` against `clean`.

    Rows are compared whole, as multisets, without dlt's bookkeeping columns (load ids differ) or
    the load times in a source's own bookkeeping tables (`_loaded_files.loaded_at`).
    """
    lost = duplicated = 0
    missing: list[str] = []
    with duckdb.connect() as con:
        con.execute(f"attach '{clean}' as clean (read_only)")
        con.execute(f"attach '{other}' as other (read_only)")
        tables = con.execute(
            "select table_name from duckdb_tables() where database_name = 'clean' and schema_name = ? "
            "and table_name not like '\\_dlt%' escape '\\' order by 1", [schema]).fetchall()
        assert tables, f"the clean run loaded no {schema} tables"
        for (table,) in tables:
            columns = [name for (name,) in con.execute(
                "select column_name from duckdb_columns() where database_name = 'clean' and schema_name = ? "
                "and table_name = ? and column_name not like '\\_dlt%' escape '\\' order by column_index",
                [schema, table]).fetchall() if not (table.startswith("_") and name == "loaded_at")]
            exists = con.execute("select count(*) from duckdb_tables() where database_name = 'other' "
                                 "and schema_name = ? and table_name = ?", [schema, table]).fetchone()[0]
            if not exists:
                missing.append(f"{schema}.{table}")
                continue
            select = ", ".join(f'"{c}"' for c in columns)
            table_lost = con.execute(f'select count(*) from (select {select} from clean.{schema}."{table}" except all '
                                     f'select {select} from other.{schema}."{table}")').fetchone()[0]
            table_duplicated = con.execute(f'select count(*) from (select {select} from other.{schema}."{table}" '
                                           f'except all select {select} from clean.{schema}."{table}")').fetchone()[0]
            if table_lost or table_duplicated:
                print(f"{schema}.{table}: {table_lost} rows lost, {table_duplicated} rows duplicated")  # names the culprit
            lost, duplicated = lost + table_lost, duplicated + table_duplicated
    return lost, duplicated, missing


# the shared demo warehouse's world: one sync of every source, then the marts
DEMO_PEOPLE, DEMO_SEED = 150, 5
# what `python -m pipelines demo` printed when it built the shared demo, beside its warehouse
DEMO_OUTPUT = "demo_output.txt"
# the earlier demo the shared one is built over: another world, whose run log says its raw tables
# held far more rows than this one's will (kept, that log would make the guard refuse the marts)
EARLIER_DEMO_PEOPLE, EARLIER_DEMO_ROWS = 2000, 10**6


def _plant_earlier_demo(warehouse: Path) -> None:
    from pipelines import runlog
    from pipelines.cli import DEMO_MARKER

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create table {DEMO_MARKER} as select ? as people, 1 as seed, now() as created_at",
                    [EARLIER_DEMO_PEOPLE])
    built = runlog.now() - 3600
    runlog.append(warehouse, runlog.RunRecord("transform", "passed", built, built, rows={
        f"{source}.people": EARLIER_DEMO_ROWS for source in ("mobilize", "action_network", "nationbuilder")}))


def _build_demo(warehouse: Path) -> None:
    """`python -m pipelines demo`, as a user runs it, over an earlier demo it must replace; its output is kept."""
    _plant_earlier_demo(warehouse)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "STATUS__"))}
    # NationBuilder's full person resource (all four emails), which its marts tests read
    env["SOURCES__NATIONBUILDER__FETCH_FULL_PERSON"] = "true"
    finished = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--people", str(DEMO_PEOPLE), "--seed", str(DEMO_SEED)],
        env={**env, "WAREHOUSE_PATH": str(warehouse)}, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    (warehouse.parent / DEMO_OUTPUT).write_text(finished.stdout)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small demo warehouse (sandbox -> sync -> marts -> run report), shared read-only by tests.

    A demo is a full sync and a dbt build: under pytest-xdist the first worker to ask builds it in
    the run's shared temporary folder while the others wait on a lock, and each worker gets a copy
    of the folder (its own files, so one worker's dbt or exports never meet another's).
    """
    folder = tmp_path_factory.mktemp("demo")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        _build_demo(folder / "warehouse.duckdb")
        return folder / "warehouse.duckdb"
    run_folder = tmp_path_factory.getbasetemp().parent  # one per run, shared by its workers
    built = run_folder / "demo"
    with open(run_folder / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (run_folder / "demo.built").exists():
            shutil.rmtree(built, ignore_errors=True)  # what a worker whose build failed left
            _build_demo(built / "warehouse.duckdb")
            (run_folder / "demo.built").touch()
    shutil.copytree(built, folder, dirs_exist_ok=True)
    return folder / "warehouse.duckdb"


@pytest.fixture(scope="session")
def demo_world() -> World:
    """The world `demo_warehouse` was synced from, as the sandbox generated it (the truth to compare with)."""
    return build_world(people=DEMO_PEOPLE, seed=DEMO_SEED)


# `make test` must pass or fail the same way every time: hypothesis derives its examples from each
# test's name instead of a random seed (HYPOTHESIS_PROFILE=explore brings randomness back, for
# hunting new failures by hand; pin what it finds with @example)
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
