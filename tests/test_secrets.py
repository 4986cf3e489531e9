"""Known secrets go through every failure path; none may appear in output or on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import REPO_ROOT
from pipelines.redact import MASK, redact, secret_values
from sandbox import Sandbox
from pipelines.sources import SOURCES

pytestmark = pytest.mark.integration

# fast failure: few attempts, short backoff
IMPATIENT = {f"SOURCES__{name.upper()}__{key}": value for name in SOURCES
             for key, value in (("MAX_ATTEMPTS", "2"), ("BACKOFF_FACTOR", "0.01"), ("MAX_RETRY_DELAY", "0.1"))}


def test_secret_values_come_from_credential_variables_and_the_secrets_file(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('[sources.nationbuilder]\naccess_token = "nb-token-123456"\nbase_url = "https://x.org"\n')
    environ = {"SOURCES__MOBILIZE__API_KEY": "mob-key-abcdef", "SOURCES__MOBILIZE__ORGANIZATION_ID": "1234567",
               "AWS_SECRET_ACCESS_KEY": "aws-secret-xyz", "SHORT_TOKEN": "abc"}
    assert secret_values(environ, secrets_file) == {"nb-token-123456", "mob-key-abcdef", "aws-secret-xyz"}
    assert redact("GET /people?access_token=nb-token-123456 failed", {"nb-token-123456"}) == \
        f"GET /people?access_token={MASK} failed"


def _sync_output(env: dict[str, str], warehouse: Path) -> tuple[int, str]:
    finished = subprocess.run([sys.executable, "-m", "pipelines", "sync", "--no-transform"],
                              env={**env, "WAREHOUSE_PATH": str(warehouse)}, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300)
    return finished.returncode, finished.stdout + finished.stderr


def _files_containing(folder: Path, secrets: set[str]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path}" for secret in secrets if secret.encode() in content]
    return found


FAILURES = {
    "server errors": {"error_rate": 1.0},
    "a 429 storm": {"storm_429": 10_000},
    "truncated bodies": {"truncate_rate": 1.0},
}


@pytest.mark.parametrize("failure", [*FAILURES, "refused credentials", "connection refused"])
def test_no_failure_path_prints_or_stores_a_secret(failure: str, tmp_path: Path) -> None:
    with Sandbox(people=60, seed=3) as sandbox:
        env = {**os.environ, **sandbox.env(), **IMPATIENT}
        secrets = set(sandbox.keys.values())
        if failure == "refused credentials":
            for name, value in list(env.items()):
                if value in secrets:
                    env[name] = f"wrong-{value}"
                    secrets.add(env[name])
        elif failure == "connection refused":
            # a credential can end up in a URL (NationBuilder's access_token does): put one in every URL
            for name, value in list(env.items()):
                if name.endswith("__BASE_URL"):
                    env[name] = f"http://127.0.0.1:9/{next(iter(secrets))}/v1"
        else:
            for service in sandbox.services.values():
                for fault, setting in FAILURES[failure].items():
                    setattr(service.faults, fault, setting)
        code, output = _sync_output(env, tmp_path / "warehouse.duckdb")
    assert code != 0 and "failed" in output, output
    leaked = [secret for secret in secrets if secret in output]
    assert not leaked, f"secret printed on {failure}:\n{output}"
    assert not _files_containing(tmp_path, secrets), "a secret was written beside the warehouse"
