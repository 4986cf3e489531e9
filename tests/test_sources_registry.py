"""The source registry keeps docs/adding-a-source.md true: every entry has each file the guide lists."""

from __future__ import annotations

import importlib
import tomllib

import pytest
import yaml

from pipelines import REPO_ROOT
from pipelines.sources import API, BULK, SOURCES
from sandbox.world import VENDORS

CONFIG = tomllib.loads((REPO_ROOT / ".dlt" / "config.toml").read_text())
SECRETS_EXAMPLE = tomllib.loads((REPO_ROOT / ".dlt" / "secrets.toml.example").read_text())
DBT_PROJECT = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())


@pytest.mark.parametrize("name", SOURCES)
def test_every_source_has_the_files_the_guide_lists(name):
    source = SOURCES[name]
    assert source.name == name and source.kind in (API, BULK)
    assert callable(source.build())
    assert name in CONFIG["sources"], f".dlt/config.toml has no [sources.{name}]"
    assert "stale_after_hours" in CONFIG["status"].get(name, {}), f".dlt/config.toml has no [status.{name}]"
    assert name in SECRETS_EXAMPLE["sources"], f".dlt/secrets.toml.example has no [sources.{name}]"
    fake = importlib.import_module(source.sandbox_fake)
    assert all(callable(getattr(fake, hook, None)) for hook in ("generate", "advance", "serve", "client_env"))
    staging = REPO_ROOT / "dbt_project" / "models" / "staging" / name
    assert (staging / f"_{name}__sources.yml").exists() and list(staging.glob(f"stg_{name}__*.sql"))
    freshness = DBT_PROJECT["sources"]["organizing_warehouse"]["staging"][name]["+freshness"]
    assert f"get('{name}')" in freshness["error_after"]["count"]


def test_the_sandbox_fakes_every_registered_source_in_its_order():
    assert VENDORS == tuple(SOURCES)
