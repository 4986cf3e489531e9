"""Local stand-ins for every vendor: a seeded world and fake services that serve it."""

from __future__ import annotations

import secrets
from contextlib import ExitStack

from sandbox.fakehttp import FakeService
from sandbox.world import VENDORS, World, build_world, vendor_module


class Sandbox:
    """A world and one running fake per vendor; `env()` is the configuration pointing at them."""

    def __init__(self, people: int = 500, seed: int = 7, world: World | None = None, throttled: bool = True) -> None:
        """`throttled=False` lifts every fake's rate limit: for benchmarks of what comes after the API."""
        self.world = world or build_world(people=people, seed=seed)
        self.throttled = throttled
        self.keys = {vendor: f"sandbox-{vendor}-{secrets.token_hex(8)}" for vendor in VENDORS}
        self.services: dict[str, FakeService] = {}
        self._stack = ExitStack()

    def __enter__(self) -> "Sandbox":
        try:
            for vendor in VENDORS:
                limits = {} if self.throttled else {"rate_limit": None}
                service = vendor_module(vendor).serve(self.world, self.keys[vendor], **limits)
                self.services[vendor] = self._stack.enter_context(service)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for vendor, service in self.services.items():
            env |= vendor_module(vendor).client_env(service, self.keys[vendor])
        return env
