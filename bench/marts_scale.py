"""The marts at scale: dbt build over a sandbox world of a million people (BENCH_SCALE_PEOPLE).

Every source syncs the world from its fake with vendor rate limits lifted (this measures dbt,
not the vendors' budgets, which the per-source benchmarks measure), then `dbt build` runs every
model and test. Printed: the world's size, sync and build times, rows in the marts, identity
resolution against the world's truth, and peak memory of this process and of dbt's.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from pipelines.evaluation import score_identities
from pipelines.runner import sync, transform
from pipelines.sandbox import Sandbox
from pipelines.sandbox.world import VENDORS

PEOPLE = int(os.environ.get("BENCH_SCALE_PEOPLE", "1000000"))
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


def main() -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "warehouse.duckdb"
        with Sandbox(people=PEOPLE, seed=7, throttled=False) as sandbox:
            built_world = time.perf_counter()
            os.environ.update(sandbox.env())
            for source in VENDORS:
                os.environ.update({f"SOURCES__{source.upper()}__{key}": value for key, value in UNTHROTTLED.items()})
            results = sync(list(VENDORS), warehouse, echo=lambda line: print(f"  {time.perf_counter() - built_world:5.0f} s  {line[:160]}", flush=True))
            truth = list(sandbox.world.truth)
        synced = time.perf_counter()
        # the world is no longer served: free it before dbt needs the memory
        del sandbox
        gc.collect()
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
        scores = score_identities(warehouse, truth)
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"world: {PEOPLE:,} people, built in {built_world - started:.0f} s; sources: {', '.join(VENDORS)}")
    print(f"sync {synced - built_world:.0f} s: {sum(sum(r.rows.values()) for r in results):,} raw rows")
    print(f"dbt build {transformed - synced:.0f} s ({'passed' if code == 0 else 'FAILED'}): {people:,} people from "
          f"{identities:,} source records, {events:,} events, {attendances:,} attendances")
    print(scores.line())
    print(f"peak memory: this process {own_mb:,.0f} MB, dbt {dbt_memory.peak_mb:,.0f} MB")
    return code

if __name__ == "__main__":
    sys.exit(main())
