"""ControlShift's export files: their names, where they are listed, how they come down.

ControlShift writes every table it has as
`<org>/full/<table>/<YYYYMMDD>/<table>_<YYYYMMDDHHMMSS>.csv` each night (every row as it is
then: the only place updates and deletions show) and new rows as
`<org>/incremental/<table>/<YYYYMMDD>/<table>_<…>.csv` every minute, `.csv.bz2` when the
organisation compresses exports. This module holds what every other part of the source agrees
on (the key and stamp patterns, what a table name is, the export buckets and the hosts a signed
link may point at, `ExportFile`) and the transfers:

- the tables are whatever the listing finds under `<org>/full/` and `<org>/incremental/` (one
  delimiter listing each); none is hard-coded;
- new files are found by listing only the date prefixes from the newest one already loaded for
  that table and kind onwards (S3 `StartAfter`), never the whole bucket;
- each object is streamed (smart-open, which decompresses `.bz2` on the fly, in chunks; never a
  whole file in memory) to a temporary file; a file announced by the webhook comes from its
  signed URL, or, once that has expired (403), from its `s3` bucket/key.
"""

from __future__ import annotations

import bz2
import itertools
import logging
import os
import re
import shutil
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import urlsplit

SCHEMA = "controlshift"
KEY_PATTERN = re.compile(
    r"^/?(?P<org>[^/]+)/(?P<kind>full|incremental)/(?P<table>[a-z0-9_]+)/(?P<date>\d{8})/"
    r"(?P=table)_(?P<stamp>\d{14})\.csv(?P<bz2>\.bz2)?$"
)
STAMP_PATTERN = re.compile(r"_(\d{14})\.csv(\.bz2)?$")
# a signed link's path is the key (virtual-hosted URL) or the bucket then the key (path-style)
KEY_IN_PATH = re.compile(r"(?:^|/)(?P<key>[^/]+/(?:full|incremental)/[A-Za-z0-9_]+/\d{8}/[A-Za-z0-9_]+_\d{14}\.csv(?:\.bz2)?)$")
# ControlShift's documented exports buckets, US then EU
DEFAULT_BUCKET = "agra-data-exports-production"
EXPORT_BUCKETS = (DEFAULT_BUCKET, "agra-data-exports-production-eu-central-1")
# where signed links may point: the exports buckets' hosts (virtual-hosted and regional names)
DEFAULT_ALLOWED_ORIGINS = (
    "https://agra-data-exports-production.s3.amazonaws.com",
    "https://agra-data-exports-production.s3.us-east-1.amazonaws.com",
    "https://agra-data-exports-production-eu-central-1.s3.amazonaws.com",
    "https://agra-data-exports-production-eu-central-1.s3.eu-central-1.amazonaws.com",
)
TABLE_NAME = re.compile(r"[a-z0-9_]+")
MAX_REDIRECTS = 3
REPAIR_ADVICE = ("the next nightly full export of {table} repairs the table; to repair it sooner, trigger "
                 "\"Test Nightly Bulk Data Export Webhook\" under Settings > Integrations > Webhooks in ControlShift, "
                 "or ask support@controlshiftlabs.com for a re-export")
COPY_CHUNK = 8 * 1024 * 1024
log = logging.getLogger(__name__)


def is_table_name(name: str) -> bool:
    """A ControlShift table name: lower-case letters, digits, `_`; never this source's bookkeeping
    (`_loaded_files`, `_rejected_rows`: names starting with `_`)."""
    return bool(TABLE_NAME.fullmatch(name)) and not name.startswith("_")


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased: what allowed origins are compared with."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class ControlShiftError(RuntimeError):
    """A bulk-data file could not be loaded; the message says which and what to do."""


class ListingRefused(Exception):
    """The bucket refused to list the organisation's exports: it has no Direct AWS Access."""


class LinkExpired(ControlShiftError):
    """A queued file's signed link has expired and there is no bucket access to fall back on: that
    file is lost until the table's next full export; nothing else waits for it."""


@dataclass(frozen=True, order=True)
class ExportFile:
    """One export object. Sorts by timestamp; at the same second a full export comes first."""

    stamp: str
    incremental: bool
    table: str
    key: str
    bucket: str = field(compare=False)
    url: Optional[str] = field(default=None, compare=False)  # a signed link from a webhook
    queue_entry: Optional[Path] = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        return "incremental" if self.incremental else "full"

    @property
    def date(self) -> str:
        return self.stamp[:8]

    @property
    def compressed(self) -> bool:
        return self.key.endswith(".bz2")

    @property
    def file_id(self) -> str:
        """What makes two notifications or listings the same file: the key, without a leading slash."""
        return self.key.lstrip("/")

    @classmethod
    def from_key(cls, bucket: str, key: str) -> Optional["ExportFile"]:
        match = KEY_PATTERN.match(key)
        if not match:
            return None
        return cls(match["stamp"], match["kind"] == "incremental", match["table"], key, bucket)


# --- S3 and downloads ---------------------------------------------------------------------------

def s3_client(endpoint_url: Optional[str]):  # noqa: ANN201 - a boto3 client
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url or None)


def list_prefixes(s3, bucket: str, prefix: str, start_after: str = "") -> list[str]:  # noqa: ANN001
    """The "folders" directly under `prefix`, from `start_after` on (one delimiter listing)."""
    found = []
    params = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
    if start_after:
        params["StartAfter"] = start_after
    for page in s3.get_paginator("list_objects_v2").paginate(**params):
        found += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    return found


def list_keys(s3, bucket: str, prefix: str) -> list[str]:  # noqa: ANN001
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def list_table_prefixes(s3, bucket: str, slug: str, pool: Executor) -> list[str]:  # noqa: ANN001
    """`<org>/<kind>/<table>/` of every table, full and incremental (one delimiter listing each, in
    `pool`). Raises `ListingRefused` when the bucket will not list."""
    from botocore.exceptions import ClientError

    roots = [f"{slug}/{kind}/" for kind in ("full", "incremental")]
    try:
        return [prefix for found in pool.map(lambda root: list_prefixes(s3, bucket, root), roots) for prefix in found]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("AccessDenied", "403", "AllAccessDisabled"):
            raise
        raise ListingRefused(str(error)) from error


def list_table_exports(s3, bucket: str, table_prefix: str,  # noqa: ANN001
                       last_dates: dict[tuple[str, str], str]) -> list[ExportFile]:
    """The export files of one table and kind in date prefixes at or after the newest one loaded
    (`last_dates`: (kind, table) -> `YYYYMMDD`); S3 `StartAfter`, never the whole history."""
    kind, table = table_prefix.rstrip("/").split("/")[-2:]
    if not is_table_name(table):
        log.warning("controlshift: ignoring %s (not a ControlShift table name)", table_prefix)
        return []
    last = last_dates.get((kind, table))
    found = []
    for date_prefix in list_prefixes(s3, bucket, table_prefix, f"{table_prefix}{last}" if last else ""):
        for key in list_keys(s3, bucket, date_prefix):
            export = ExportFile.from_key(bucket, key)
            if export is None:
                log.warning("controlshift: ignoring %s (not a bulk-data export name)", key)
            elif export.table == table:
                found.append(export)
    return found


def ends_with_newline(path: Path) -> bool:
    """Whether a downloaded export is whole: every export line ends with a newline (an empty file is
    an empty export)."""
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def fetch_link(url: str, allowed_origins: tuple[str, ...]):  # noqa: ANN201 - a streaming requests.Response
    """GET a signed link, following a redirect only to an allowed export host."""
    import requests

    for _ in range(MAX_REDIRECTS + 1):
        if origin(url) not in allowed_origins:
            raise ControlShiftError(f"refusing to download from {origin(url)}: not an allowed export host "
                                    "(SOURCES__CONTROLSHIFT__ALLOWED_ORIGINS)")
        response = requests.get(url, stream=True, timeout=60, allow_redirects=False)
        if not response.is_redirect:
            return response
        response.close()
        url = requests.compat.urljoin(url, response.headers["Location"])
    raise ControlShiftError(f"more than {MAX_REDIRECTS} redirects from a signed link")


def download(export: ExportFile, destination: Path, s3, allowed_origins: tuple[str, ...]) -> Optional[str]:  # noqa: ANN001
    """The file, decompressed, at `destination`: from its signed URL if it has one, else S3 (`s3`
    is None without bucket access). Returns a note for the run summary when the URL had to be
    given up for the S3 key; raises `LinkExpired` when the link is dead and S3 is out of reach."""
    if export.url:
        response = fetch_link(export.url, allowed_origins)
        if response.status_code == 200:
            with response:
                response.raw.decode_content = True
                return copy_export(export, response.raw, destination)
        reason = ("its signed URL has expired (ControlShift keeps download links for 6 hours)"
                  if response.status_code == 403 else f"its signed URL answered HTTP {response.status_code}")
        if s3 is None or not export.bucket:
            if response.status_code != 403:
                raise ControlShiftError(f"cannot download {export.file_id}: {reason}; the next sync tries again")
            raise LinkExpired(f"{export.file_id} could not be loaded: {reason} and there is no bucket access "
                              f"to read it from; {REPAIR_ADVICE.format(table=export.table)}")
        note = f"{export.file_id}: {reason}; read s3://{export.bucket}/{export.file_id} instead"
        log.warning("controlshift: %s", note)
        try:
            note = "; ".join(filter(None, [note, _download_s3(export, destination, s3)]))
        except Exception as error:  # noqa: BLE001 - say both reasons
            raise ControlShiftError(
                f"cannot download {export.file_id}: {reason}, and reading it from S3 failed too ({error}); "
                "set AWS credentials with access to the bulk-data bucket (Direct AWS Access). "
                "The webhook queue entry is kept.") from error
        return note
    return _download_s3(export, destination, s3)


DOWNLOADS_PREFIX = "controlshift-"


def remove_abandoned_downloads(temp_dir: Path) -> None:
    """Deletes download folders of syncs that were killed (SIGKILL skips their cleanup).

    They hold exported people's data. A folder is named after its process, so one whose process
    is gone is abandoned, while another warehouse's sync sharing the temp folder is left alone.
    """
    for folder in temp_dir.glob(f"{DOWNLOADS_PREFIX}*-*"):
        owner = folder.name.removeprefix(DOWNLOADS_PREFIX).split("-", 1)[0]
        if folder.is_dir() and owner.isdigit() and not _process_exists(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _download_s3(export: ExportFile, destination: Path, s3) -> Optional[str]:  # noqa: ANN001
    import smart_open

    # smart-open streams the object in chunks (its default 128 KB read buffer halves the throughput
    # of large objects); decompression is ours, so that a plain file named .bz2 is read as plain
    with smart_open.open(f"s3://{export.bucket}/{export.file_id}", "rb", compression="disable",
                         transport_params={"client": s3, "buffer_size": COPY_CHUNK}) as body:
        return copy_export(export, body, destination)


def copy_export(export: ExportFile, body, destination: Path) -> Optional[str]:  # noqa: ANN001 - a binary stream
    """The export, decompressed as it streams, at `destination`; a note when a file named `.bz2`
    is not bzip2 at all (it is read as the plain CSV it is, not reported as a cut transfer)."""
    head = body.read(3)
    plain = not export.compressed or head != b"BZh"
    with destination.open("wb") as out:
        if plain:
            out.write(head)
            shutil.copyfileobj(body, out, COPY_CHUNK)
        else:
            decompress_bz2(itertools.chain([head], iter(lambda: body.read(COPY_CHUNK), b"")), out)
    return f"{export.file_id} is named .bz2 but is not bzip2-compressed; read as plain CSV" \
        if plain and export.compressed else None


def decompress_bz2(chunks: Iterator[bytes], out) -> None:  # noqa: ANN001 - a binary file
    """bzip2 chunk by chunk, concatenated streams included; a stream without its end is a cut transfer."""
    decompressor = bz2.BZ2Decompressor()
    for chunk in chunks:
        while chunk:
            if decompressor.eof:  # the next of concatenated streams
                decompressor = bz2.BZ2Decompressor()
            out.write(decompressor.decompress(chunk))
            chunk = decompressor.unused_data if decompressor.eof else b""
    if not decompressor.eof:
        raise EOFError("the bzip2 stream ends before its end-of-stream marker")
