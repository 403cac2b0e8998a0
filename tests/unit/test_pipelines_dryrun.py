"""Dry-run planning without the executable or a license (bids_energy/pipelines/dryrun.py)."""

from __future__ import annotations

import pytest

from bids_energy.errors import UsageError
from bids_energy.pipelines import REGISTRY, get_pipeline
from bids_energy.pipelines.base import version_tuple
from bids_energy.pipelines.dryrun import NEWEST_KNOWN, plan_dry_run, plan_license


@pytest.fixture
def no_pipelines_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))


def test_every_wrapped_pipeline_has_a_newest_known_version_with_a_source():
    for name in REGISTRY:
        pipeline = get_pipeline(name)
        if not pipeline.executable_names:
            continue
        known = NEWEST_KNOWN[name]
        assert version_tuple(known.version) and known.source
        for v in pipeline.variants.values():  # no variant needs a version newer than we know
            if v.min_version:
                assert version_tuple(known.version) >= version_tuple(v.min_version), v.name


def test_missing_executable_plans_with_the_newest_known_version(no_pipelines_on_path):
    plan = plan_dry_run(get_pipeline("fmriprep"), None, ["syn-sdc"], None, {})
    assert plan.executable is None and plan.version == NEWEST_KNOWN["fmriprep"].version
    assert plan.variants == ["syn-sdc"] and plan.license_file is None
    assert plan.notes[0].startswith("fmriprep not found on PATH: version-dependent flags "
                                    "checked against the newest known version fmriprep ")
    assert plan.notes[1].startswith("no FreeSurfer license: the real run would exit 126")


def test_plan_errors_stay_usage_errors(no_pipelines_on_path):
    with pytest.raises(UsageError) as exc:
        plan_dry_run(get_pipeline("fmriprep"), None, ["aroma"], None, {})
    assert exc.value.exit_code == 64


def test_license_lookup_order_and_notes(tmp_path):
    fs = get_pipeline("fastsurfer")
    assert plan_license(fs, ["seg-only"], None, {}) == (None, [])  # needs none
    home = tmp_path / "fs"
    home.mkdir()
    (home / "license.txt").write_text("x")
    found, notes = plan_license(fs, ["baseline"], None, {"FREESURFER_HOME": str(home)})
    assert found == (home / "license.txt").resolve() and notes == []
    missing, notes = plan_license(fs, ["baseline"], tmp_path / "nope.txt", {})
    assert missing == tmp_path / "nope.txt" and "no such file here" in notes[0]
