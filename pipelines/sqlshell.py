"""`make sql`: a small SQL shell on the marts snapshot, read-only, needing nothing but Python.

The `duckdb` wheel has no CLI, and the newest `duckdb-cli` on PyPI (1.5.6) refuses DuckDB 2.0's
files ("database file with version number 69 … can only read versions between 64 and 68"), so
this is the shell: statements end with `;` (they may span lines), results print as DuckDB's
boxes (a screenful on a terminal; every row and column when piped) or as CSV (`.mode csv`,
`--csv`); `.tables`, `.schema NAME`, `.mode`, `.help`, `.quit` (or Ctrl-D). On a terminal,
Python's `readline` gives line editing and a history kept across sessions.
Piped input runs as a script: `echo "from analytics.people limit 3;" | make sql`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.output import unreadable
from pipelines.warehouse import bi_database

HELP = """.tables             list schemas and tables
.schema TABLE       columns of a table (e.g. .schema analytics.people)
.mode box|csv       results as boxes (default) or CSV with a header line
.quit               leave (or Ctrl-D)
Statements end with ';' and may span lines. The database is opened read-only."""

HISTORY = Path.home() / ".organizing_warehouse_sql_history"
MODES = ("box", "csv")
# "every row and column": DuckDB's box renderer wants numbers, not "no limit"
UNLIMITED = 2**31 - 1

QUIT, OK, ERROR = "quit", "ok", "error"


@dataclass
class Display:
    mode: str = "box"
    full: bool = False  # every row and column (piped output); otherwise a terminal screenful


def show(relation: duckdb.DuckDBPyRelation, display: Display) -> None:
    if display.mode == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(relation.columns)
        writer.writerows(relation.fetchall())
        print(buffer.getvalue(), end="")
    elif display.full:
        relation.show(max_rows=UNLIMITED, max_width=UNLIMITED, max_col_width=UNLIMITED)
    else:
        relation.show()


def dot_command(text: str, display: Display) -> tuple[str, str | None]:
    """A dot-command's outcome, or the SQL it stands for."""
    name, _, argument = text.partition(" ")
    argument = argument.strip()
    if name in (".quit", ".exit"):
        return QUIT, None
    if name == ".help":
        print(HELP)
        return OK, None
    if name == ".tables":
        return OK, ("select table_schema as schema, string_agg(table_name, ', ' order by table_name) as tables "
                    "from information_schema.tables group by 1 order by 1")
    if name == ".schema" and argument:
        return OK, f"describe {argument}"
    if name == ".mode" and argument in MODES:
        display.mode = argument
        return OK, None
    usage = {".schema": "usage: .schema TABLE", ".mode": f"usage: .mode {'|'.join(MODES)}"}
    print(usage.get(name, f"unknown command {name}; .help lists them"))
    return ERROR, None


def run(con: duckdb.DuckDBPyConnection, text: str, display: Display | None = None) -> str:
    """Runs one statement or dot-command and prints its result: OK, ERROR or QUIT."""
    display = display or Display()
    text = text.strip().rstrip(";").strip()
    if not text:
        return OK
    if text == "\\q":
        return QUIT
    if text.startswith("."):
        outcome, sql = dot_command(text, display)
        if sql is None:
            return outcome
        text = sql
    try:
        relation = con.sql(text)
    except duckdb.Error as error:
        print(f"Error: {error}")
        return ERROR
    if relation is not None:
        show(relation, display)
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


def read_line(prompt: str) -> str:
    """input() with line editing and history: readline only serves input() while sys.stdout is the
    terminal itself, and the CLI routes sys.stdout through its secret-masking stream."""
    with contextlib.redirect_stdout(sys.__stdout__):
        return input(prompt)


def interactive(con: duckdb.DuckDBPyConnection, database: Path, display: Display | None = None) -> None:
    display = display or Display()
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
                line = read_line("...> " if buffer else "sql> ")
            except KeyboardInterrupt:
                print()
                buffer = []
                continue
            if not buffer and line.strip().startswith("."):
                if run(con, line, display) == QUIT:
                    break
                continue
            buffer.append(line)
            if line.strip().endswith(";"):
                if run(con, "\n".join(buffer), display) == QUIT:
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
    database = args.database or bi_database()
    if not database.exists():
        print(f"no database at {database}: run `make demo` or `make sync` first", file=sys.stderr)
        return 1
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        print(unreadable("sql", database, error), file=sys.stderr)
        return 1
    display = Display(mode="csv" if args.csv else "box", full=not sys.stdout.isatty())
    with con:
        if not args.sql and sys.stdin.isatty():
            interactive(con, database, display)
            return 0
        script = args.sql if args.sql else sys.stdin.read()
        outcomes = []
        for statement in statements(script.splitlines()):
            outcomes.append(run(con, statement, display))
            if outcomes[-1] == QUIT:
                break
    return 1 if ERROR in outcomes else 0
