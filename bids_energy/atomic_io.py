"""Atomic file writes: a killed run or a full disk never leaves half a file behind."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from bids_energy.errors import OutputError, WriteError


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename over ``path``."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _as_error(exc, path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with _suppress():
            os.unlink(tmp)
        raise _as_error(exc, path) from None


def _as_error(exc: OSError, path: Path):
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT):
        return OutputError(f"cannot create {path}: {exc.strerror}")
    return WriteError(f"cannot write {path}: {exc.strerror}")


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True
