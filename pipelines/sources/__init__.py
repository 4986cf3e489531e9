"""The source registry: one entry per vendor, from which everything that lists sources derives.

The CLI (`sync <source>`, `make sync-<source>`), `status`, `freshness`, the schedule, the run
report, the sandbox's fakes and the tests all iterate `SOURCES`; a new vendor is one entry here
plus the files docs/adding-a-source.md lists. Settings and their defaults, the staleness limit
`status` and dbt freshness share among them, live in `.dlt/config.toml` (`[sources.<name>]`,
`[status.<name>]`), never in code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

# a dlt source: the runner runs it through a dlt pipeline
API = "api"
# a source that writes the warehouse itself (`load_into(warehouse)`): ControlShift's bulk files
BULK = "bulk"


@dataclass(frozen=True)
class Source:
    name: str  # the CLI's name, the warehouse schema, the `[sources.<name>]` config section
    factory: str  # "module:function": resolves its own configuration through dlt, imported on first use
    kind: str  # API or BULK
    sandbox_fake: str  # the module under sandbox/ that fakes the vendor (demo, tests; not shipped)

    def build(self) -> Callable[..., object]:
        module, attribute = self.factory.split(":")
        return getattr(importlib.import_module(module), attribute)


SOURCES: dict[str, Source] = {source.name: source for source in (
    Source("mobilize", "pipelines.sources.mobilize:mobilize_source", API, "sandbox.mobilize"),
    Source("action_network", "pipelines.sources.action_network:action_network_source", API,
           "sandbox.action_network"),
    Source("nationbuilder", "pipelines.sources.nationbuilder:nationbuilder_source", API, "sandbox.nationbuilder"),
    Source("controlshift", "pipelines.sources.controlshift:controlshift_source", BULK, "sandbox.controlshift"),
)}


# a source that commits its progress in steps sets this key of its dlt source state while
# work remains; the runner runs it again until it is cleared (see runner.sync_source)
UNFINISHED = "unfinished"


def source_factory(name: str) -> Callable[..., object]:
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
    return SOURCES[name].build()
