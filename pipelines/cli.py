"""`python -m pipelines …`: sync, transform, demo, sandbox, status, schedule, freshness, sql, export, report.

Every command is defined here, once: its arguments in `parser()` and its body in a `cmd_*`
function (or, for `sql`, `sqlshell.main`). Each is also a make target. What the commands share
lives in the modules below this one, which never import it back (tests/test_layers.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from unittest import mock

import duckdb

from pipelines import REPO_ROOT, output, postgres, report, sqlshell, status
from pipelines.output import unreadable
from pipelines.redact import redact_process_output
from pipelines.runner import SyncResult, dbt, sync, transform
from pipelines.schedule import cron_lines
from pipelines.sources import SOURCES
from pipelines.runlog import runlog_path
from pipelines.summary import demo_summary, finish_sync
from pipelines.warehouse import (POSTGRES_CREDENTIALS, WarehouseBusy, WarehouseError, WarehouseMissing, export_marts,
                                  loaded_schemas, marts_location, pipelines_dir, postgres_credentials, postgres_url,
                                  warehouse_engine, warehouse_path, writer_lock)

SANDBOX_DATA = REPO_ROOT / "sandbox_data"
# what cron and shell scripts see when another run holds the warehouse (sysexits' EX_TEMPFAIL)
EXIT_BUSY = 75
# a table marking a warehouse as the demo's own, so the demo never overwrites real data
DEMO_MARKER = "main.sandbox_demo"
# what a shell reports for a command killed by SIGPIPE (128 + 13), as `head` leaves its writer
EXIT_BROKEN_PIPE = 141


def _print(message: str) -> None:
    output.current().info(message)


# above this many people the demo takes minutes (the world is built and served over HTTP)
DEMO_SLOW_PEOPLE = 10_000


def cmd_sync(args: argparse.Namespace) -> int:
    out = output.current()
    unknown = [name for name in args.sources if name not in SOURCES]
    if unknown:
        out.error(f"unknown source {', '.join(unknown)}; choose from {', '.join(SOURCES)}")
        return 2
    warehouse = warehouse_path()
    with writer_lock(warehouse, args.wait):
        with out.progress("syncing") as update:
            def echo(message: str) -> None:
                update(message)
                _print(message)

            results = sync(args.sources or None, warehouse, progress=args.progress or out.verbose, echo=echo,
                           refresh="drop_sources" if args.full_refresh else None)
        if args.sources:
            results = [named_but_unconfigured(r) for r in results]
        transform_code = None
        if not args.no_transform and any(r.status == "loaded" for r in results):
            _print("transform: building the marts (dbt build)")
            transform_code = transform(warehouse)
    return finish_sync(results, transform_code, warehouse)


def named_but_unconfigured(result: SyncResult) -> SyncResult:
    """A source the user asked for by name that cannot run is an error, not a skip (cron runs --quiet)."""
    if result.status != "skipped":
        return result
    return replace(result, status="failed", message=f"named on the command line but {result.message}")


def cmd_transform(args: argparse.Namespace) -> int:
    with writer_lock(warehouse_path(), args.wait):
        return transform()


def _start_demo_warehouse(warehouse: Path, people: int, seed: int) -> bool:
    """Removes the previous demo's warehouse and run log; refuses to touch any other warehouse.

    The run log goes too: against a previous demo's row counts, a smaller or other world would look
    like tables that lost their rows, and the transform would refuse to build the marts.
    """
    if warehouse_engine() == "postgres":
        if not _start_demo_database(people, seed):
            return False
        # dlt's local state of an earlier demo would hold cursors past the rows this database has
        runlog_path(warehouse).unlink(missing_ok=True)
        shutil.rmtree(pipelines_dir(warehouse), ignore_errors=True)
        return True
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as con:
            is_demo = con.execute(
                "select count(*) from information_schema.tables where table_schema || '.' || table_name = ?",
                [DEMO_MARKER]).fetchone()[0]
        if not is_demo:
            _print(f"demo: {warehouse} holds data that is not the demo's; it stays untouched. "
                   "Point WAREHOUSE_PATH at another file for the demo.")
            return False
        warehouse.unlink()
        runlog_path(warehouse).unlink(missing_ok=True)
        shutil.rmtree(pipelines_dir(warehouse), ignore_errors=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create table {DEMO_MARKER} as select ? as people, ? as seed, now() as created_at", [people, seed])
    return True


def _start_demo_database(people: int, seed: int) -> bool:
    """On Postgres: drops the schemas an earlier demo made (raw, dbt's) and marks the database as the demo's.

    A database holding tables without the demo's marker is someone's data: it stays untouched.
    """
    url = postgres_url()
    schema, table = DEMO_MARKER.split(".")
    if postgres.has_tables(url) and not postgres.has_table(url, schema, table):
        _print(f"demo: {postgres.describe(url)} holds data that is not the demo's; it stays untouched. "
               f"Point {POSTGRES_CREDENTIALS} at an empty database for the demo, or unset it to run a local server.")
        return False
    dropped = postgres.drop_schemas(url)
    if dropped:
        _print(f"demo: replacing the earlier demo's schemas ({', '.join(dropped)})")
    postgres.create_marker(url, schema, table, people, seed)
    return True


DEMO_POSTGRES_URL = "demo_url"


def _demo_postgres(warehouse: Path) -> Path | None:
    """The demo's server on Postgres: the one `DESTINATION__POSTGRES__CREDENTIALS` names, else a local
    cluster in `.<warehouse>.postgres/` beside the warehouse, left running after the demo (an earlier
    demo's, when it is still up). Returns the local cluster's folder, or None for a configured server."""
    try:
        postgres_credentials()
        return None
    except ValueError:
        pass
    folder = warehouse.parent / f".{warehouse.stem}.postgres"
    saved = folder / DEMO_POSTGRES_URL
    url = saved.read_text().strip() if saved.exists() else ""
    if not (url and postgres.reachable(url)):
        local = _sandbox_postgres()
        if folder.exists():  # an earlier demo's cluster, stopped (a reboot): its data goes, as a re-run replaces it
            local.discard(local.LocalPostgres(folder, 0, ""))
        _print(f"demo: starting a local Postgres server in {folder}")
        try:
            url = local.start(folder=folder, durable=True).url
        except local.PostgresUnavailable as unavailable:
            owner = (f" (as root the server runs as the postgres account, which must be able to reach {folder})"
                     if os.geteuid() == 0 else "")
            raise WarehouseError(f"no local Postgres server for the demo: {unavailable}{owner}; or set "
                                 f"{POSTGRES_CREDENTIALS} to a server's empty database") from None
        saved.write_text(url)
        saved.chmod(0o600)
    os.environ[POSTGRES_CREDENTIALS] = url
    return folder


def _sandbox_postgres():  # noqa: ANN202 - the sandbox's module
    _sandbox_class()  # puts the checkout's sandbox on the path, or says how to get it
    from sandbox import postgres as local

    return local


def _stop_instructions(folder: Path) -> str:
    pg_ctl = _sandbox_postgres().server_binaries() / "pg_ctl"
    command = f"{pg_ctl} -D {folder / 'data'} stop"
    if os.geteuid() == 0:
        command = f"runuser -u postgres -- {command}"
    # the output masks every credential: the file beside the cluster has the URL whole, owner-only
    return (f"The demo's Postgres server keeps running: {postgres.without_password(postgres_url())} (the URL with "
            f"its password: {folder / DEMO_POSTGRES_URL}). Stop it with: {command}")


def _sandbox_class() -> type:
    """The fake vendors live beside the package in a checkout (`sandbox/`), not in what pip installs."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    try:
        from sandbox import Sandbox
    except ModuleNotFoundError as error:
        raise SystemExit(f"the sandbox runs from a git checkout with the sandbox extra (pip install -e '.[sandbox]'): "
                         f"{error}") from None
    return Sandbox


def cmd_demo(args: argparse.Namespace) -> int:
    if args.people > DEMO_SLOW_PEOPLE or args.rate_limits:
        output.current().warn(
            f"demo: {args.people:,} people" + (" at the vendors' rate limits (Action Network: 4 requests/s)"
                                               if args.rate_limits else "")
            + " takes minutes; a smaller PEOPLE= shows the same in less time")
    warehouse = warehouse_path()
    if warehouse_engine() != "postgres":
        return _demo(args, warehouse)
    local_server = _demo_postgres(warehouse)
    try:
        return _demo(args, warehouse)
    finally:
        if local_server is not None:
            _print(_stop_instructions(local_server))


def _demo(args: argparse.Namespace, warehouse: Path) -> int:
    """sandbox -> sync -> marts -> summary, into the demo's own warehouse."""
    Sandbox = _sandbox_class()
    with writer_lock(warehouse, args.wait):
        if not _start_demo_warehouse(warehouse, args.people, args.seed):
            return 1
        _print(f"demo: generating a sandbox world of {args.people:,} people (seed {args.seed})")
        with Sandbox(people=args.people, seed=args.seed, throttled=args.rate_limits) as sandbox:
            sandbox.world.write_truth(SANDBOX_DATA / "truth.csv")
            os.environ.update(sandbox.env())
            redact_process_output()
            _print(f"demo: fake vendor APIs on {', '.join(s.url for s in sandbox.services.values())}")
            results = sync(None, warehouse, progress=output.current().verbose, echo=_print)
        if any(r.status == "failed" for r in results):
            return finish_sync(results, None, warehouse)
        _print("demo: building the marts (dbt build)")
        # dbt's line per model and test would bury the result; errors still print (--verbose: all)
        with mock.patch.dict(os.environ, {} if output.current().verbose else {"DBT_QUIET": "true"}):
            built = transform(warehouse)
        code = finish_sync(results, built, warehouse)
        if code != 0:
            return code
    _print(demo_summary(warehouse))
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    Sandbox = _sandbox_class()

    with Sandbox(people=args.people, seed=args.seed, throttled=not args.no_rate_limits) as sandbox:
        sandbox.world.write_truth(SANDBOX_DATA / "truth.csv")
        _print("Sandbox running. Point the pipeline at it with:")
        for key, value in sandbox.env().items():
            _print(f"  export {key}={value}")
        _print("Ctrl-C stops it.")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_controlshift_webhook(args: argparse.Namespace) -> int:
    from dlt.common.configuration.exceptions import ConfigFieldMissingException

    from pipelines.sources.controlshift.webhook import configured_app, make_receiver_server

    try:
        app = configured_app(warehouse_path())
    except ConfigFieldMissingException:
        _print("controlshift-webhook: set SOURCES__CONTROLSHIFT__WEBHOOK_SECRET (the endpoint's signing secret "
               "from ControlShift's Settings > Integrations > Webhooks)")
        return 2
    server = make_receiver_server(app, args.host, args.port)
    _print(f"controlshift-webhook: listening on http://{args.host}:{server.server_port}/, queueing into {app.queue_dir}")
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_nationbuilder_auth(args: argparse.Namespace) -> int:
    from pipelines.nationbuilder_auth import run

    return run(args.port, args.paste, args.redirect_uri, _print)


def cmd_status(args: argparse.Namespace) -> int:
    out = output.current()
    result = status.collect(warehouse_path())
    if args.json:
        print(result.to_json())
    elif not out.quiet or result.alerting:
        # quiet and healthy prints nothing, so cron mails only when something is wrong
        status.render(result, out.console, verbose=out.verbose)
    return 1 if result.alerting else 0


def cmd_schedule(args: argparse.Namespace) -> int:
    print("\n".join(cron_lines()))
    return 0


def cmd_freshness(args: argparse.Namespace) -> int:
    """dbt source freshness, erroring past each source's `stale_after_hours` (the thresholds `status` uses)."""
    out = output.current()
    warehouse = warehouse_path()
    # dbt opens the warehouse read-write: a sync must not find it taken at its snapshot publish
    with writer_lock(warehouse, args.wait):
        try:
            synced = loaded_schemas(warehouse, SOURCES)
        except WarehouseError as error:
            out.error(unreadable("freshness", warehouse, error))
            return 1
        for source in SOURCES:
            if source not in synced:
                out.info(f"{source}: never synced, no freshness to check")
        if not synced:
            return 0
        selection = " ".join(f"source:{source}" for source in synced)
        thresholds = json.dumps({"stale_after_hours": {source: status.stale_after_hours(source) for source in synced}})
        return dbt("source", "freshness", "--select", selection, "--vars", thresholds, warehouse=warehouse,
                   check=False).returncode


def cmd_docs(args: argparse.Namespace) -> int:
    """dbt docs generate, under the writer lock: dbt reads the catalog from the warehouse read-write."""
    warehouse = warehouse_path()
    with writer_lock(warehouse, args.wait):
        code = dbt("docs", "generate", warehouse=warehouse, check=False).returncode
    if code == 0:
        output.current().info("docs: dbt_project/target/index.html (make docs-serve to browse)")
    return code


def cmd_export(args: argparse.Namespace) -> int:
    out = output.current()
    warehouse = warehouse_path()
    try:
        written = export_marts(warehouse)
    except WarehouseMissing:
        out.error(f"no warehouse at {warehouse}: run `make sync` (or `make demo`) first")
        return 1
    except WarehouseError as error:
        out.error(unreadable("export", marts_location(warehouse), error))
        return 1
    if not written:
        out.error(f"{marts_location(warehouse)} has no marts (schema analytics): run `make transform` first")
        return 1
    for mart, path in written.items():
        out.info(f"{mart}: {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    output.current().info(f"report: {report.write(warehouse_path())}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__, parents=[_common(True)])
    commands = root.add_subparsers(dest="command", required=True)
    common = _common(False)

    sync_cmd = commands.add_parser("sync", parents=[common], help="sync sources into the warehouse, then build the marts")
    sync_cmd.add_argument("sources", nargs="*", metavar="SOURCE",
                          help=f"any of: {', '.join(SOURCES)} (default: all configured)")
    sync_cmd.add_argument("--no-transform", action="store_true", help="skip dbt build afterwards")
    sync_cmd.add_argument("--progress", action="store_true", help="log dlt progress every few seconds")
    sync_cmd.add_argument("--full-refresh", action="store_true",
                          help="forget each source's cursors and load everything again, replacing each table in one transaction")
    sync_cmd.set_defaults(run=cmd_sync)

    transform_cmd = commands.add_parser("transform", parents=[common],
                                        help="dbt build on the warehouse, then publish the marts")
    transform_cmd.set_defaults(run=cmd_transform)
    status_cmd = commands.add_parser("status", parents=[common],
                                     help="per source: last success, rows, cursors, freshness, last error")
    status_cmd.add_argument("--json", action="store_true", help="machine-readable output")
    status_cmd.set_defaults(run=cmd_status)
    for name, run, help_text in (
            ("schedule", cmd_schedule, "print crontab lines for this checkout"),
            ("freshness", cmd_freshness, "dbt source freshness on every synced raw table"),
            ("docs", cmd_docs, "build the dbt docs site (dbt docs generate)"),
            ("export", cmd_export, "write the marts as exports/<mart>.parquet"),
            ("report", cmd_report, "write reports/latest.html from the warehouse")):
        commands.add_parser(name, parents=[common], help=help_text).set_defaults(run=run)
    sql_cmd = commands.add_parser("sql", parents=[common], help="a read-only SQL shell on the marts")
    sql_cmd.add_argument("-c", "--command", dest="sql", help="run this SQL and exit")
    sql_cmd.add_argument("--database", type=Path, help="DuckDB file (default: the marts snapshot)")
    sql_cmd.add_argument("--csv", action="store_true", help="results as CSV with a header line (as .mode csv)")
    sql_cmd.set_defaults(run=sqlshell.main)

    for name, run, help_text in (("demo", cmd_demo, "sandbox → sync → marts → summary"),
                                 ("sandbox", cmd_sandbox, "serve the fake vendors until stopped")):
        command = commands.add_parser(name, parents=[common], help=help_text, description=help_text,
                                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        command.add_argument("--people", type=int, default=2000, help="size of the synthetic world")
        command.add_argument("--seed", type=int, default=7, help="the world's random seed")
        command.set_defaults(run=run)
    commands.choices["demo"].add_argument(
        "--rate-limits", action="store_true",
        help="serve the fakes at their vendors' rate limits (slower: Action Network allows 4 requests/s)")
    commands.choices["demo"].add_argument("--no-rate-limits", dest="rate_limits", action="store_false",
                                          help="serve the fakes unthrottled")
    commands.choices["sandbox"].add_argument(
        "--no-rate-limits", action="store_true",
        help="serve the fakes without their vendors' rate limits (faster, less faithful)")
    # every command that opens the warehouse read-write takes its writer lock
    for writer in (sync_cmd, transform_cmd, *(commands.choices[name] for name in ("demo", "freshness", "docs"))):
        writer.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                            help="if another run holds the warehouse, wait this long for it (0: exit at once)")
    webhook = commands.add_parser("controlshift-webhook",
                                  help="receive ControlShift bulk-data webhooks into the load queue")
    webhook.add_argument("--port", type=int, default=8088, help="port to listen on")
    webhook.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    webhook.set_defaults(run=cmd_controlshift_webhook)
    nb_auth = commands.add_parser("nationbuilder-auth", parents=[common],
                                  help="authorize the app on a nation (OAuth) and store the token pair")
    nb_auth.add_argument("--port", type=int, default=8765, help="local port for NationBuilder's redirect (0: any)")
    nb_auth.add_argument("--redirect-uri", help="the app's OAuth callback URL, if not http://127.0.0.1:PORT/callback")
    nb_auth.add_argument("--paste", action="store_true", help="paste the code instead of receiving the redirect")
    nb_auth.set_defaults(run=cmd_nationbuilder_auth)
    for listed in commands._choices_actions:  # `<command> --help` says what it does, with every default
        command = commands.choices[listed.dest]
        command.description = command.description or listed.help
        command.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    return root


def _common(root: bool) -> argparse.ArgumentParser:
    """--quiet/--verbose/--log-file, accepted before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    default = {} if root else {"default": argparse.SUPPRESS}
    volume = common.add_mutually_exclusive_group()
    volume.add_argument("-q", "--quiet", action="store_true", help="print errors only", **default)
    volume.add_argument("-v", "--verbose", action="store_true", help="print progress and details", **default)
    common.add_argument("--log-file", type=Path, metavar="PATH",
                        help="also log every line to PATH (rotated at 10 MB, 7 kept)", **({"default": None} | default))
    return common


def main(argv: list[str] | None = None) -> int:
    # the warehouse, its snapshot and dlt's state hold people's contact details: owner only
    os.umask(0o077)
    redact_process_output()
    args = parser().parse_args(argv)
    level = output.QUIET if args.quiet else output.VERBOSE if args.verbose else output.NORMAL
    output.configure(level, args.log_file)
    try:
        return args.run(args)
    except WarehouseBusy as busy:
        _print(str(busy))
        return EXIT_BUSY
    except WarehouseError as error:
        output.current().error(f"{args.command}: {error}")
        return 1
    except BrokenPipeError:
        # the reader left (`status --json | head`): stop quietly, and let nothing flush into the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
