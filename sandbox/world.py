"""A seeded synthetic organizing world that every sandbox vendor serves.

The world is a population of real people (`Person`, the truth) and, per vendor, the
records that vendor holds about some of them, each drawn with realistic noise. Which
vendor record belongs to which real person is kept in `World.truth` for measuring
identity resolution; it is written beside the world and never fed to the pipeline.

The same `seed` and `people` always give the same world; `advance()` moves the world's
clock and changes a fraction of every vendor's records, as a day of organizing does.
"""

from __future__ import annotations

import csv
import importlib
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.sources import SOURCES
from sandbox import noise

# One fake per source of the pipeline's registry (`sandbox_fake`), in its order. Each provides
# generate(world) -> its data, advance(world, fraction), serve(world, api_key, *, rate_limit=…)
# -> FakeService (rate_limit=None: no limit) and client_env(service, api_key).
VENDORS = tuple(SOURCES)

# 2026-01-01T00:00:00Z: the world's "now" before any change.
WORLD_EPOCH = 1767225600
DAY = 86400


@dataclass(slots=True)
class Person:
    """One real person: the truth behind every vendor's copy."""

    key: int
    given_name: str
    family_name: str
    email: str
    phone: str  # ten national digits
    postal_code: str
    household: int


@dataclass(slots=True)
class Clock:
    now: int = WORLD_EPOCH

    def tick(self, seconds: int = 3600) -> int:
        self.now += seconds
        return self.now


@dataclass
class World:
    seed: int
    persons: list[Person]
    clock: Clock = field(default_factory=Clock)
    # (source, source_person_id, person key): the answer key for identity resolution
    truth: list[tuple[str, str, int]] = field(default_factory=list)
    # bumped on every change so the fakes can cache filtered views
    version: int = 0
    # vendor name -> that vendor's records (see each sandbox vendor module)
    vendors: dict[str, object] = field(default_factory=dict)

    def rng(self, purpose: str) -> random.Random:
        """An independent, reproducible random stream for one purpose."""
        return random.Random(f"{self.seed}:{purpose}:{self.version}")

    def advance(self, fraction: float = 0.01) -> None:
        """Move the clock and change `fraction` of each vendor's records."""
        self.version += 1
        self.clock.tick()
        for vendor in VENDORS:
            vendor_module(vendor).advance(self, fraction)

    def write_truth(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["source", "source_person_id", "person_key"])
            writer.writerows(self.truth)


def pick_changes(rng: random.Random, fraction: float, pool: list) -> list:
    """`fraction` of `pool` (at least one record while there is any): what `advance()` changes."""
    return rng.sample(pool, max(1, int(len(pool) * fraction))) if pool else []


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def generate_persons(count: int, seed: int) -> list[Person]:
    """`count` people; about one in twenty shares a household email with another."""
    rng = random.Random(f"{seed}:persons")
    persons: list[Person] = []
    used_emails: set[str] = set()
    household = 0
    while len(persons) < count:
        household += 1
        family = rng.choice(noise.FAMILY_NAMES)
        postal = f"{rng.randrange(1000, 99999):05d}"
        size = 2 if rng.random() < 0.05 else 1
        shared_email = None
        given_names = rng.sample(noise.GIVEN_NAMES, size)
        for given in given_names:
            if len(persons) == count:
                break
            email = shared_email
            if email is None:
                email = f"{_ascii(given)}.{_ascii(family)}{len(persons)}@{rng.choice(noise.EMAIL_DOMAINS)}"
                while email in used_emails:
                    email = f"{_ascii(given)}{rng.randrange(10**6)}@{rng.choice(noise.EMAIL_DOMAINS)}"
                used_emails.add(email)
                if size == 2:
                    shared_email = email
            phone = rng.choice(noise.AREA_CODES) + f"{rng.randrange(200, 999)}{rng.randrange(10**4):04d}"
            persons.append(Person(len(persons) + 1, given, family, email, phone, postal, household))
    return persons


def vendor_module(vendor: str):  # noqa: ANN201 - a module
    return importlib.import_module(SOURCES[vendor].sandbox_fake)


def build_world(people: int = 500, seed: int = 7) -> World:
    """The whole world: people and every vendor's records about them."""
    if people < 1:
        raise ValueError("a world needs at least one person")
    world = World(seed=seed, persons=generate_persons(people, seed))
    for vendor in VENDORS:
        world.vendors[vendor] = vendor_module(vendor).generate(world)
    return world
