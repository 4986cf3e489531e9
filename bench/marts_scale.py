"""The marts at scale: dbt build over a sandbox world of a million people (BENCH_SCALE_PEOPLE).

The sandbox serves the world from its own process, and every source syncs it from its fake with
vendor rate limits lifted (this measures dbt, not the vendors' budgets, which the per-source
benchmarks measure); then `dbt build` runs every model and test. Printed: the world's size, sync
and build times, rows in the marts, identity resolution against the world's truth, and peak
memory of the sync and of dbt.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines.evaluation import score_identities
from pipelines.runner import sync, transform
from sandbox.world import VENDORS

PEOPLE = int(os.environ.get("BENCH_SCALE_PEOPLE", "1000000"))
REPO = Path(__file__).resolve().parent.parent
SERVE = """
import json, sys
from pathlib import Path
from sandbox import Sandbox
with Sandbox(people=int(sys.argv[1]), seed=7, throttled=False) as sandbox:
    sandbox.world.write_truth(Path(sys.argv[2]))
    print(json.dumps(sandbox.env()), flush=True)
    sys.stdin.read()  # serves until the bench closes this pipe
"""
# the fakes answer as fast as they can; the sources may ask as fast as that
UNTHROTTLED = {"REQUESTS_PER_SECOND": "100000", "PER_PAGE": "1000", "MAX_ATTEMPTS": "8"}


class ChildPeakMemory(threading.Thread):
    """The largest peak resident set (VmHWM) of this process's children while the block runs.

    ru_maxrss of children would report this process's own high-water mark: Linux carries it
    across fork and exec.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self._finished = threading.Event()

    def run(self) -> None:
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
        while not self._finished.wait(0.2):
            for pid in children.read_text().split():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)

    def __enter__(self) -> ChildPeakMemory:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._finished.set()
        self.join()


class SandboxDidNotStart(RuntimeError):
    pass


@contextmanager
def served_world(truth_path: Path, people: int = PEOPLE) -> Iterator[None]:
    """The sandbox in its own process, so the fakes and the sync each have a core (and a GIL), with
    every source configured for it and its rate limits lifted; the world is no longer served after
    the block, so its memory is free for dbt."""
    sandbox = subprocess.Popen([sys.executable, "-c", SERVE, str(people), str(truth_path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        served = sandbox.stdout.readline()
        if not served:
            raise SandboxDidNotStart("the sandbox did not start")
        os.environ.update(json.loads(served))
        for source in VENDORS:
            os.environ.update({f"SOURCES__{source.upper()}__{key}": value for key, value in UNTHROTTLED.items()})
        yield
    finally:
        sandbox.stdin.close()  # its serving loop reads this pipe until it closes
        sandbox.wait()


def read_truth(path: Path) -> list[tuple[str, str, int]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(source, record_id, int(key)) for source, record_id, key in list(csv.reader(handle))[1:]]


def main() -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        warehouse, truth_path = Path(folder) / "warehouse.duckdb", Path(folder) / "truth.csv"
        try:
            with served_world(truth_path):
                built_world = time.perf_counter()
                results = sync(list(VENDORS), warehouse, echo=lambda line: print(
                    f"  {time.perf_counter() - built_world:5.0f} s  {line[:160]}", flush=True))
        except SandboxDidNotStart as failed:
            print(failed)
            return 1
        synced = time.perf_counter()
        if any(r.status != "loaded" for r in results):
            print("sync failed:", [(r.source, r.message) for r in results if r.status != "loaded"])
            return 1
        with ChildPeakMemory() as dbt_memory:
            code = transform(warehouse)
        transformed = time.perf_counter()
        with duckdb.connect(str(warehouse), read_only=True) as con:
            people, identities, events, attendances = con.execute("""
                select (select count(*) from analytics.people), (select count(*) from analytics.person_identities),
                       (select count(*) from analytics.events), (select count(*) from analytics.attendances)""").fetchone()
        scores = score_identities(warehouse, read_truth(truth_path))
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"world: {PEOPLE:,} people, built in {built_world - started:.0f} s; sources: {', '.join(VENDORS)}")
    print(f"sync {synced - built_world:.0f} s: {sum(sum(r.rows.values()) for r in results):,} raw rows")
    print(f"dbt build {transformed - synced:.0f} s ({'passed' if code == 0 else 'FAILED'}): {people:,} people from "
          f"{identities:,} source records, {events:,} events, {attendances:,} attendances")
    print(scores.line())
    print(f"peak memory: the sync {own_mb:,.0f} MB, dbt {dbt_memory.peak_mb:,.0f} MB")
    return code


if __name__ == "__main__":
    sys.exit(main())
