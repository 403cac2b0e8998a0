"""The descriptor-based walk and deletion never leave the tree (small temporary trees)."""

from __future__ import annotations

import os
from pathlib import Path

from bids_energy.cleanup.remove import delete_files, prune_empty_dirs
from bids_energy.cleanup.walk import FILE, OTHER, SYMLINK, list_children, open_root, walk_paths


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f.txt").write_text("12345")
    outside.mkdir()
    (outside / "secret.txt").write_text("keep me")
    os.symlink(outside, root / "a" / "out-link")
    os.symlink(outside / "secret.txt", root / "a" / "file-link")
    os.mkfifo(root / "a" / "fifo")
    return root, outside


def test_walk_reports_links_as_links_and_never_enters_them(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    fd = open_root(root)
    try:
        res = walk_paths(fd, ["a"])
        through = walk_paths(fd, ["a/out-link/secret.txt"])
        assert list_children(fd, "a/out-link") == []
    finally:
        os.close(fd)
    kinds = {e.relpath: (e.kind, e.size) for e in res.entries}
    assert kinds["a/b/f.txt"] == (FILE, 5)
    assert kinds["a/out-link"][0] == SYMLINK
    assert kinds["a/file-link"][0] == SYMLINK
    assert kinds["a/fifo"][0] == OTHER
    assert not any("secret" in p for p in kinds)
    assert sorted(res.dirs) == ["a", "a/b"]
    assert through.entries == [] and through.errors  # a path through a link is refused


def test_delete_unlinks_links_not_targets_and_never_folders(tmp_path: Path) -> None:
    root, outside = _tree(tmp_path)
    fd = open_root(root)
    try:
        res = delete_files(
            fd,
            [
                ("a/out-link", 1),
                ("a/file-link", 1),
                ("a/b", 0),
                ("a/out-link/secret.txt", 7),
                ("a/missing", 3),
            ],
        )
        prune_empty_dirs(fd, ["a/b", "a"], res)
    finally:
        os.close(fd)
    assert (outside / "secret.txt").read_text() == "keep me"
    assert not os.path.lexists(root / "a" / "out-link")
    assert not os.path.lexists(root / "a" / "file-link")
    assert (root / "a" / "b" / "f.txt").exists()  # the folder was not removed
    assert res.files_removed == 2 and res.bytes_removed == 2
    assert len(res.errors) == 2  # the folder (EISDIR) and the path through a link
    assert res.dirs_removed == 0  # neither folder is empty


def test_prune_removes_only_empty_folders_deepest_first(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "x" / "y" / "z").mkdir(parents=True)
    (root / "keep").mkdir()
    (root / "keep" / "f").write_text("1")
    fd = open_root(root)
    try:
        res = prune_empty_dirs(fd, ["x", "x/y", "x/y/z", "keep"])
    finally:
        os.close(fd)
    assert res.dirs_removed == 3 and not (root / "x").exists() and (root / "keep" / "f").exists()
