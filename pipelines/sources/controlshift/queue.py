"""The queue of export notifications on disk, between the webhook receiver and the loader.

The receiver (`webhook.py`) writes each export notification here (a temporary file, fsync,
atomic rename, fsync of the folder) before it answers 200, so an acknowledged notification
survives a crash; the loader (`loader.py`) reads the queue at each sync and removes an entry only
once its file's load committed. Neither imports the other: this module is all they share.

The sync trusts no entry: one naming a table that is not a ControlShift table name, a key outside
the organisation's export layout, a link off the allowed export hosts or a bucket that is not an
exports bucket, one it cannot read, or one waiting for more than 30 days, moves to `dead-letter/`
in the queue folder with its reason (kept 30 days), and the sync goes on.

Configuration: `SOURCES__CONTROLSHIFT__QUEUE_DIR` (default: a folder beside the warehouse,
`.<warehouse name>.controlshift-queue`).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlsplit

from pipelines.sources.controlshift.exports import KEY_IN_PATH, KEY_PATTERN, STAMP_PATTERN, ExportFile, is_table_name, origin

# far beyond ControlShift's retries (9, with exponential backoff) and the links' 6-hour life
SEEN_FILES_KEPT_DAYS = 30
DEAD_LETTER = "dead-letter"
INCREMENTAL_EXPORT = "data.incremental_table_exported"
EXPORT_TYPES = ("data.full_table_exported", INCREMENTAL_EXPORT)


def default_queue_dir(warehouse: Path) -> Path:
    return warehouse.parent / f".{warehouse.stem}.controlshift-queue"


def enqueue(queue_dir: Path, payload: dict) -> Path:
    """Writes one notification durably; returns its queue entry."""
    queue_dir.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.json"
    temporary = queue_dir / f".{name}.tmp"
    with temporary.open("wb") as handle:
        handle.write(json.dumps(payload).encode())
        handle.flush()
        os.fsync(handle.fileno())
    entry = queue_dir / name
    os.replace(temporary, entry)
    folder = os.open(queue_dir, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return entry


def notification_file(payload: dict) -> tuple[str, str, str]:
    """(kind, table, key) of the file an export notification names: its `s3` key, else the key in its
    signed link's path (virtual-hosted or path-style S3 URL). Raises on a payload that names none."""
    data = payload["data"]
    s3 = data.get("s3") or {}
    path = unquote(urlsplit(data["url"]).path) if data.get("url") else ""
    found = KEY_IN_PATH.search(path)
    key = (s3.get("key") or (found["key"] if found else path)).lstrip("/")
    if not key:
        raise KeyError("neither data.s3.key nor data.url")
    kind = "incremental" if payload["type"] == INCREMENTAL_EXPORT else "full"
    return kind, str(data["table"]), key


@dataclass
class QueueRules:
    """What a queued notification may name (every webhook value is untrusted, signed or not)."""

    slug: str
    default_bucket: str
    allowed_origins: tuple[str, ...]  # scheme://host[:port] a signed link may point at
    allowed_buckets: tuple[str, ...]  # buckets an `s3` object may name

    def problem(self, export: ExportFile) -> Optional[str]:
        if not is_table_name(export.table):
            return f"table {export.table!r} is not a ControlShift table name"
        match = KEY_PATTERN.match(export.key)
        if not match or match["table"] != export.table or match["org"] != self.slug:
            return f"{export.key!r} is not a bulk-data export of {export.table} for {self.slug}"
        if export.url and origin(export.url) not in self.allowed_origins:
            return f"its link points at {origin(export.url)}, not an allowed export host ({', '.join(self.allowed_origins)})"
        if export.bucket not in self.allowed_buckets:
            return f"it names bucket {export.bucket!r}, not an exports bucket"
        return None


def read_queue(queue_dir: Path, rules: QueueRules) -> tuple[list[ExportFile], list[str]]:
    """The queued export files, oldest notification first, and what was set aside: an entry that
    cannot be read, names something it may not, or has waited past `SEEN_FILES_KEPT_DAYS` moves to
    `dead-letter/` beside its reason, instead of failing every sync."""
    exports, set_aside = [], []
    if not queue_dir.is_dir():
        return exports, set_aside
    expire_dead_letters(queue_dir)
    for entry in sorted(queue_dir.glob("*.json")):
        try:
            payload = json.loads(entry.read_text())
            kind, table, key = notification_file(payload)
            stamp = STAMP_PATTERN.search(key)
            export = ExportFile(
                stamp=stamp.group(1) if stamp else "", incremental=kind == "incremental", table=table, key=key,
                bucket=str((payload["data"].get("s3") or {}).get("bucket") or rules.default_bucket),
                url=payload["data"].get("url"), queue_entry=entry)
            reason = rules.problem(export)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            reason = f"not a readable export notification ({type(error).__name__}: {error})"
        if reason is None and time.time() - entry.stat().st_mtime > SEEN_FILES_KEPT_DAYS * 86400:
            reason = f"queued more than {SEEN_FILES_KEPT_DAYS} days ago and never loaded"
        if reason is None:
            exports.append(export)
        else:
            set_aside.append(f"{entry.name}: {reason}")
            dead_letter(entry, reason)
    return exports, set_aside


def dead_letter(entry: Path, reason: str) -> None:
    folder = entry.parent / DEAD_LETTER
    folder.mkdir(exist_ok=True)
    (folder / f"{entry.name}.reason").write_text(reason + "\n")
    os.replace(entry, folder / entry.name)


def expire_dead_letters(queue_dir: Path) -> None:
    """Set-aside entries are kept `SEEN_FILES_KEPT_DAYS` for a look, then deleted."""
    cutoff = time.time() - SEEN_FILES_KEPT_DAYS * 86400
    for path in (queue_dir / DEAD_LETTER).glob("*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def remove_from_queue(export: ExportFile) -> None:
    """Removes the queue entry an export came from (none for a listed export): its file is done."""
    if export.queue_entry is not None:
        export.queue_entry.unlink(missing_ok=True)
