"""The Boutiques descriptor: validated by the real ``bosh``, and the command lines that
``bosh exec simulate`` makes from it are ones our own parser (and CLI) accept.

The descriptor lives in ``descriptors/boutiques.json``: a top-level ``boutiques/`` folder
would import as a namespace package in place of the real ``boutiques`` when the tests run
from the repository root.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from bids_energy.cli.parser import build_parser, parse_args
from tests.fixtures.tools import EXTRAS_STEP, require_module

REPO = Path(__file__).resolve().parents[2]
DESCRIPTOR = REPO / "descriptors" / "boutiques.json"
BOUTIQUES_STEP = EXTRAS_STEP + ": boutiques"


def _descriptor() -> dict:
    return json.loads(DESCRIPTOR.read_text())


@pytest.fixture(scope="module")
def bosh():
    """The real ``bosh`` entry point of the installed boutiques package."""
    return require_module("boutiques.bosh", BOUTIQUES_STEP).bosh


def _simulate(bosh, tmp_path: Path, invocation: dict) -> list[str]:
    path = tmp_path / "invocation.json"
    path.write_text(json.dumps(invocation))
    result = bosh(["exec", "simulate", str(DESCRIPTOR), "-i", str(path)])
    assert result.exit_code == 0, result.error_message
    return shlex.split(result.shell_command)


def _imported_top_level_names() -> set[str]:
    import ast

    names: set[str] = set()
    for root in ("bids_energy", "tests", "benchmarks"):
        for path in (REPO / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names


def test_no_top_level_folder_shadows_an_imported_package():
    """With the repository root first on sys.path, a folder named like a package we import
    (the old ``boutiques/``) would be imported instead of it."""
    ours = {"bids_energy", "tests", "benchmarks", "synthdata"}  # synthdata: our test-data package
    folders = {p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".")}
    imported = _imported_top_level_names()
    assert "boutiques" in imported  # this file's own import: the check can see one
    assert not (folders - ours) & imported, sorted((folders - ours) & imported)


def test_keys_and_flags_match_the_parser():
    desc = _descriptor()
    keys = set(re.findall(r"\[[A-Z_]+\]", desc["command-line"]))
    inputs = {i["value-key"]: i for i in desc["inputs"]}
    assert keys == set(inputs)
    flags = {opt for action in build_parser()._actions for opt in action.option_strings}
    for item in desc["inputs"]:
        if "command-line-flag" in item:
            assert item["command-line-flag"] in flags, item["id"]


def test_bosh_validate_accepts_the_descriptor(bosh):
    assert bosh(["validate", str(DESCRIPTOR)]) is None  # raises on an invalid descriptor


def test_bosh_validate_refuses_a_broken_copy(bosh, tmp_path):
    """The validation above can fail: a default outside the pipeline choices is refused."""
    from boutiques import DescriptorValidationError

    desc = _descriptor()
    (pipeline,) = [i for i in desc["inputs"] if i["id"] == "pipeline"]
    pipeline["default-value"] = "nipype"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(desc))
    with pytest.raises(DescriptorValidationError):
        bosh(["validate", str(broken)])


PARTICIPANT = {
    "bids_dir": "/data/ds", "output_dir": "/out", "analysis_level": "participant",
    "participant_label": ["01", "sub-02"], "session_label": ["1"], "pipeline": "fmriprep",
    "variant": "fs-no-reconall", "fs_license_file": "/lic/license.txt", "work_dir": "/scratch/w",
    "nthreads": 4, "mem_gb": 8.5, "country_code": "CAN", "region": "CA-QC", "pue": 1.2,
    "sampling_interval": 0.5, "cleanup": "delete", "dry_run": True,
}
GROUP = {"bids_dir": "/data/ds", "output_dir": "/out", "analysis_level": "group",
         "pipeline": "fmriprep", "variant": "sloppy", "country_code": "FRA", "extrapolate": 500}


def test_simulated_participant_command_parses_as_given(bosh, tmp_path):
    argv = _simulate(bosh, tmp_path, PARTICIPANT)
    assert argv[0] == "bids-energy"
    opts = parse_args(argv[1:])
    assert (opts.bids_dir, opts.output_dir) == (Path("/data/ds"), Path("/out"))
    assert opts.analysis_level == ["participant"]
    assert opts.participant_label == ["01", "02"] and opts.session_label == ["1"]
    assert (opts.pipeline, opts.variant) == ("fmriprep", ["fs-no-reconall"])
    assert opts.fs_license_file == Path("/lic/license.txt")
    assert opts.work_dir == Path("/scratch/w")
    assert (opts.nthreads, opts.mem_gb, opts.pue, opts.sampling_interval) == (4, 8.5, 1.2, 0.5)
    assert (opts.country_code, opts.region, opts.cleanup) == ("CAN", "CA-QC", "delete")
    assert opts.dry_run is True


def test_simulated_group_command_parses_as_given(bosh, tmp_path):
    argv = _simulate(bosh, tmp_path, GROUP)
    opts = parse_args(argv[1:])
    assert opts.analysis_level == ["group"]
    assert (opts.pipeline, opts.variant, opts.extrapolate) == ("fmriprep", ["sloppy"], 500)
    assert opts.dry_run is False and opts.participant_label is None


def test_simulated_minimal_invocations_parse(bosh, tmp_path):
    for level in ("participant", "group"):
        argv = _simulate(bosh, tmp_path, {"bids_dir": "/d", "output_dir": "/o",
                                          "analysis_level": level})
        opts = parse_args(argv[1:])
        assert opts.analysis_level == [level] and opts.pipeline == "demo"


def test_simulated_dry_run_runs_through_the_cli(bosh, synthetic_bids, tmp_path, run_cli):
    """The descriptor's command, as bosh writes it, is accepted by the real entry point."""
    argv = _simulate(bosh, tmp_path, {
        "bids_dir": str(synthetic_bids), "output_dir": str(tmp_path / "out"),
        "analysis_level": "participant", "participant_label": ["01", "03"],
        "pipeline": "demo", "dry_run": True, "country_code": "CAN",
    })
    rc, out, err = run_cli(*argv[1:])
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "sub-01" in lines[0] and "sub-03" in lines[1]
    assert not (tmp_path / "out").exists()
