"""One dlt source per vendor; `SOURCES` maps the CLI's source names to their factories."""

from __future__ import annotations

import importlib
from typing import Callable

# source name -> "module:factory"; the factory resolves its own configuration through dlt
SOURCES: dict[str, str] = {
    "mobilize": "pipelines.sources.mobilize:mobilize_source",
    "action_network": "pipelines.sources.action_network:action_network_source",
    "nationbuilder": "pipelines.sources.nationbuilder:nationbuilder_source",
    "controlshift": "pipelines.sources.controlshift:controlshift_source",
}


# a source that commits its progress in steps sets this key of its dlt source state while
# work remains; the runner runs it again until it is cleared (see runner.sync_source)
UNFINISHED = "unfinished"


def source_factory(name: str) -> Callable[..., object]:
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
    module, attribute = SOURCES[name].split(":")
    return getattr(importlib.import_module(module), attribute)
