"""NationBuilder's expiring tokens, driven as users drive them: `python -m pipelines sync` and
`nationbuilder-auth` in their own processes against a fake nation whose access tokens expire after
10 requests and whose refresh tokens are single use."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
import requests

from pipelines import REPO_ROOT
from pipelines.runner import sync
from sandbox import nationbuilder as nb
from pipelines.sources.http import HttpPolicy
from pipelines.sources.nationbuilder import rotating_tokens, token_store_path
from tests.conftest import query

pytestmark = pytest.mark.integration

LEGACY = "legacy-nation-token-0123456789"


def _env(service, warehouse: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any vendor settings, pointed at the fake nation."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SOURCES__")}
    env.update(nb.client_env(service, LEGACY), WAREHOUSE_PATH=str(warehouse), PYTHONUNBUFFERED="1",
               SOURCES__NATIONBUILDER__REQUESTS_PER_SECOND="1000")
    env.update({f"SOURCES__NATIONBUILDER__{key.upper()}": value for key, value in settings.items()})
    return env


def _pipelines(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)


def _sync_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pipelines", "sync", "nationbuilder", "--no-transform", *extra]


def _loaded_ids(warehouse: Path) -> list[int]:
    return [i for (i,) in query(warehouse, "select id from nationbuilder.people order by id")]


def _store(warehouse: Path) -> Path:
    return token_store_path(warehouse.parent / f".{warehouse.stem}.dlt")


def _every_token(service) -> set[str]:
    oauth = service.handler.oauth
    return {LEGACY, oauth.client_secret} | {t for pair in oauth.issued for t in (pair.access_token, pair.refresh_token)}


def _where_tokens_are(folder: Path, warehouse: Path, tokens: set[str], outputs: list[str]) -> list[str]:
    """Every output, file (the token store aside) and warehouse value that holds one of `tokens`."""
    found = [f"output {n}" for n, text in enumerate(outputs) for token in tokens if token in text]
    store = _store(warehouse)
    for path in folder.rglob("*"):
        if path.is_file() and path.parent != store.parent:
            content = path.read_bytes()
            found += [str(path) for token in tokens if token.encode() in content]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            text = str(con.execute(f'select * from "{schema}"."{table}"').fetchall())
            found += [f"{schema}.{table}" for token in tokens if token in text]
    return found


@pytest.fixture(scope="module")
def big_nation():
    return nb.nation(3000)


def test_full_then_incremental_sync_in_new_processes_refresh_and_load_everyone(big_nation, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with nb.serve(big_nation, LEGACY, access_token_requests=10) as api:
        # a refresh token the app was granted: single use, so only the stored pair can carry on
        env = _env(api, warehouse, refresh_token=api.handler.oauth.grant().refresh_token)
        log = ["--log-file", str(tmp_path / "logs" / "sync.log")]
        full = _pipelines(env, *log, "sync", "nationbuilder", "--no-transform")
        assert full.returncode == 0, full.stdout + full.stderr
        assert _loaded_ids(warehouse) == sorted(big_nation.vendors["nationbuilder"].people) and len(
            _loaded_ids(warehouse)) == 3000
        assert api.count(status=401) >= 3, "the access tokens expired mid-sync and were refreshed"
        nb.edit(big_nation, 50)
        incremental = _pipelines(env, *log, "sync", "nationbuilder", "--no-transform")
        assert incremental.returncode == 0, incremental.stdout + incremental.stderr
        assert "loaded — 50 rows" in incremental.stdout, incremental.stdout
        assert len(_loaded_ids(warehouse)) == 3000
        issued = api.handler.oauth.issued
        assert api.count(status=400, path_prefix="/oauth/token") == 0, "no refresh token was ever lost"
        assert all(pair.revoked for pair in issued[:-1]) and not issued[-1].revoked
        assert oct(_store(warehouse).stat().st_mode & 0o777) == "0o600"
        leaks = _where_tokens_are(tmp_path, warehouse, _every_token(api),
                                  [full.stdout, full.stderr, incremental.stdout, incremental.stderr])
    assert not leaks, f"a token appears in {leaks}"


def _kill_after_refresh(env: dict[str, str], api, refresh: int, rng: random.Random) -> bool:
    """Starts a full re-sync and SIGKILLs it just after its `refresh`-th new access token is first used
    (so: after the client had the new pair). False if the run ended before that."""
    oauth = api.handler.oauth
    before = len(oauth.issued)
    process = subprocess.Popen(_sync_command("--full-refresh"), env=env, cwd=REPO_ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None:
            pairs = oauth.issued[before:]
            if len(pairs) >= refresh and oauth.uses.get(pairs[refresh - 1].access_token):
                time.sleep(rng.uniform(0, 0.01))
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.001)
        return False
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_sync_killed_right_after_a_refresh_leaves_a_refresh_token_the_next_sync_can_use(tmp_path: Path) -> None:
    rng = random.Random(16)
    world = nb.nation(300)
    warehouse = tmp_path / "warehouse.duckdb"
    with nb.serve(world, LEGACY, access_token_requests=10) as api:
        # 31 requests a run at 10 pages a request: a refresh before the sync and three mid-way
        env = _env(api, warehouse, refresh_token=api.handler.oauth.grant().refresh_token, limit="10",
                   requests_per_second="150")
        kills = attempts = 0
        while kills < 10 and attempts < 20:
            attempts += 1
            kills += _kill_after_refresh(env, api, rng.randint(1, 4), rng)
        finished = subprocess.run(_sync_command(), env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=300)
        refused = api.count(status=400, path_prefix="/oauth/token")
    assert kills == 10, "syncs kept finishing before their kill: the test no longer tests anything"
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert refused == 0, "a refresh token was lost to a kill"
    assert _loaded_ids(warehouse) == sorted(world.vendors["nationbuilder"].people)


def _authorize(env: dict[str, str], paste: bool) -> subprocess.CompletedProcess:
    """Runs nationbuilder-auth and plays the nation admin: opens the printed address and approves."""
    command = [sys.executable, "-m", "pipelines", "nationbuilder-auth", "--port", "0", *(["--paste"] if paste else [])]
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "/oauth/authorize?" in line:
            approved = requests.get(line.strip(), allow_redirects=not paste, timeout=10)
            if paste:
                process.stdin.write(approved.headers["Location"] + "\n")
                process.stdin.flush()
            else:
                assert approved.status_code == 200 and "authorized" in approved.text
    return subprocess.CompletedProcess(command, process.wait(timeout=60), "".join(lines), "")


@pytest.mark.parametrize("paste", [False, True], ids=["redirect", "pasted"])
def test_nationbuilder_auth_stores_a_pair_the_next_sync_uses(paste: bool, tmp_path: Path) -> None:
    world = nb.nation(120)
    warehouse = tmp_path / "warehouse.duckdb"
    with nb.serve(world, LEGACY) as api:
        env = _env(api, warehouse)
        del env["SOURCES__NATIONBUILDER__REFRESH_TOKEN"]
        authorized = _authorize(env, paste)
        assert authorized.returncode == 0, authorized.stdout
        assert f"stored a new token pair in {_store(warehouse)}" in authorized.stdout
        assert oct(_store(warehouse).stat().st_mode & 0o777) == "0o600"
        synced = _pipelines(env, "sync", "nationbuilder", "--no-transform")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert [p.refresh_token for p in api.handler.oauth.issued[:1]] and api.handler.oauth.issued[0].revoked
        leaks = _where_tokens_are(tmp_path, warehouse, _every_token(api), [authorized.stdout, synced.stdout])
    assert _loaded_ids(warehouse) == sorted(world.vendors["nationbuilder"].people)
    assert not leaks, f"a token appears in {leaks}"


def test_nationbuilder_auth_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = os.environ | {"SOURCES__NATIONBUILDER__BASE_URL": "http://127.0.0.1:1/api/v1",
                            "SOURCES__NATIONBUILDER__CLIENT_ID": "app", "SOURCES__NATIONBUILDER__CLIENT_SECRET": "s",
                            "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb")}
        refused = subprocess.run([sys.executable, "-m", "pipelines", "nationbuilder-auth", "--port", str(port)],
                                 env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr


def test_nationbuilder_auth_refuses_a_redirect_with_another_state(tmp_path: Path) -> None:
    from pipelines.nationbuilder_auth import AuthorizationFailed, code_from

    assert code_from("http://127.0.0.1:1/callback?code=abc&state=s1", "s1") == "abc"
    assert code_from("  abc \n", "s1") == "abc"
    with pytest.raises(AuthorizationFailed, match="state"):
        code_from("http://127.0.0.1:1/callback?code=abc&state=forged", "s1")
    with pytest.raises(AuthorizationFailed, match="access_denied"):
        code_from("http://127.0.0.1:1/callback?error=access_denied&state=s1", "s1")


def test_two_holders_of_a_refused_token_refresh_it_once(tmp_path: Path) -> None:
    """Two processes (here: two token sources, each with its own lock file handle) whose token expired
    together: one refreshes, the other takes the stored pair; a second refresh would spend the
    rotated refresh token twice."""
    world = nb.nation(30)
    with nb.serve(world, LEGACY) as api:
        oauth = api.handler.oauth
        settings = (f"{api.url}{nb.API_PREFIX}", oauth.client_id, oauth.client_secret, oauth.grant().refresh_token,
                    None, str(tmp_path / "tokens.json"), HttpPolicy(max_attempts=1))
        first, second = rotating_tokens(*settings), rotating_tokens(*settings)
        expired = first.current()
        issued = len(oauth.issued)
        start = threading.Barrier(2)
        renewed: list[str] = []

        def renew(tokens) -> None:  # noqa: ANN001
            start.wait()
            renewed.append(tokens.renew(expired))

        threads = [threading.Thread(target=renew, args=(tokens,)) for tokens in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(oauth.issued) == issued + 1 and renewed == [oauth.issued[-1].access_token] * 2


def test_a_legacy_token_still_syncs_in_the_header_or_as_a_query_parameter(tmp_path: Path, monkeypatch) -> None:
    world = nb.nation(40)
    for accepts_bearer in (True, False):
        warehouse = tmp_path / f"bearer_{accepts_bearer}.duckdb"
        with nb.serve(world, LEGACY, accepts_bearer=accepts_bearer) as api:
            env = _env(api, warehouse, access_token=LEGACY)
            for key in [k for k in os.environ if k.startswith("SOURCES__")]:
                monkeypatch.delenv(key)
            for key, value in env.items():
                if key.startswith("SOURCES__") and "CLIENT" not in key and "REFRESH" not in key:
                    monkeypatch.setenv(key, value)
            [result] = sync(["nationbuilder"], warehouse, echo=lambda _: None)
            in_query = [("access_token=" in r.query) for r in api.requests]
        assert result.status == "loaded", result.message
        assert _loaded_ids(warehouse) == sorted(world.vendors["nationbuilder"].people)
        # the header first; the query form only once the nation refused the header (one 401)
        assert in_query == ([False] * len(in_query) if accepts_bearer else [False, *[True] * (len(in_query) - 1)])


@pytest.mark.parametrize("base_url, token_url", [
    ("https://mynation.nationbuilder.com/api/v1", "https://mynation.nationbuilder.com/oauth/token"),
    ("https://proxy.example/nb/api/v1/", "https://proxy.example/nb/oauth/token"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/oauth/token"),
])
def test_the_token_endpoint_defaults_to_the_nations_own(base_url: str, token_url: str) -> None:
    from pipelines.sources.nationbuilder import default_token_url

    assert default_token_url(base_url) == token_url
