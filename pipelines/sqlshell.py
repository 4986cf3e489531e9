"""`make sql`: a small SQL shell on the marts snapshot, read-only, needing nothing but Python.

The `duckdb` wheel has no CLI, and the newest `duckdb-cli` on PyPI (1.5.6) refuses DuckDB 2.0's
files ("database file with version number 69 … can only read versions between 64 and 68"), so
this is the shell: statements end with `;` (they may span lines), results print as
DuckDB's boxes, `.tables` lists tables, `.schema NAME` describes one, `.quit` (or Ctrl-D) leaves.
Piped input runs as a script: `echo "from analytics.people limit 3;" | make sql`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

HELP = """.tables             list schemas and tables
.schema TABLE       columns of a table (e.g. .schema analytics.people)
.quit               leave (or Ctrl-D)
Statements end with ';' and may span lines. The database is opened read-only."""

HISTORY = Path.home() / ".organizing_warehouse_sql_history"


QUIT, OK, ERROR = "quit", "ok", "error"


def run(con: duckdb.DuckDBPyConnection, text: str, write=print) -> str:  # noqa: ANN001
    """Runs one statement or dot-command and prints its result: OK, ERROR or QUIT."""
    text = text.strip().rstrip(";").strip()
    if not text:
        return OK
    if text in (".quit", ".exit", "\\q"):
        return QUIT
    if text == ".help":
        write(HELP)
        return OK
    if text == ".tables":
        text = ("select table_schema as schema, string_agg(table_name, ', ' order by table_name) as tables "
                "from information_schema.tables group by 1 order by 1")
    elif text.startswith(".schema"):
        name = text.split(maxsplit=1)[1] if " " in text else ""
        if not name:
            write("usage: .schema TABLE")
            return ERROR
        text = f"describe {name}"
    try:
        relation = con.sql(text)
    except duckdb.Error as error:
        write(f"Error: {error}")
        return ERROR
    if relation is not None:
        write(relation)
    return OK


def statements(lines) -> list[str]:  # noqa: ANN001 - any iterable of lines
    """Splits a script on ';' at line ends; dot-commands stand alone on their line."""
    found, buffer = [], []
    for line in lines:
        stripped = line.strip()
        if not buffer and stripped.startswith("."):
            found.append(stripped)
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            found.append("\n".join(buffer))
            buffer = []
    if "".join(buffer).strip():
        found.append("\n".join(buffer))
    return found


def interactive(con: duckdb.DuckDBPyConnection, database: Path) -> None:
    try:
        import readline

        readline.set_history_length(1000)
        if HISTORY.exists():
            readline.read_history_file(HISTORY)
    except (ImportError, OSError):
        readline = None  # type: ignore[assignment]
    print(f"Connected read-only to {database}. .help for help, .tables to look around, .quit to leave.")
    buffer: list[str] = []
    try:
        while True:
            try:
                line = input("...> " if buffer else "sql> ")
            except KeyboardInterrupt:
                print()
                buffer = []
                continue
            if not buffer and line.strip().startswith("."):
                if run(con, line) == QUIT:
                    break
                continue
            buffer.append(line)
            if line.strip().endswith(";"):
                if run(con, "\n".join(buffer)) == QUIT:
                    break
                buffer = []
    except EOFError:
        print()
    finally:
        if readline is not None:
            try:
                readline.write_history_file(HISTORY)
            except OSError:
                pass


def main(args: argparse.Namespace) -> int:
    from pipelines.operations import bi_database, unreadable

    database = args.database or bi_database()
    if not database.exists():
        print(f"no database at {database}: run `make demo` or `make sync` first", file=sys.stderr)
        return 1
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        print(unreadable("sql", database, error), file=sys.stderr)
        return 1
    with con:
        if not args.sql and sys.stdin.isatty():
            interactive(con, database)
            return 0
        script = args.sql if args.sql else sys.stdin.read()
        outcomes = []
        for statement in statements(script.splitlines()):
            outcomes.append(run(con, statement))
            if outcomes[-1] == QUIT:
                break
    return 1 if ERROR in outcomes else 0
