"""Durable, private file writes: a file is replaced whole or not at all, and only its owner reads it.

`write_atomic` writes to a temp file in the same directory (mode 0600 from the start), flushes and
fsyncs it, renames it over the target (or, `exclusive`, links it in only if the target does not exist
yet, so two processes creating the same key cannot both win), and fsyncs the directory so the rename
survives a power cut. A crash at any point leaves the old file or the new one, never a torn one.

Stdlib only; no knowledge of what the files hold.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def write_atomic(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write `text` to `path` atomically and durably, mode 0600; FileExistsError when `exclusive`
    and the file is already there (what is there is left untouched)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), PRIVATE_FILE)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if the target exists: creation is decided atomically
        else:
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_directory(path.parent)


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 when it does not exist yet (a file that exists is left as
    it is): for files another library opens and fills, such as the SQLite ledger, which would
    otherwise be created readable by everyone (0644 under the usual umask); SQLite gives its WAL
    and shared-memory files the database file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def exposed_to_others(path: Path) -> bool:
    """True when the group or others may read, write or enter `path`."""
    return bool(path.stat().st_mode & 0o077)
