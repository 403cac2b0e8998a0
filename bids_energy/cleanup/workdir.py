"""The work directory: removed after success, but only when it is certainly this job's own.

A work dir shared by several array tasks (``-w /scratch/work`` for all) would take the other
tasks' running work with it, so it is removed only when its name names the participant (and
session), or the caller says it made it for this job. It is never removed when it is, or
contains, the output folder, the output root or the input dataset, nor when it lies inside
the input dataset, nor when it is a symbolic link.
"""

from __future__ import annotations

import os
from pathlib import Path

from bids_energy.cleanup.remove import RemoveResult, delete_files, prune_empty_dirs
from bids_energy.cleanup.scope import is_same_or_ancestor, is_within, names_participant
from bids_energy.cleanup.walk import WalkResult, open_root, walk_paths


def refusal(
    work_dir: Path,
    keep_dirs: list[Path],
    input_dir: Path | None,
    participant: str,
    session: str | None,
    owned: bool | None,
) -> str | None:
    """Why the work dir must stay (None: it may go). ``keep_dirs`` are resolved paths."""
    if work_dir.is_symlink():
        return f"work dir {work_dir} is a symbolic link"
    if not work_dir.is_dir():
        return f"work dir {work_dir} does not exist"
    real = work_dir.resolve()
    if real == Path(real.anchor):
        return "work dir is the file system root"
    for d in keep_dirs:
        if is_same_or_ancestor(real, d):
            return f"work dir {real} is or contains {d}"
    if input_dir is not None:
        inp = input_dir.resolve()
        if is_same_or_ancestor(real, inp) or is_within(real, inp):
            return f"work dir {real} overlaps the input dataset {inp}"
    if owned is None and not names_participant(real.name, participant, session):
        who = f"sub-{participant}" + (f" and ses-{session}" if session else "")
        return f"work dir {real.name!r} does not name {who}; it may be shared, so it is kept"
    if owned is False:
        return "work dir is not this job's own"
    return None


def measure(work_dir: Path) -> WalkResult:
    fd = open_root(work_dir.resolve())
    try:
        return walk_paths(fd, [""])
    finally:
        os.close(fd)


def remove(work_dir: Path, walked: WalkResult) -> RemoveResult:
    """Delete everything walked below the work dir, then the emptied folders and the dir."""
    real = work_dir.resolve()
    fd = open_root(real)
    try:
        entries = sorted(walked.entries, key=lambda e: e.inode)
        result = delete_files(fd, [(e.relpath, e.size) for e in entries])
        prune_empty_dirs(fd, [d for d in walked.dirs if d], result)
    finally:
        os.close(fd)
    try:
        os.rmdir(real)
        result.dirs_removed += 1
    except OSError as err:
        result.errors.append(f"{real}: {err.strerror or err}")
    return result
