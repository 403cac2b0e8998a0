"""Atomic writes: a full disk or an unwritable folder gives 73/74, never a truncated file."""

from __future__ import annotations

import errno
import os

import pytest

from bids_energy.atomic_io import atomic_write_text
from bids_energy.errors import OutputError, WriteError


def test_replaces_whole_file(tmp_path):
    p = tmp_path / "a.json"
    p.write_text("old")
    atomic_write_text(p, '{"new": 1}')
    assert p.read_text() == '{"new": 1}'
    assert [x.name for x in tmp_path.iterdir()] == ["a.json"]


def test_disk_full_is_74_and_old_file_survives(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    p.write_text('{"old": true}')

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match="No space left"):
        atomic_write_text(p, '{"new": true}' * 1000)
    assert p.read_text() == '{"old": true}'
    assert [x.name for x in tmp_path.iterdir()] == ["a.json"]


def test_missing_folder_is_73(tmp_path):
    with pytest.raises(OutputError):
        atomic_write_text(tmp_path / "nope" / "a.json", "x")


def test_read_only_folder_is_73(tmp_path, monkeypatch):
    import tempfile

    def denied(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputError, match="Read-only"):
        atomic_write_text(tmp_path / "a.json", "x")
