"""Shared fixtures: small synthetic BIDS datasets and a way to prove the input never changes."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMALL_SHAPE = (40, 48, 40)


def tree_hash(root: Path) -> str:
    """Hash of every path, mode and file content under ``root`` (symlinks as links)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            p = Path(dirpath) / name
            st = p.lstat()
            h.update(str(p.relative_to(root)).encode())
            h.update(oct(st.st_mode).encode())
            if p.is_symlink():
                h.update(os.readlink(p).encode())
            elif p.is_file():
                h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def _pristine_bids(tmp_path_factory) -> Path:
    from bids_energy.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("pristine") / "ds", n_subjects=3,
                                  shape=SMALL_SHAPE)


@pytest.fixture(scope="session")
def _pristine_bids_sessions(tmp_path_factory) -> Path:
    from bids_energy.synthetic import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("pristine_ses") / "ds", n_subjects=2,
                                  sessions=["1", "2"], shape=SMALL_SHAPE)


@pytest.fixture
def synthetic_bids(_pristine_bids, tmp_path) -> Path:
    """A fresh copy of a 3-participant synthetic dataset (sub-01..03, T1w + bold)."""
    dst = tmp_path / "ds"
    shutil.copytree(_pristine_bids, dst)
    return dst


@pytest.fixture
def synthetic_bids_sessions(_pristine_bids_sessions, tmp_path) -> Path:
    """2 participants x sessions 1 and 2."""
    dst = tmp_path / "ds_ses"
    shutil.copytree(_pristine_bids_sessions, dst)
    return dst


@pytest.fixture
def run_cli(tmp_path):
    """Run the real BIDS-App entry point in a subprocess: (returncode, stdout, stderr)."""
    import subprocess

    def _run(*args, env=None, timeout=300, cwd=None):
        e = dict(os.environ)
        e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
        if env:
            e.update(env)
        p = subprocess.run([sys.executable, str(REPO / "run.py"), *map(str, args)],
                           capture_output=True, text=True, env=e, timeout=timeout, cwd=cwd)
        return p.returncode, p.stdout, p.stderr

    return _run
