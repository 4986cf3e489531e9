"""Keeps credentials out of everything the pipeline prints.

Vendor libraries put URLs (NationBuilder's carry `access_token=`), headers and request
details into exceptions and log lines. Rather than trusting each of them, every line this
process writes to stdout or stderr, tracebacks included, passes through `redact`, which
replaces the value of each configured secret with `***`.

Credentials that are not configured values are masked by their shape wherever they appear in
a URL: the password of a `user:pass@host` base URL, and query parameters that sign or
authorize a request (a signed S3 link's `X-Amz-Signature`/`X-Amz-Credential`/…, a bare
`Signature=`, `access_token=`, `api_key=`, …).
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Iterable, TextIO

from pipelines import REPO_ROOT

MASK = "***"
# configuration names whose values are credentials
SECRET_NAME = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD|ACCESS_KEY|CREDENTIALS)", re.IGNORECASE)
# shorter values are too likely to be ordinary text ("1", "true") to mask everywhere
MIN_SECRET_CHARS = 6
SECRETS_FILE = REPO_ROOT / ".dlt" / "secrets.toml"
# `scheme://user:password@`: the password
URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")
# query parameters whose values authorize a request (AWS presigned URLs sign with all of X-Amz-*)
URL_SECRET_PARAMETER = re.compile(
    r"(?i)([?&;](?:x-amz-[a-z-]+|signature|sig|[a-z_]*token|[a-z_]*key|key|secret|password|credential)=)[^&#\s\"'<>]+")


def _toml_secrets(tree: dict, path: tuple[str, ...] = ()) -> Iterable[str]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _toml_secrets(value, (*path, key))
        elif isinstance(value, str) and SECRET_NAME.search("__".join((*path, key))):
            yield value


def secret_values(environ: dict[str, str] | None = None, secrets_file: Path = SECRETS_FILE) -> set[str]:
    """Every configured credential: from the environment and from `.dlt/secrets.toml`."""
    environ = os.environ if environ is None else environ
    values = {value for name, value in environ.items() if SECRET_NAME.search(name)}
    if secrets_file.exists():
        try:
            values |= set(_toml_secrets(tomllib.loads(secrets_file.read_text(encoding="utf-8"))))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            pass  # dlt reports a broken secrets file itself, naming it
    return {value for value in values if len(value) >= MIN_SECRET_CHARS}


def mask_urls(text: str) -> str:
    """URL passwords and signing/authorizing query parameters in `text` masked, whatever their values."""
    if "://" not in text and "=" not in text:
        return text
    return URL_SECRET_PARAMETER.sub(rf"\1{MASK}", URL_PASSWORD.sub(rf"\1{MASK}@", text))


# a string literal or an email address inside a database's error message: a record's value
# (identifiers are double-quoted and kept: they say which column)
RECORD_VALUE = re.compile(r"'(?:[^'\\]|\\.|'')*'|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
VALUE_MASK = "<value>"


def mask_values(text: str) -> str:
    """A load error without the values it quotes: they are people's names, emails, phone numbers."""
    return RECORD_VALUE.sub(VALUE_MASK, text)


def redact(text: str, secrets: Iterable[str]) -> str:
    # longest first, so a secret containing another is masked whole
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return mask_urls(text)


class RedactingFormatter(logging.Formatter):
    """Log records, tracebacks included, with every credential masked (the log file's formatter)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), secret_values())


def scrub_file(path: Path, secrets: Iterable[str]) -> None:
    """Masks secrets inside a file in place, keeping its length (dlt's pickled run trace stays loadable)."""
    if not path.exists():
        return
    content = original = path.read_bytes()
    for secret in secrets:
        encoded = secret.encode()
        content = content.replace(encoded, b"*" * len(encoded))
    if content != original:
        path.write_bytes(content)


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets, then writes to the stream it wraps."""

    def __init__(self, target: TextIO, secrets: set[str]) -> None:
        self.target = target
        self.secrets = secrets  # shared and updated in place by `redact_process_output`

    def write(self, text: str) -> int:
        self.target.write(redact(text, self.secrets))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.target.encoding


_active_secrets: set[str] = set()


def redact_process_output() -> None:
    """Routes this process's stdout and stderr, and so its logging and tracebacks, through `redact`.

    Call again after changing the configuration (the demo does): the streams pick up new secrets.
    """
    _active_secrets.update(secret_values())
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout, _active_secrets)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr, _active_secrets)
