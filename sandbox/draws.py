"""Random values every vendor slice of the world draws the same way.

What each helper draws, and in which order, is part of what a seed means: change it and every
world built from that seed changes (tests and the benchmarks compare worlds by seed).
"""

from __future__ import annotations

import random

from sandbox import noise
from sandbox.world import DAY

# how long after it is made a sign-up may still change (a later edit or cancellation)
RSVP_EDITABLE = 20 * DAY


def later(rng: random.Random, since: int, now: int) -> int:
    """A moment from `since` up to (not including) `now`: when a record made at `since` last changed."""
    return since + rng.randrange(0, now - since)


def soon_after(rng: random.Random, *moments: int) -> int:
    """Within a day of the latest of `moments`: when someone acted on things once all of them existed."""
    return max(moments) + rng.randrange(0, DAY)


def rsvp_changed(rng: random.Random, created: int, now: int) -> int:
    """When a sign-up made at `created` last changed: within `RSVP_EDITABLE` of it and before `now`
    (one made at or after `now` has not changed since)."""
    return created + rng.randrange(0, max(1, min(RSVP_EDITABLE, now - created)))


def attended(rng: random.Random, past: bool, cancelled: bool) -> bool | None:
    """Whether someone came to an event: unknown before it or after a cancellation, and for one in ten of the rest."""
    return (rng.random() < 0.7) if past and not cancelled and rng.random() < 0.9 else None


def event_start(rng: random.Random, now: int) -> int:
    """An event's start within 120 days either side of `now`, on the half hour."""
    start = now + rng.randrange(-120 * DAY, 120 * DAY)
    return start - start % 1800


def street(rng: random.Random, kind: str = "St") -> str:
    return f"{rng.randrange(1, 9999)} {rng.choice(noise.FAMILY_NAMES)} {kind}"


def postal_code(rng: random.Random) -> str:
    return f"{rng.randrange(10000, 99999)}"


def coordinates(rng: random.Random, digits: int, names: tuple[str, str] = ("latitude", "longitude")) -> dict:
    """A latitude and longitude in the contiguous United States, to `digits` decimals, under the vendor's `names`."""
    latitude = round(rng.uniform(25, 48), digits)
    return {names[0]: latitude, names[1]: round(rng.uniform(-122, -71), digits)}
