"""The real container: built offline with the project's Dockerfile, run with podman.

The heavy lifting is ``ci/container/build-and-run.sh`` (a human can run it too); this test
calls it, runs the demo pipeline with the input mounted read-only, and checks that the
footprint says the job's own cgroup was measured and that the input is untouched.
First run about 2 minutes (debootstrap, wheels), then about 1 minute (cached base and wheels).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bids_energy.footprint import validation_errors
from tests.conftest import tree_hash
from tests.fixtures.tools import SYSTEM_STEP, require_executable, require_root

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ci" / "container" / "build-and-run.sh"

pytestmark = [
    pytest.mark.container,
    pytest.mark.slow,
]


@pytest.fixture(scope="module", autouse=True)
def _container_tools() -> None:
    """Rootful podman and debootstrap (the base image is built offline): CI installs them."""
    require_root("rootful podman needs root")
    for tool in ("podman", "debootstrap"):
        require_executable(tool, SYSTEM_STEP)


def _script(*args: str, env: dict | None = None, timeout: int = 900):
    e = dict(os.environ, **(env or {}))
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=e, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    proc = _script("image")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return os.environ.get("BIDS_ENERGY_IMAGE", "localhost/bids-energy:ci")


def _run(ds: Path, out: Path, label: str, extra_env: dict | None = None):
    return _script("run", str(ds), str(out), "participant", "--participant-label", label,
                   "--pipeline", "demo", env=extra_env, timeout=600)


def _footprint(out: Path, label: str) -> dict:
    path = out / "demo" / f"sub-{label}" / f"sub-{label}_footprint.json"
    assert path.is_file(), sorted(str(p) for p in out.rglob("*"))
    return json.loads(path.read_text())


def test_container_as_non_root_reads_only_and_measures_its_cgroup(image, synthetic_bids, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the image's default user is not root
    before = tree_hash(synthetic_bids)
    proc = _run(synthetic_bids, out, "01")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    fp = _footprint(out, "01")
    assert validation_errors(fp) == []
    assert fp["status"] == "success"
    assert fp["attribution"]["method"] == "cgroup"
    assert fp["context"]["container"]["runtime"] == "podman"
    assert fp["context"]["container"]["image"] == image
    assert fp["cpu_s"] > 0
    # written by the container's user, not root
    assert (out / "demo" / "sub-01" / "sub-01_footprint.json").stat().st_uid != 0
    assert tree_hash(synthetic_bids) == before


def test_container_as_root_with_read_only_root_filesystem(image, synthetic_bids, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = tree_hash(synthetic_bids)
    proc = _run(synthetic_bids, out, "02",
                {"PODMAN_RUN_ARGS": "--user 0 --read-only --tmpfs /tmp"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    fp = _footprint(out, "02")
    assert validation_errors(fp) == []
    assert fp["attribution"]["method"] == "cgroup"
    assert tree_hash(synthetic_bids) == before


def test_container_bad_usage_exit_code(image, tmp_path):
    """The BIDS-App exit codes survive the container boundary (64 = usage error)."""
    ds = tmp_path / "missing"
    ds.mkdir()
    proc = _script("run", str(ds), str(tmp_path), "sideways", timeout=300)
    assert proc.returncode in (64, 17), proc.stderr[-2000:]
