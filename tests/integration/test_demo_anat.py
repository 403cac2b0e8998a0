"""The ANTs demo pipeline through the CLI: template-grid derivatives, quality beside cost.

Two synthetic participants (made from the template with known deformations) run in
``baseline`` (affine + SyN) and ``affine-only``; the affine cannot undo the smooth
deformation, so its tissue overlap with the template must come out lower. The group level
then finds the quality files without --quality-tsv.
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from bids_energy import quality, template
from tests.conftest import tree_hash

SPACE = template.SPACE


@pytest.fixture(scope="module")
def demo_runs(_pristine_bids, tmp_path_factory):
    """Participant level for sub-01 and sub-02 in two variants, then the group level."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path_factory.mktemp("demo_anat") / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before = tree_hash(_pristine_bids)
    logs = []
    for variant in ("baseline", "affine-only"):
        p = subprocess.run([sys.executable, str(REPO / "run.py"), str(_pristine_bids), str(out),
                            "participant", "--participant-label", "01", "02",
                            "--variant", variant, "--region", "CA-QC"],
                           capture_output=True, text=True, env=env, timeout=600)
        assert p.returncode == 0, p.stderr
        logs.append(p.stderr)
    g = subprocess.run([sys.executable, str(REPO / "run.py"), str(_pristine_bids), str(out),
                        "group"], capture_output=True, text=True, env=env, timeout=300)
    assert g.returncode == 0, g.stderr
    assert tree_hash(_pristine_bids) == before
    return out


def _quality(out, pipeline_dir, label):
    path = out / pipeline_dir / f"sub-{label}" / f"sub-{label}{quality.SUFFIX}"
    return json.loads(path.read_text())["metrics"]


def test_derivatives_are_named_as_fmriprep_and_on_the_template_grid(demo_runs):
    anat = demo_runs / "demo" / "sub-01" / "anat"
    names = sorted(p.name for p in anat.iterdir())
    for expected in (
        "sub-01_desc-preproc_T1w.nii.gz", "sub-01_desc-brain_mask.nii.gz", "sub-01_dseg.nii.gz",
        "sub-01_label-GM_probseg.nii.gz", "sub-01_label-WM_probseg.nii.gz",
        "sub-01_label-CSF_probseg.nii.gz",
        f"sub-01_space-{SPACE}_res-2_desc-preproc_T1w.nii.gz",
        f"sub-01_space-{SPACE}_res-2_dseg.nii.gz",
        f"sub-01_space-{SPACE}_res-2_desc-brain_mask.nii.gz",
        f"sub-01_from-T1w_to-{SPACE}_mode-image_xfm.h5",
        f"sub-01_from-{SPACE}_to-T1w_mode-image_xfm.h5",
    ):
        assert expected in names, (expected, names)
    shape, affine = template.grid(2)
    for name in names:
        if f"space-{SPACE}_res-2" in name and name.endswith(".nii.gz"):
            img = nib.load(anat / name)
            assert img.shape == shape, name
            assert np.allclose(img.affine, affine, atol=1e-4), (name, img.affine)
    dseg = np.asarray(nib.load(anat / "sub-01_dseg.nii.gz").dataobj)
    assert set(np.unique(dseg)) == {0, 1, 2, 3}
    side = json.loads((anat / "sub-01_dseg.json").read_text())
    assert side["Labels"] == {"1": "GM", "2": "WM", "3": "CSF"}


def test_affine_only_scores_lower_overlap_than_baseline(demo_runs):
    for label in ("01", "02"):
        base = _quality(demo_runs, "demo", label)
        aff = _quality(demo_runs, "demo-affine-only", label)
        assert 0.3 < base["dice_mean"] <= 1.0
        assert aff["dice_mean"] < base["dice_mean"], (label, base, aff)
        assert aff["ncc"] < base["ncc"], (label, base, aff)


def test_worker_marks_its_phases(_pristine_bids, tmp_path):
    """Run alone with BIDS_ENERGY_PHASE_FILE set, the worker writes begin/end per step."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    marks = tmp_path / "phases.txt"
    env = dict(os.environ, BIDS_ENERGY_PHASE_FILE=str(marks), PYTHONPATH=str(REPO))
    t1w = _pristine_bids / "sub-03" / "anat" / "sub-03_T1w.nii.gz"
    p = subprocess.run([sys.executable, "-m", "bids_energy.pipelines.demo_worker", "--t1w",
                        str(t1w), "--out", str(tmp_path / "sub-03"), "--prefix", "sub-03",
                        "--transform", "affine"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    lines = [ln.split() for ln in marks.read_text().splitlines()]
    assert [(w, n) for _, w, n in lines] == [
        (w, n) for n in ("bias-correction", "registration", "segmentation", "quality")
        for w in ("begin", "end")]
    times = [float(t) for t, _, _ in lines]
    assert times == sorted(times)


def test_group_level_reads_the_quality_files_without_quality_tsv(demo_runs):
    html = (demo_runs / "group_footprint.html").read_text()
    assert 'id="quality"' in html and "dice_mean" in html
    from bids_energy.analysis.quality_files import read_quality_files

    table, metric, higher = read_quality_files(demo_runs)
    assert metric == "dice_mean" and higher is True
    assert sorted(zip(table["participant"], table["variant"], strict=True)) == [
        ("01", "affine-only"), ("01", "baseline"), ("02", "affine-only"), ("02", "baseline")]


def test_demo_summary_sets_savings_beside_quality(demo_runs):
    from bids_energy.cli.demo import summary

    lines = summary(demo_runs).splitlines()
    assert "dice_mean" in lines[0] and "Pareto" in lines[0]
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    assert set(rows) == {"baseline", "affine-only"}
    assert "(reference)" in rows["baseline"]
    assert "%" in rows["affine-only"]  # a change against the baseline, with its interval
