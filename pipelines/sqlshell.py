"""`make sql`: a small SQL shell on the marts, read-only, needing nothing but Python.

On DuckDB it opens the marts snapshot file read-only; on Postgres (`WAREHOUSE_ENGINE=postgres`) it
opens a read-only session (`default_transaction_read_only`) on the warehouse's database.

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
import decimal
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from pipelines.output import unreadable
from pipelines.sql import literal
from pipelines.warehouse import DuckDBReader, Reader, WarehouseError, WarehouseMissing, connect_marts

HELP = """.tables             list schemas and tables
.schema TABLE       columns of a table (e.g. .schema analytics.people)
.mode box|csv       results as boxes (default) or CSV with a header line
.quit               leave (or Ctrl-D)
Statements end with ';' and may span lines. The database is opened read-only."""

# a terminal's screenful of rows, when the engine has no renderer of its own
SCREEN_ROWS = 40

HISTORY = Path.home() / ".organizing_warehouse_sql_history"
MODES = ("box", "csv")
# "every row and column": DuckDB's box renderer wants numbers, not "no limit"
UNLIMITED = 2**31 - 1

QUIT, OK, ERROR = "quit", "ok", "error"


@dataclass
class Display:
    mode: str = "box"
    full: bool = False  # every row and column (piped output); otherwise a terminal screenful


def show(con: Reader, sql: str, display: Display) -> None:
    """Runs `sql` and prints its result: DuckDB's own boxes on DuckDB, boxes drawn here otherwise; or CSV."""
    if isinstance(con, DuckDBReader) and display.mode == "box":
        relation = con.relation(sql)
        if relation is not None and display.full:
            relation.show(max_rows=UNLIMITED, max_width=UNLIMITED, max_col_width=UNLIMITED)
        elif relation is not None:
            relation.show()
        return
    columns, rows = con.query(sql)
    if not columns:
        return
    if display.mode == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        print(buffer.getvalue(), end="")
    else:
        print(boxes(columns, rows if display.full else rows[:SCREEN_ROWS]))
        if not display.full and len(rows) > SCREEN_ROWS:
            print(f"{len(rows):,} rows ({SCREEN_ROWS} shown)")


def boxes(columns: list[str], rows: list[tuple]) -> str:
    """A result as a table drawn in box characters, numbers aligned right (as DuckDB draws them)."""
    cells = [["NULL" if value is None else str(value) for value in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(row[i], (int, float, decimal.Decimal)) or row[i] is None for row in rows)
               for i in range(len(columns))]

    def line(left: str, middle: str, right: str) -> str:
        return left + middle.join("─" * (width + 2) for width in widths) + right

    def cells_line(values: list[str], align: list[bool]) -> str:
        return "│" + "│".join(f" {value.rjust(w) if right else value.ljust(w)} "
                              for value, w, right in zip(values, widths, align)) + "│"

    body = [cells_line(row, numeric) for row in cells]
    return "\n".join([line("┌", "┬", "┐"), cells_line(list(columns), [False] * len(columns)), line("├", "┼", "┤"),
                      *body, line("└", "┴", "┘")])


def schema_sql(name: str) -> str:
    """The columns of `schema.table` (or of `table` in any schema), on either engine."""
    schema, _, table = name.rpartition(".")
    where = f"table_name = {literal(table)}" + (f" and table_schema = {literal(schema)}" if schema else "")
    return ("select table_schema || '.' || table_name as table, column_name, data_type, is_nullable "
            f"from information_schema.columns where {where} order by table_schema, ordinal_position")


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
                    "from information_schema.tables where table_schema not in ('information_schema', 'pg_catalog') "
                    "group by 1 order by 1")
    if name == ".schema" and argument:
        return OK, schema_sql(argument)
    if name == ".mode" and argument in MODES:
        display.mode = argument
        return OK, None
    usage = {".schema": "usage: .schema TABLE", ".mode": f"usage: .mode {'|'.join(MODES)}"}
    print(usage.get(name, f"unknown command {name}; .help lists them"))
    return ERROR, None


def run(con: Reader, text: str, display: Display | None = None) -> str:
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
        show(con, text, display)
    except WarehouseError as error:
        print(f"Error: {error}")
        return ERROR
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


def interactive(con: Reader, display: Display | None = None) -> None:
    display = display or Display()
    try:
        import readline

        readline.set_history_length(1000)
        if HISTORY.exists():
            readline.read_history_file(HISTORY)
    except (ImportError, OSError):
        readline = None  # type: ignore[assignment]
    print(f"Connected read-only to {con.where}. .help for help, .tables to look around, .quit to leave.")
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


def open_database(database: Path | None) -> Reader:
    """`--database FILE` (any DuckDB file), else the marts."""
    if database is None:
        return connect_marts()
    if not database.exists():
        raise WarehouseMissing(f"no database at {database}")
    return DuckDBReader(database)


def main(args: argparse.Namespace) -> int:
    try:
        con = open_database(args.database)
    except WarehouseMissing as missing:
        print(f"{missing}: run `make demo` or `make sync` first", file=sys.stderr)
        return 1
    except WarehouseError as error:
        print(unreadable("sql", args.database or "the marts", error), file=sys.stderr)
        return 1
    display = Display(mode="csv" if args.csv else "box", full=not sys.stdout.isatty())
    with con:
        if not args.sql and sys.stdin.isatty():
            interactive(con, display)
            return 0
        script = args.sql if args.sql else sys.stdin.read()
        outcomes = []
        for statement in statements(script.splitlines()):
            outcomes.append(run(con, statement, display))
            if outcomes[-1] == QUIT:
                break
    return 1 if ERROR in outcomes else 0
