"""Walk a tree without ever leaving it: directory file descriptors opened with O_NOFOLLOW.

Every folder is opened relative to its parent's descriptor and refuses to be a symbolic link,
so a link (or a folder swapped for a link while we run) can never take the walk or a deletion
outside the output folder. Links are reported as links, with their own (tiny) size.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
MAX_DEPTH = 128

FILE, SYMLINK, OTHER = "file", "symlink", "other"


@dataclass
class Entry:
    relpath: str  # relative to the walk's root, "/"-separated
    kind: str  # file | symlink | other
    size: int
    link_target: str | None = None
    inode: int = 0  # deleting in inode order is kinder to the file system's tables


@dataclass
class WalkResult:
    entries: list[Entry] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)  # every folder walked (relative paths)
    errors: list[str] = field(default_factory=list)


def open_root(path: str | os.PathLike) -> int:
    """Open the walk's root folder; the root itself may have been reached through links."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))


def open_relative(root_fd: int, parts: list[str]) -> int:
    """Open ``root/parts...`` one component at a time, refusing links at every step."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nfd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return SYMLINK
    if stat.S_ISREG(mode):
        return FILE
    return OTHER


def _walk_dir(fd: int, rel: str, depth: int, out: WalkResult) -> None:
    out.dirs.append(rel)
    if depth > MAX_DEPTH:
        out.errors.append(f"{rel}: deeper than {MAX_DEPTH} levels, not walked")
        return
    with os.scandir(fd) as it:
        children = list(it)
    for e in children:
        r = f"{rel}/{e.name}" if rel else e.name
        try:
            if e.is_dir(follow_symlinks=False):
                cfd = os.open(e.name, DIR_FLAGS, dir_fd=fd)
                try:
                    _walk_dir(cfd, r, depth + 1, out)
                finally:
                    os.close(cfd)
                continue
            st = e.stat(follow_symlinks=False)
            kind = _kind(st.st_mode)
            target = os.readlink(e.name, dir_fd=fd) if kind == SYMLINK else None
            out.entries.append(Entry(r, kind, st.st_size, target, e.inode()))
        except OSError as err:
            out.errors.append(f"{r}: {err.strerror or err}")


def walk_paths(root_fd: int, relpaths: list[str], out: WalkResult | None = None) -> WalkResult:
    """Walk each ``relpath`` (file, link or folder) below the root descriptor.

    A relpath whose parent folders include a link is skipped with an error: it is not inside
    the tree as the file system sees it.
    """
    out = out or WalkResult()
    for relpath in relpaths:
        parts = [p for p in relpath.split("/") if p]
        try:
            pfd = open_relative(root_fd, parts[:-1]) if parts else os.dup(root_fd)
        except OSError as err:
            out.errors.append(f"{relpath}: {err.strerror or err}")
            continue
        try:
            if not parts:
                _walk_dir(pfd, "", 0, out)
                continue
            st = os.stat(parts[-1], dir_fd=pfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                cfd = os.open(parts[-1], DIR_FLAGS, dir_fd=pfd)
                try:
                    _walk_dir(cfd, relpath, 1, out)
                finally:
                    os.close(cfd)
            else:
                kind = _kind(st.st_mode)
                target = os.readlink(parts[-1], dir_fd=pfd) if kind == SYMLINK else None
                out.entries.append(Entry(relpath, kind, st.st_size, target, st.st_ino))
        except FileNotFoundError:
            pass
        except OSError as err:
            out.errors.append(f"{relpath}: {err.strerror or err}")
        finally:
            os.close(pfd)
    return out


def list_children(root_fd: int, relpath: str) -> list[str]:
    """Names in a folder below the root ([] when absent or reached through a link)."""
    parts = [p for p in relpath.split("/") if p]
    try:
        fd = open_relative(root_fd, parts)
    except OSError:
        return []
    try:
        with os.scandir(fd) as it:
            return [e.name for e in it]
    finally:
        os.close(fd)
