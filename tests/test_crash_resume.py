"""Nothing lost, nothing doubled: SIGKILL a sync at random moments, then let it finish.

For every source the sandbox serves, a clean warehouse is built by one uninterrupted sync.
A second warehouse is built by syncs killed without warning, again and again, at moments
spread over the clean run's working time (extract, normalize and load all take their share),
and finally one sync allowed to finish. Both warehouses must then hold the same rows.

A kill during the process's start-up (Python importing dlt and the pipeline, before anything is
asked or written) tests nothing, so the moments are drawn after it: start-up is timed as the
same command doing nothing (its source unconfigured, so skipped).
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

import pytest

from pipelines import REPO_ROOT
from sandbox import Sandbox
from sandbox.world import VENDORS
from tests.conftest import compare_schemas

pytestmark = pytest.mark.integration

TOTAL_KILLS = 8
KILL_SEED = int(os.environ.get("CRASH_RESUME_SEED", "20261123"))


def _sync_command(source: str) -> list[str]:
    return [sys.executable, "-m", "pipelines", "sync", "--no-transform", source]


def _run_to_completion(source: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    finished = subprocess.run(_sync_command(source), env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, f"{source} sync failed:\n{finished.stdout}\n{finished.stderr}"
    return time.monotonic() - started


def _startup_seconds(source: str, env: dict[str, str]) -> float:
    """The command's time to do nothing: the same sync with the source's configuration left out."""
    unconfigured = {key: value for key, value in env.items() if not key.startswith(f"SOURCES__{source.upper()}__")}
    started = time.monotonic()
    subprocess.run(_sync_command(source), env=unconfigured, cwd=REPO_ROOT, capture_output=True, timeout=300)
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


def test_syncs_killed_at_random_moments_end_with_the_clean_runs_rows(tmp_path: Path, report) -> None:  # noqa: ANN001
    rng = random.Random(KILL_SEED)
    kills_per_source = math.ceil(TOTAL_KILLS / len(VENDORS))
    kills = lost = duplicated = 0
    missing: list[str] = []
    with Sandbox(people=200, seed=5, throttled=False) as sandbox:
        base_env = {**os.environ, **sandbox.env()}
        for source in VENDORS:
            clean = tmp_path / f"clean_{source}.duckdb"
            crashed = tmp_path / f"crashed_{source}.duckdb"
            run_seconds = _run_to_completion(source, {**base_env, "WAREHOUSE_PATH": str(clean)})
            crashed_env = {**base_env, "WAREHOUSE_PATH": str(crashed)}
            startup = min(_startup_seconds(source, crashed_env), 0.9 * run_seconds)
            source_kills = attempts = 0
            while source_kills < kills_per_source and attempts < 5 * kills_per_source:
                attempts += 1
                # from the end of start-up to near the run's end: extract, normalize and load all get their share
                working = max(run_seconds - startup, 0.0)
                if _kill_at(source, crashed_env, startup + rng.uniform(0.05, 0.9) * working) is None:
                    source_kills += 1
                else:
                    # it finished first: the clean run was timed on a busier machine (or a resumed run
                    # has less left to do), so aim earlier instead of counting on the clock's pace;
                    # start-up shrinks too, as it was timed on that busier machine as well
                    run_seconds *= 0.7
                    startup *= 0.7
            kills += source_kills
            _run_to_completion(source, crashed_env)
            source_lost, source_duplicated, source_missing = compare_schemas(clean, crashed, source)
            lost, duplicated = lost + source_lost, duplicated + source_duplicated
            missing += source_missing
    report(f"crash-resume: {kills} kills, {lost} rows lost, {duplicated} rows duplicated")
    assert not missing, f"tables the killed runs never produced: {missing}"
    assert (lost, duplicated) == (0, 0)
    assert kills >= TOTAL_KILLS, "syncs kept finishing before their kill: the harness no longer tests anything"
