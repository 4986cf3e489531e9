"""NationBuilder: requests a full sync of a 20,000-person nation makes, and an incremental one after 200 changes.

Ceilings: the full sync needs the count plus ceil(people / 100) index pages. An incremental
sync needs ceil(listed / 100) search pages, where listed is the N changed people plus those
updated in the very second of the cursor (`updated_since` is inclusive, and NationBuilder
timestamps have one-second resolution: asking from the next second could miss a person
updated in the same second after the last run read), plus N person requests with
fetch_full_person. Printed as requests made against those ceilings, with times and peak memory.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from pipelines.runner import sync
from sandbox import nationbuilder as nb

PEOPLE = int(os.environ.get("BENCH_NATIONBUILDER_PEOPLE", "20000"))
CHANGES = int(os.environ.get("BENCH_NATIONBUILDER_CHANGES", "200"))
TOKEN = "bench-token"


def run(warehouse: Path, service, label: str, ceiling: int) -> float:  # noqa: ANN001
    service.reset_log()
    started = time.perf_counter()
    [result] = sync(["nationbuilder"], warehouse, echo=lambda _: None)
    elapsed = time.perf_counter() - started
    if result.status != "loaded":
        raise SystemExit(f"{label}: {result.status}: {result.message}")
    # API requests only: the one token refresh a sync starts with is not a page
    made = service.count(path_prefix=nb.API_PREFIX)
    print(f"{label}: {made} requests / ceiling {ceiling} = {made / ceiling:.2f}; "
          f"{result.rows.get('people', 0):,} rows in {elapsed:.1f} s")
    return made / ceiling


def main() -> int:
    world = nb.nation(PEOPLE)
    os.environ["SOURCES__NATIONBUILDER__REQUESTS_PER_SECOND"] = "1000"
    ratios = []
    # access tokens that last their 24 hours, as NationBuilder's do: no 401s in the count
    with tempfile.TemporaryDirectory() as folder, nb.serve(world, TOKEN, access_token_requests=None) as service:
        os.environ.update(nb.client_env(service, TOKEN))
        warehouse = Path(folder) / "warehouse.duckdb"
        print(f"nation: {len(world.vendors['nationbuilder'].people):,} people")
        ratios.append(run(warehouse, service, "full sync (count + index pages)", 1 + math.ceil(PEOPLE / 100)))
        listed = nb.edit(world, CHANGES)
        ratios.append(run(warehouse, service, f"incremental after {CHANGES} changes ({listed} listed)",
                          math.ceil(listed / 100)))
        ratios.append(run(warehouse, service, f"incremental, nothing changed ({CHANGES} listed)",
                          math.ceil(CHANGES / 100)))
        os.environ["SOURCES__NATIONBUILDER__FETCH_FULL_PERSON"] = "true"
        listed = nb.edit(world, CHANGES)
        ratios.append(run(warehouse, service, f"fetch_full_person after {CHANGES} changes ({listed} listed)",
                          math.ceil(listed / 100) + CHANGES))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB")
    return 0 if all(ratio <= 1.0 for ratio in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
