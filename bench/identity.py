"""Identity resolution on the default sandbox world, and the time dbt takes to build the marts."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from pipelines.evaluation import score_identities
from pipelines.runner import sync, transform
from sandbox import Sandbox

PEOPLE = int(os.environ.get("BENCH_IDENTITY_PEOPLE", "2000"))


def main() -> int:
    with tempfile.TemporaryDirectory() as folder, Sandbox(people=PEOPLE, seed=7) as sandbox:
        warehouse = Path(folder) / "warehouse.duckdb"
        os.environ.update(sandbox.env())
        started = time.perf_counter()
        results = sync(None, warehouse, echo=lambda _: None)
        synced = time.perf_counter()
        if any(r.status != "loaded" for r in results) or transform(warehouse) != 0:
            print("sync or dbt build failed:", results)
            return 1
        built = time.perf_counter()
        scores = score_identities(warehouse, sandbox.world.truth)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"world: {PEOPLE:,} people; sources: {', '.join(r.source for r in results)}")
    print(scores.line())
    print(f"sync {synced - started:.1f} s, dbt build {built - synced:.1f} s, peak memory {peak_mb:.0f} MB")
    return 0 if scores.good_enough else 1


if __name__ == "__main__":
    sys.exit(main())
