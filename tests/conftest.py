"""Fixtures shared by every test: an isolated warehouse, a running sandbox, its configuration."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

import duckdb
import pytest
from hypothesis import settings

from pipelines import REPO_ROOT
from pipelines.warehouse import POSTGRES_CREDENTIALS
from sandbox import Sandbox
from sandbox.world import World, build_world

pytest.register_assert_rewrite("tests.postgres_fixtures")  # imported here before pytest loads it as a plugin
from tests.postgres_fixtures import ENGINES, create_unfriendly_database, query  # noqa: E402,F401 - query: tests import it from here

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
PIPELINE_FIXTURES = {"demo_warehouse", "postgres_demo", "engine_demo", "sandbox"}
LONGEST_FIRST = ("test_marts.py", "test_crash_resume.py", "test_faults.py", "test_actions_mart.py", "test_engines.py",
                 "test_dbt_project.py", "test_identity_hubs.py", "test_action_network_source.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
    # `make test` hands out whole files in this order: the longest first (as measured), then the other
    # files with integration tests, then the short ones to fill in at the end; each file's tests keep
    # their own order. The demos' first users are among the first (the DuckDB demo's, then the Postgres
    # demo's: test_engines asks for it first), so the shared demos are built side by side while the
    # other long files run, not while their other users wait for them.
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


def _run_demo(warehouse: Path, engine_env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python -m pipelines demo` of the shared world, as a user runs it, on the engine `engine_env`
    names; what it printed is kept beside the warehouse."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SOURCES__", "STATUS__"))}
    env.pop("WAREHOUSE_ENGINE", None)
    # NationBuilder's full person resource (all four emails), which its marts tests read
    env["SOURCES__NATIONBUILDER__FETCH_FULL_PERSON"] = "true"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    finished = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--people", str(DEMO_PEOPLE), "--seed", str(DEMO_SEED)],
        env={**env, **engine_env, "WAREHOUSE_PATH": str(warehouse)}, cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=900)
    (warehouse.parent / DEMO_OUTPUT).write_text(finished.stdout)
    return finished


def _build_demo(warehouse: Path) -> None:
    """The DuckDB demo, over an earlier demo it must replace."""
    _plant_earlier_demo(warehouse)
    finished = _run_demo(warehouse, {})
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]


def _built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `build(folder)` fills, built once per run: under pytest-xdist the first worker to ask
    builds it in the run's shared temporary folder while the others wait on a lock."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    run_folder = tmp_path_factory.getbasetemp().parent  # one per run, shared by its workers
    built = run_folder / name
    with open(run_folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (run_folder / f"{name}.built").exists():
            shutil.rmtree(built, ignore_errors=True)  # what a worker whose build failed left
            build(built)
            (run_folder / f"{name}.built").touch()
    return built


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small demo warehouse (sandbox -> sync -> marts -> run report), shared read-only by tests.

    A demo is a full sync and a dbt build, built once per run (`_built_once`); each worker gets a
    copy of its folder (its own files, so one worker's dbt or exports never meet another's).
    """
    built = _built_once(tmp_path_factory, "demo", lambda folder: _build_demo(folder / "warehouse.duckdb"))
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return built / "warehouse.duckdb"
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(built, folder, dirs_exist_ok=True)
    return folder / "warehouse.duckdb"


@dataclass(frozen=True)
class PostgresDemo:
    """The shared world's demo on Postgres: its database, its local folder (run log, dlt's state, its
    printed output), and how `python -m pipelines demo` exited."""

    url: str
    warehouse: Path
    returncode: int
    stderr: str  # its end

    @property
    def output(self) -> str:
        return (self.warehouse.parent / DEMO_OUTPUT).read_text()


POSTGRES_DEMO_DATABASE = "demo"


@pytest.fixture(scope="session")
def postgres_demo(postgres_server, tmp_path_factory: pytest.TempPathFactory) -> PostgresDemo:  # noqa: ANN001
    """`demo_warehouse`'s world demoed on the run's Postgres server, once per run and shared by every
    worker (the marts are only read), in a database that sorts by language in a far time zone
    (`create_unfriendly_database`). A failed demo is not retried: `tests/test_engines.py` says why."""
    url = postgres_server.database_url(POSTGRES_DEMO_DATABASE)

    def build(folder: Path) -> None:
        create_unfriendly_database(postgres_server, POSTGRES_DEMO_DATABASE)
        finished = _run_demo(folder / "warehouse.duckdb", {"WAREHOUSE_ENGINE": "postgres", POSTGRES_CREDENTIALS: url})
        (folder / "demo_exit_code").write_text(f"{finished.returncode}\n{finished.stderr[-3000:]}")

    folder = _built_once(tmp_path_factory, "postgres_demo", build)
    code, stderr = (folder / "demo_exit_code").read_text().split("\n", 1)
    return PostgresDemo(url, folder / "warehouse.duckdb", int(code), stderr)


@pytest.fixture(params=ENGINES)
def engine_demo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared demo on each engine in turn, DuckDB then Postgres: its warehouse path, with the
    environment naming its engine (and on Postgres its database), so `tests.postgres_fixtures.query`
    and the pipeline's readers (`score_identities`) read it."""
    if request.param == "duckdb":
        monkeypatch.setenv("WAREHOUSE_ENGINE", "duckdb")
        return request.getfixturevalue("demo_warehouse")
    demo: PostgresDemo = request.getfixturevalue("postgres_demo")
    assert demo.returncode == 0, "the Postgres demo failed: tests/test_engines.py shows its output"
    monkeypatch.setenv("WAREHOUSE_ENGINE", "postgres")
    monkeypatch.setenv(POSTGRES_CREDENTIALS, demo.url)
    return demo.warehouse


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
