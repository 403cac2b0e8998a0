"""``--dry-run`` on a login node: no pipeline executable, no FreeSurfer license.

The plan is printed (one command per participant on stdout), what could not be checked is
said on stderr, and the exit code is 0 when the plan itself is valid. Mistakes in the plan
are still refused (64), and a real run still refuses a missing executable (66).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from bids_energy.pipelines.dryrun import NEWEST_KNOWN

STANDINS = Path(__file__).resolve().parents[1] / "fixtures" / "standins"


@pytest.fixture
def login_env(tmp_path) -> dict[str, str]:
    """A PATH without any pipeline, and no license anywhere."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": f"{empty}{os.pathsep}/usr/bin{os.pathsep}/bin", "FS_LICENSE": "",
            "FREESURFER_HOME": ""}


def _commands(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("pipeline,exe", [("fmriprep", "fmriprep"),
                                          ("fastsurfer", "run_fastsurfer.sh"),
                                          ("freesurfer", "recon-all")])
def test_dry_run_without_executable_or_license(run_cli, synthetic_bids, tmp_path, login_env,
                                               pipeline, exe):
    out = tmp_path / "out"
    rc, stdout, stderr = run_cli(synthetic_bids, out, "participant", "--pipeline", pipeline,
                                 "--dry-run", env=login_env)
    assert rc == 0, stderr
    commands = _commands(stdout)
    assert [c[0] for c in commands] == [exe] * 3
    for label, argv in zip(("01", "02", "03"), commands, strict=True):
        assert f"sub-{label}" in " ".join(argv) or label in argv
    known = NEWEST_KNOWN[pipeline]
    assert f"{exe} not found on PATH: version-dependent flags checked against the newest " \
           f"known version {pipeline} {known.version}" in stderr
    assert "no FreeSurfer license: the real run would exit 126" in stderr
    assert not out.exists()


def test_fmriprep_plan_uses_the_newest_known_version(run_cli, synthetic_bids_sessions, tmp_path,
                                                     login_env):
    """--session-label exists from fMRIPrep 24.1: the newest known version decides."""
    rc, stdout, stderr = run_cli(synthetic_bids_sessions, tmp_path / "out", "participant",
                                 "--pipeline", "fmriprep", "--session-label", "2",
                                 "--participant-label", "01", "--dry-run", env=login_env)
    assert rc == 0, stderr
    (argv,) = _commands(stdout)
    assert argv[argv.index("--session-label") + 1] == "2"
    assert "--fs-license-file" not in argv


def test_variant_refused_by_the_newest_version_is_still_a_usage_error(
        run_cli, synthetic_bids, tmp_path, login_env):
    rc, stdout, stderr = run_cli(synthetic_bids, tmp_path / "out", "participant",
                                 "--pipeline", "fmriprep", "--variant", "aroma", "--dry-run",
                                 env=login_env)
    assert rc == 64 and stdout == ""
    assert f"found {NEWEST_KNOWN['fmriprep'].version}" in stderr
    rc, _, stderr = run_cli(synthetic_bids, tmp_path / "out", "participant", "--pipeline",
                            "fmriprep", "--variant", "no-such-variant", "--dry-run",
                            env=login_env)
    assert rc == 64 and "unknown variant" in stderr


def test_license_path_of_the_job_is_kept_in_the_plan(run_cli, synthetic_bids, tmp_path,
                                                     login_env):
    lic = tmp_path / "cluster" / "license.txt"  # exists only where the job runs
    rc, stdout, stderr = run_cli(synthetic_bids, tmp_path / "out", "participant", "--pipeline",
                                 "fmriprep", "--participant-label", "02", "--fs-license-file",
                                 lic, "--dry-run", env=login_env)
    assert rc == 0, stderr
    (argv,) = _commands(stdout)
    assert argv[argv.index("--fs-license-file") + 1] == str(lic)
    assert f"--fs-license-file {lic}: no such file here: the real run would exit 126" in stderr


def test_license_present_executable_missing(run_cli, synthetic_bids, tmp_path, login_env):
    lic = tmp_path / "license.txt"
    lic.write_text("stand-in license\n")
    rc, stdout, stderr = run_cli(synthetic_bids, tmp_path / "out", "participant", "--pipeline",
                                 "fmriprep", "--dry-run", env={**login_env, "FS_LICENSE": str(lic)})
    assert rc == 0, stderr
    assert all(c[c.index("--fs-license-file") + 1] == str(lic) for c in _commands(stdout))
    assert "license" not in stderr.lower() and "not found on PATH" in stderr


def test_pipeline_bin_named_but_absent_here(run_cli, synthetic_bids, tmp_path, login_env):
    """A path inside the image (e.g. /opt/conda/bin/fmriprep) is kept in the command."""
    rc, stdout, stderr = run_cli(synthetic_bids, tmp_path / "out", "participant", "--pipeline",
                                 "fmriprep", "--pipeline-bin", "/opt/conda/bin/fmriprep",
                                 "--participant-label", "03", "--dry-run", env=login_env)
    assert rc == 0, stderr
    assert _commands(stdout)[0][0] == "/opt/conda/bin/fmriprep"
    assert "--pipeline-bin /opt/conda/bin/fmriprep not found here" in stderr


def test_stand_in_found_is_asked_for_its_version(run_cli, synthetic_bids, tmp_path, login_env):
    """With the executable here, its own --version is used and nothing is said about it."""
    rc, stdout, stderr = run_cli(synthetic_bids, tmp_path / "out", "participant", "--pipeline",
                                 "fmriprep", "--pipeline-bin", STANDINS / "fmriprep",
                                 "--participant-label", "01", "--dry-run", env=login_env)
    assert rc == 0, stderr
    assert "not found" not in stderr and "newest known" not in stderr
    assert "no FreeSurfer license: the real run would exit 126" in stderr


def test_real_run_still_refuses_a_missing_executable(run_cli, synthetic_bids, tmp_path,
                                                     login_env):
    rc, stdout, stderr = run_cli(synthetic_bids, tmp_path / "out", "participant", "--pipeline",
                                 "fmriprep", env=login_env)
    assert rc == 66 and "fmriprep not found on PATH" in stderr
