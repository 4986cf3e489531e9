"""A durable record of every sync and transform: one JSON line per run, beside the warehouse.

dlt keeps the state of successful loads (in the warehouse and its pipelines dir) but forgets a
run that failed before loading. `status` and the run report need both, so the runner appends
one line per source run here: `<warehouse dir>/<warehouse stem>_runs.jsonl`.
"""

from __future__ import annotations

import errno
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from pipelines.redact import redact, secret_values

# past MAX_BYTES the log is cut to its most recent KEEP_LINES runs (weeks of minute-level syncs)
MAX_BYTES = 8 * 1024 * 1024
KEEP_LINES = 10_000


@dataclass
class RunRecord:
    source: str  # a source name, or "transform"
    status: str  # "loaded", "skipped", "failed" (transform: "passed" / "failed")
    started_at: float  # unix seconds
    finished_at: float
    message: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    # load jobs dlt could not load (table -> error), dbt tests that failed (name -> message), …
    rejected: dict[str, str] = field(default_factory=dict)
    mode: str = "incremental"  # or "full_refresh"
    warnings: list[str] = field(default_factory=list)  # problems a loaded run left for someone to act on


def runlog_path(warehouse: Path) -> Path:
    return warehouse.parent / f"{warehouse.stem}_runs.jsonl"


def append(warehouse: Path, record: RunRecord) -> None:
    path = runlog_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    # failed jobs' and dbt's messages quote whatever they met: mask credentials in the whole line
    line = redact(json.dumps(asdict(record), sort_keys=True), secret_values()) + "\n"
    if path.exists() and path.stat().st_size:
        with path.open("rb") as log:
            log.seek(-1, os.SEEK_END)
            if log.read(1) != b"\n":  # a run killed mid-line: start ours on a line of its own
                line = "\n" + line
    # one write of a short line in append mode: concurrent runs never interleave within a line
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        data = line.encode("utf-8")
        if os.write(descriptor, data) != len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError as error:
        raise RunLogUnwritable(f"could not record the {record.source} run in {path} "
                               f"({error.strerror or error}); free space there") from None
    finally:
        os.close(descriptor)
    _trim(path)


class RunLogUnwritable(OSError):
    """The run log could not be appended to (a full disk, usually)."""


def _trim(path: Path) -> None:
    if path.stat().st_size < MAX_BYTES:
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        temporary.write_text("".join(lines[-KEEP_LINES:]), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)  # the log stays long rather than half written


def read(warehouse: Path) -> list[RunRecord]:
    """Every recorded run, oldest first; a torn or foreign line is skipped, never fatal."""
    path = runlog_path(warehouse)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(RunRecord(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return records


def latest(records: Iterable[RunRecord], source: str, status: str | None = None) -> RunRecord | None:
    found = None
    for record in records:
        if record.source == source and (status is None or record.status == status):
            found = record
    return found


def now() -> float:
    return time.time()
