"""The README, run the way a newcomer runs it: every `make` command it shows exists, and the
per-source sync it tells users (and their crontabs) to run really syncs.

A target make cannot build, or one it builds by doing nothing (a phony pattern rule answers
"Nothing to be done"), is a broken instruction, however right the code behind it is.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from pipelines import REPO_ROOT
from sandbox import Sandbox
from pipelines.sources import SOURCES
from tests.conftest import query

# `make [-s] target [VAR=value …]` inside inline code or a fenced block
MAKE_COMMAND = re.compile(r"\bmake (?:-s )?([a-z][\w-]*)((?: [A-Z_]+=\S+)*)")


def readme_code() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(fenced + inline)


def documented_make_commands() -> list[tuple[str, ...]]:
    found = {(target, *variables.split()) for target, variables in MAKE_COMMAND.findall(readme_code())}
    return sorted(found)


# the install step every target depends on, which `make test` has just run: a command the tests really
# run leaves it out (--old-file). Left to make, a stamp older than pyproject.toml (after a pull, in a
# fresh worktree) had such a test pip-install the environment the other test workers run from
# (30 s each time, and the editable install repointed under them). Dry runs (-n) still show it.
INSTALLED = ".venv/.installed"


def make(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    installed = [] if "-n" in arguments else ["--old-file", INSTALLED]
    return subprocess.run(["make", "--no-print-directory", *installed, *arguments], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_readme_shows_every_per_source_sync():
    targets = {command[0] for command in documented_make_commands()}
    assert {f"sync-{source}" for source in SOURCES} <= targets


@pytest.mark.parametrize("command", documented_make_commands(), ids=" ".join)
def test_every_documented_make_command_has_a_recipe(command):
    dry_run = make("-n", *command)
    said = dry_run.stdout + dry_run.stderr
    assert dry_run.returncode == 0, said
    assert "Nothing to be done" not in said and "is up to date" not in said, said
    assert said.strip(), "an empty recipe"


def test_an_unknown_source_fails_naming_the_valid_ones():
    attempt = make("sync-salesforce")
    assert attempt.returncode != 0
    assert all(source in attempt.stderr for source in SOURCES), attempt.stderr


@pytest.mark.integration
def test_make_sync_of_each_source_changes_the_warehouse(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with Sandbox(people=200, seed=3, throttled=False) as sandbox:
        env = {key: value for key, value in os.environ.items() if not key.startswith("SOURCES__")}
        env |= sandbox.env() | {"WAREHOUSE_PATH": str(warehouse)}
        for source in SOURCES:
            synced = make(f"sync-{source}", "SYNC_ARGS=--no-transform", env=env)
            assert synced.returncode == 0, synced.stdout + synced.stderr
            [(tables,)] = query(warehouse, f"""
                select count(*) from information_schema.tables
                where table_schema = '{source}' and table_name not like '\\_%' escape '\\'""")
            assert tables > 0, f"make sync-{source} loaded nothing:\n{synced.stdout}"
