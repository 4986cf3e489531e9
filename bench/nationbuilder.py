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
from pipelines.sandbox import nationbuilder as nb
from pipelines.sandbox.world import World, generate_persons

PEOPLE = int(os.environ.get("BENCH_NATIONBUILDER_PEOPLE", "20000"))
CHANGES = int(os.environ.get("BENCH_NATIONBUILDER_CHANGES", "200"))
TOKEN = "bench-token"


def nation(people: int) -> World:
    """A world whose nation holds exactly `people` people (the other vendors are not built)."""
    world = World(seed=7, persons=generate_persons(math.ceil(people / 0.55), 7))
    data = nb.generate(world)
    for person_id in sorted(data.people)[people:]:
        del data.people[person_id]
    world.truth = [row for row in world.truth if int(row[1]) in data.people]
    world.vendors["nationbuilder"] = data
    return world


def change(world: World, count: int) -> int:
    """`count` people edited in the nation at the world's next tick; how many the next search lists."""
    data = world.vendors["nationbuilder"]
    cursor = max(p.updated_at for p in data.people.values())
    world.version += 1
    now = world.clock.tick()
    for person in world.rng("bench-changes").sample(list(data.people.values()), count):
        person.support_level = 1 + (person.support_level or 0) % 5
        person.updated_at = now
    return sum(1 for p in data.people.values() if p.updated_at >= cursor)


def run(warehouse: Path, service, label: str, ceiling: int) -> float:  # noqa: ANN001
    service.reset_log()
    started = time.perf_counter()
    [result] = sync(["nationbuilder"], warehouse, echo=lambda _: None)
    elapsed = time.perf_counter() - started
    if result.status != "loaded":
        raise SystemExit(f"{label}: {result.status}: {result.message}")
    made = len(service.requests)
    print(f"{label}: {made} requests / ceiling {ceiling} = {made / ceiling:.2f}; "
          f"{result.rows.get('people', 0):,} rows in {elapsed:.1f} s")
    return made / ceiling


def main() -> int:
    world = nation(PEOPLE)
    os.environ["SOURCES__NATIONBUILDER__REQUESTS_PER_SECOND"] = "1000"
    ratios = []
    with tempfile.TemporaryDirectory() as folder, nb.serve(world, TOKEN) as service:
        os.environ.update(nb.client_env(service, TOKEN))
        warehouse = Path(folder) / "warehouse.duckdb"
        print(f"nation: {len(world.vendors['nationbuilder'].people):,} people")
        ratios.append(run(warehouse, service, "full sync (count + index pages)", 1 + math.ceil(PEOPLE / 100)))
        listed = change(world, CHANGES)
        ratios.append(run(warehouse, service, f"incremental after {CHANGES} changes ({listed} listed)",
                          math.ceil(listed / 100)))
        ratios.append(run(warehouse, service, f"incremental, nothing changed ({CHANGES} listed)",
                          math.ceil(CHANGES / 100)))
        os.environ["SOURCES__NATIONBUILDER__FETCH_FULL_PERSON"] = "true"
        listed = change(world, CHANGES)
        ratios.append(run(warehouse, service, f"fetch_full_person after {CHANGES} changes ({listed} listed)",
                          math.ceil(listed / 100) + CHANGES))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak_mb:.0f} MB")
    return 0 if all(ratio <= 1.0 for ratio in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
