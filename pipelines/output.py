"""What the CLI prints and logs: `--quiet`, `--verbose`, `--log-file`, progress and the run summary.

Every line goes to the log file (when one is given, rotated by size with
`logging.handlers.RotatingFileHandler`), whatever the verbosity; the terminal gets errors only
with `--quiet`, the usual lines by default and dlt's progress and details with `--verbose`.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
from pathlib import Path
from typing import Iterator

from rich.console import Console
from rich.markup import escape

from pipelines.redact import RedactingFormatter

QUIET, NORMAL, VERBOSE = 0, 1, 2

LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 7

logger = logging.getLogger("pipelines")
# the logger feeds --log-file only; the terminal gets our own lines. Without a handler of its own,
# logging's last-resort handler would print every error a second time on stderr.
logger.addHandler(logging.NullHandler())
logger.propagate = False
_set_dbt_quiet = False  # whether DBT_QUIET is ours to unset


class Output:
    def __init__(self, level: int = NORMAL, log_file: Path | None = None) -> None:
        self.level = level
        self.console = Console(highlight=False, soft_wrap=True)
        self.errors = Console(stderr=True, highlight=False, soft_wrap=True)
        for console in (self.console, self.errors):
            if not console.is_terminal:  # logs and cron mail: wide enough that tables stay on one line
                console.width = 140
        logger.setLevel(logging.INFO)
        for handler in list(logger.handlers):
            if getattr(handler, "_pipelines_cli", False):
                logger.removeHandler(handler)
                handler.close()
        self.log_file = log_file
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=LOG_MAX_BYTES,
                                                           backupCount=LOG_BACKUPS, encoding="utf-8")
            handler.setFormatter(RedactingFormatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
            handler._pipelines_cli = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        # dbt prints only errors when we are quiet (its own log still has everything)
        global _set_dbt_quiet
        if level == QUIET and "DBT_QUIET" not in os.environ:
            os.environ["DBT_QUIET"] = "true"
            _set_dbt_quiet = True
        elif level != QUIET and _set_dbt_quiet:
            os.environ.pop("DBT_QUIET", None)
            _set_dbt_quiet = False

    @property
    def quiet(self) -> bool:
        return self.level == QUIET

    @property
    def verbose(self) -> bool:
        return self.level >= VERBOSE

    def info(self, message: str) -> None:
        logger.info(message)
        if self.level >= NORMAL:
            self.console.print(message, markup=False)

    def warn(self, message: str) -> None:
        logger.warning(message)
        if self.level >= NORMAL:
            self.errors.print(f"[yellow]warning:[/] {escape(message)}")

    def error(self, message: str) -> None:
        logger.error(message)
        self.errors.print(f"[bold red]error:[/] {escape(message)}")

    def detail(self, text: str) -> None:
        """Always in the log file; on the terminal with --verbose (tracebacks, long explanations)."""
        logger.info(text)
        if self.verbose:
            self.errors.print(text, markup=False)

    def show(self, renderable: object, text: str = "") -> None:
        """A rich table or panel on the terminal (unless quiet); its plain text in the log."""
        if text:
            logger.info(text)
        if self.level >= NORMAL:
            self.console.print(renderable)

    @contextlib.contextmanager
    def progress(self, message: str) -> Iterator[callable]:
        """A spinner with elapsed time while a long step runs; yields a function to update its text."""
        if self.level < NORMAL or not self.console.is_terminal:
            yield lambda text: None
            return
        with self.console.status(message) as status:
            yield lambda text: status.update(text)


# a one-screen summary names a source's biggest tables and counts the rest (ControlShift has 63)
TABLES_SHOWN = 8


def rows_text(rows: dict[str, int]) -> str:
    """`signatures 163, members 87, … and 55 more tables (165 rows)`: rows per table, biggest first.

    Rows set aside (`incomplete_<table>`) are always named, however few: they are what to look into.
    """
    ranked = sorted(rows.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:TABLES_SHOWN] + [item for item in ranked[TABLES_SHOWN:] if item[0].startswith("incomplete_")]
    text = ", ".join(f"{table} {count:,}" for table, count in shown)
    rest = [item for item in ranked if item not in shown]
    if rest:
        text += f", … and {len(rest)} more tables ({sum(count for _, count in rest):,} rows)"
    return text


def unreadable(command: str, path: Path, error: Exception) -> str:
    """The one-line error for a DuckDB file we could not open (usually: a sync is writing it)."""
    return (f"{command}: could not read {path} ({str(error).splitlines()[0]}); if a sync is writing it, "
            f"run `make {command}` again when it is done")


_current = Output()


def configure(level: int = NORMAL, log_file: Path | None = None) -> Output:
    global _current
    _current = Output(level, log_file)
    return _current


def current() -> Output:
    return _current
