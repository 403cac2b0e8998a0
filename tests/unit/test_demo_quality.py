"""Pure parts of the demo pipeline: quality scores, the template's grid, the extra's guard."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bids_energy import quality, template


def test_dice_known_overlap():
    a = np.zeros((4, 4, 4), np.uint8)
    b = np.zeros_like(a)
    a[:2] = 1  # 32 voxels
    b[1:3] = 1  # 32 voxels, 16 shared
    assert quality.dice(a, b, 1) == pytest.approx(0.5)
    assert quality.dice(a, a, 1) == 1.0
    assert quality.dice(a, b, 2) == 1.0  # absent from both


def test_ncc_and_mutual_information():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 8, 8))
    mask = np.ones_like(x, bool)
    assert quality.ncc(x, 3 * x + 2, mask) == pytest.approx(1.0)
    assert quality.ncc(x, -x, mask) == pytest.approx(-1.0)
    noise = rng.normal(size=x.shape)
    assert abs(quality.ncc(x, noise, mask)) < 0.2
    assert quality.mutual_information(x, x, mask) > quality.mutual_information(x, noise, mask)


def test_scores_and_file(tmp_path):
    seg = np.array([[[1, 2, 3, 0]]], np.uint8)
    img = np.array([[[1.0, 2.0, 3.0, 0.0]]])
    s = quality.scores(seg, seg, img, img, seg > 0, {"GM": 1, "WM": 2, "CSF": 3})
    assert s["dice_mean"] == 1.0 and s["ncc"] == pytest.approx(1.0)
    path = quality.write(quality.path_for(tmp_path, "sub-01"), s, "ref", "method")
    assert path.name == "sub-01_desc-quality.json"
    rec = json.loads(path.read_text())
    assert rec["primary_metric"] == "dice_mean" and rec["metrics"]["dice_gm"] == 1.0


def test_decimation_keeps_origin_and_mean():
    a = np.zeros((9, 1, 1), np.float32)
    a[4] = 1.0
    d = template._decimate_axis(a, 2, 0)
    assert d.shape == (5, 1, 1)
    # the impulse at 1 mm index 4 lands on 2 mm index 2 (same physical point), weight 1/2
    assert d[:, 0, 0].tolist() == pytest.approx([0, 0, 0.5, 0, 0])
    a[4], a[3] = 0.0, 1.0  # between two kept samples: split between them
    assert template._decimate_axis(a, 2, 0)[:, 0, 0].tolist() == pytest.approx([0, 0.25, 0.25, 0, 0])
    flat = np.ones((10, 3, 3), np.float32)
    assert np.allclose(template._downsample(flat, 2)[1:-1, 1:-1, 1:-1], 1.0)


def test_template_grid_is_nilearns_and_the_space_is_symmetric_2009a():
    pytest.importorskip("nilearn")
    from nilearn.datasets import load_mni152_template

    shape, affine = template.grid(2)
    ref = load_mni152_template(resolution=2)
    assert shape == ref.shape[:3]
    assert np.allclose(affine, ref.affine)
    assert template.SPACE == "MNI152NLin2009aSym"
    assert all("nlin_sym_09a" in f for f in template.FILES.values())
    tpl = template.load(2)
    assert tpl.shape == shape and tpl.mask.any()
    labels = tpl.dseg()
    assert set(np.unique(labels)) == {0, 1, 2, 3}


def test_missing_extra_is_one_line_naming_the_install(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(template.importlib.util, "find_spec",
                        lambda name, *a: None if name == "ants" else real(name, *a))
    with pytest.raises(template.DemoExtraMissing) as exc:
        template.require_demo_extra()
    assert exc.value.exit_code == 1
    assert "pip install 'bids-energy[demo]'" in str(exc.value)
    from bids_energy.cli.run import main

    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset_description.json").write_text(
        json.dumps({"Name": "x", "BIDSVersion": "1.9.0"}))
    (tmp_path / "ds" / "sub-01" / "anat").mkdir(parents=True)
    rc = main([str(tmp_path / "ds"), str(tmp_path / "out"), "participant", "--pipeline", "demo"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert any("pip install 'bids-energy[demo]'" in line for line in err)
    assert "Traceback" not in "\n".join(err)
