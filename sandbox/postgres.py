"""A throwaway PostgreSQL server on 127.0.0.1: what the tests, the bench and `make demo` run the
Postgres engine on when nobody gave them a server.

It is a real server (Debian's `postgresql` package, found on PATH or in /usr/lib/postgresql):
`initdb` into a folder, `pg_ctl start` on a free loopback port, password authentication over TCP
for one superuser, `warehouse`. PostgreSQL refuses to run as root, so as root the cluster belongs
to the `postgres` account the Debian package creates.

A cluster that lives only as long as its process (tests, bench) also skips the disk flushes a
real server needs (`fsync=off`): a crash loses it, which is all a throwaway cluster may lose.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "warehouse"
DATABASE = "warehouse"
# the binaries of the newest installed major version when they are not on PATH (Debian keeps
# them in /usr/lib/postgresql/<major>/bin and puts only the client programs on PATH)
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"


class PostgresUnavailable(RuntimeError):
    """This machine cannot run a PostgreSQL server (the package is missing, or no account may run it)."""


def server_binaries() -> Path:
    """The folder holding `initdb` and `pg_ctl`."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    installed = sorted(glob.glob(DEBIAN_BINARIES), key=lambda folder: int(Path(folder).parent.name))
    if installed and Path(installed[-1], "initdb").exists():
        return Path(installed[-1])
    raise PostgresUnavailable("PostgreSQL's server programs (initdb, pg_ctl) are not installed: "
                              "apt-get install postgresql (make test does when it may)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LocalPostgres:
    """One cluster in `folder` (its data and its socket); `url` reaches its `warehouse` database."""

    folder: Path
    port: int
    password: str

    @property
    def url(self) -> str:
        return self.database_url(DATABASE)

    def database_url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{database}"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def create_database(self, name: str) -> str:
        """A new empty database (one per test keeps tests apart); its URL."""
        import psycopg2  # noqa: PLC0415 - the Postgres driver is only needed with a server
        from psycopg2 import sql  # noqa: PLC0415

        con = psycopg2.connect(self.database_url("postgres"))  # the maintenance database every cluster has
        try:
            con.autocommit = True  # create database refuses to run inside a transaction
            with con.cursor() as cursor:
                cursor.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        finally:
            con.close()
        return self.database_url(name)

    def stop(self) -> None:
        _as_owner([str(server_binaries() / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-s"],
                  self.folder, check=False)


def _owner() -> pwd.struct_passwd | None:
    """The account the server runs as: ours, or `postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("PostgreSQL will not run as root and there is no `postgres` account "
                                  "(the Debian package creates it)") from None


def _as_owner(command: list[str], folder: Path, check: bool = True) -> subprocess.CompletedProcess:
    owner = _owner()
    if owner is not None:
        command = ["runuser", "-u", owner.pw_name, "--", *command]
    return subprocess.run(command, cwd=folder, check=check, capture_output=True, text=True)


def start(folder: Path | None = None, durable: bool = False) -> LocalPostgres:
    """A new cluster in `folder` (a new temporary folder when None), started; `durable` keeps fsync on."""
    binaries = server_binaries()
    folder = Path(folder or tempfile.mkdtemp(prefix="warehouse-postgres-"))
    folder.mkdir(parents=True, exist_ok=True)
    owner = _owner()
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    folder.chmod(0o700)
    password = secrets.token_urlsafe(16)
    password_file = folder / "password"
    password_file.write_text(password)
    if owner is not None:
        os.chown(password_file, owner.pw_uid, owner.pw_gid)
    try:
        _as_owner([str(binaries / "initdb"), "-D", str(folder / "data"), "--username", SUPERUSER,
                   "--pwfile", str(password_file), "--auth-host", "scram-sha-256", "--auth-local", "peer",
                   "--encoding", "UTF8", "--locale", "C", "--no-sync"], folder)
    except subprocess.CalledProcessError as failed:
        raise PostgresUnavailable(f"initdb failed: {failed.stderr.strip()[-400:]}") from None
    finally:
        password_file.unlink()
    server = LocalPostgres(folder, _free_port(), password)
    options = (f"-p {server.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} "
               "-c max_connections=60 -c shared_buffers=256MB")
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    started = _as_owner([str(binaries / "pg_ctl"), "start", "-D", str(server.data), "-w", "-t", "60", "-s",
                         "-l", str(folder / "server.log"), "-o", options], folder, check=False)
    if started.returncode != 0:
        log = (folder / "server.log").read_text(errors="replace")[-600:] if (folder / "server.log").exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()} {log}".strip())
    server.create_database(DATABASE)
    return server


def discard(server: LocalPostgres) -> None:
    """Stops the server and deletes its folder."""
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)
