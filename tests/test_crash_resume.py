"""Nothing lost, nothing doubled: SIGKILL a sync at random moments, then let it finish.

For every source the sandbox serves, a clean warehouse is built by one uninterrupted sync.
A second warehouse is built by syncs killed without warning, again and again, at moments
spread over the clean run's duration (extract, normalize and load all take their share),
and finally one sync allowed to finish. Both warehouses must then hold the same rows.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines import REPO_ROOT
from pipelines.sandbox import Sandbox
from pipelines.sandbox.world import VENDORS

TOTAL_KILLS = 20
KILL_SEED = int(os.environ.get("CRASH_RESUME_SEED", "20261123"))


def _sync_command(source: str) -> list[str]:
    return [sys.executable, "-m", "pipelines", "sync", "--no-transform", source]


def _run_to_completion(source: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    finished = subprocess.run(_sync_command(source), env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, f"{source} sync failed:\n{finished.stdout}\n{finished.stderr}"
    return time.monotonic() - started


def _kill_at(source: str, env: dict[str, str], delay: float) -> int | None:
    """Starts a sync and SIGKILLs its whole process group after `delay` seconds (None: it finished first)."""
    process = subprocess.Popen(_sync_command(source), env=env, cwd=REPO_ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
        return process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None


def _differences(clean: Path, crashed: Path, schema: str) -> tuple[int, int, list[str]]:
    """(rows lost, rows duplicated, tables missing) of `crashed` against `clean`, ignoring dlt's columns."""
    lost = duplicated = 0
    missing: list[str] = []
    with duckdb.connect() as con:
        con.execute(f"attach '{clean}' as clean (read_only)")
        con.execute(f"attach '{crashed}' as crashed (read_only)")
        tables = con.execute(
            "select table_name from duckdb_tables() where database_name = 'clean' and schema_name = ? "
            "and table_name not like '\\_dlt%' escape '\\' order by 1", [schema]).fetchall()
        assert tables, f"the clean run loaded no {schema} tables"
        for (table,) in tables:
            columns = [name for (name,) in con.execute(
                "select column_name from duckdb_columns() where database_name = 'clean' and schema_name = ? "
                "and table_name = ? and column_name not like '\\_dlt%' escape '\\' order by column_index",
                [schema, table]).fetchall()]
            exists = con.execute("select count(*) from duckdb_tables() where database_name = 'crashed' "
                                 "and schema_name = ? and table_name = ?", [schema, table]).fetchone()[0]
            if not exists:
                missing.append(f"{schema}.{table}")
                continue
            select = ", ".join(f'"{c}"' for c in columns)
            lost += con.execute(f'select count(*) from (select {select} from clean.{schema}."{table}" except all '
                                f'select {select} from crashed.{schema}."{table}")').fetchone()[0]
            duplicated += con.execute(f'select count(*) from (select {select} from crashed.{schema}."{table}" '
                                      f'except all select {select} from clean.{schema}."{table}")').fetchone()[0]
    return lost, duplicated, missing


def test_syncs_killed_at_random_moments_end_with_the_clean_runs_rows(tmp_path: Path, report) -> None:  # noqa: ANN001
    rng = random.Random(KILL_SEED)
    kills_per_source = math.ceil(TOTAL_KILLS / len(VENDORS))
    kills = lost = duplicated = 0
    missing: list[str] = []
    with Sandbox(people=200, seed=5) as sandbox:
        base_env = {**os.environ, **sandbox.env()}
        for source in VENDORS:
            clean = tmp_path / f"clean_{source}.duckdb"
            crashed = tmp_path / f"crashed_{source}.duckdb"
            clean_seconds = _run_to_completion(source, {**base_env, "WAREHOUSE_PATH": str(clean)})
            crashed_env = {**base_env, "WAREHOUSE_PATH": str(crashed)}
            source_kills = attempts = 0
            while source_kills < kills_per_source and attempts < 3 * kills_per_source:
                attempts += 1
                # from start-up to near the clean run's end: extract, normalize and load all get their share
                if _kill_at(source, crashed_env, rng.uniform(0.1, 0.85) * clean_seconds) is None:
                    source_kills += 1
            kills += source_kills
            _run_to_completion(source, crashed_env)
            source_lost, source_duplicated, source_missing = _differences(clean, crashed, source)
            lost, duplicated = lost + source_lost, duplicated + source_duplicated
            missing += source_missing
    report(f"crash-resume: {kills} kills, {lost} rows lost, {duplicated} rows duplicated")
    assert not missing, f"tables the killed runs never produced: {missing}"
    assert (lost, duplicated) == (0, 0)
    assert kills >= TOTAL_KILLS, "syncs kept finishing before their kill: the harness no longer tests anything"
