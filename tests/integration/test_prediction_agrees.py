"""`estimate --from OUT --participants N` and `group --extrapolate N` answer one question
(what would N participants cost, from these footprints): same reader, same predictor, same
numbers, including on a study with a failed run, a duplicate and unreadable files."""

import json
import math

import pytest

from bids_energy.report.group import run_group_level
from tests.fixtures.footprints import make_footprint, write_footprint


def pilot(out):
    for p, wh, wall in (("01", 10.0, 3600), ("02", 14.0, 4000), ("03", 31.0, 8000)):
        write_footprint(out, make_footprint(participant=p, pipeline="fmriprep", energy_wh=wh,
                                            co2e_g=wh / 7, wall_s=wall, cpu_s=wall * 3.5))
        write_footprint(out, make_footprint(participant=p, pipeline="fmriprep",
                                            variants=["fs-no-reconall"], energy_wh=wh / 2,
                                            co2e_g=wh / 14, wall_s=wall / 2))
    write_footprint(out, make_footprint(participant="04", pipeline="fmriprep", status="failed",
                                        energy_wh=999.0))
    # an older run of 01 under another folder: both readers keep only the latest
    write_footprint(out / "old", make_footprint(participant="01", pipeline="fmriprep",
                                                energy_wh=500.0, start_utc="2020-01-01T00:00:00Z"))
    (out / "x_footprint.json").write_text("{broken")
    bad = make_footprint(participant="05", pipeline="fmriprep")
    bad["energy"]["method"] = 7  # valid JSON, breaks the schema
    (out / "sub-05_footprint.json").write_text(json.dumps(bad))


def test_estimate_from_equals_group_extrapolate(tmp_path, run_cli):
    out = tmp_path / "out"
    pilot(out)
    rc, stdout, err = run_cli("estimate", "--from", out, "--participants", 257, "--json")
    assert rc == 0, err
    assert "skipped 2 unreadable" in err
    est = json.loads(stdout)["rows"]
    grp = run_group_level(out, extrapolate=257, out_dir=tmp_path / "g")["extrapolation"]
    assert [(r["pipeline"], r["variant"], r["device"]) for r in est] == [
        ("fmriprep", "baseline", "cpu"), ("fmriprep", "fs-no-reconall", "cpu")]
    assert len(est) == len(grp)
    for e, g in zip(est, grp, strict=True):
        assert set(e) == set(g)
        for key, value in e.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert value == g[key] or (g[key] is None or math.isnan(g[key])), key
    base = est[0]
    assert base["n_runs"] == 3  # failed, duplicate and unreadable runs left out
    assert base["energy_kwh"] == pytest.approx(257 * (10 + 14 + 31) / 3 / 1000)
    assert base["energy_kwh_lo"] < base["energy_kwh"] < base["energy_kwh_hi"]


def test_estimate_from_usage_errors_exit_64(tmp_path, run_cli):
    rc, _, err = run_cli("estimate", "--from", tmp_path, "--participants", "0")
    assert rc == 64 and "must be 1 or more" in err
    rc, _, err = run_cli("estimate", "--from", tmp_path)
    assert rc == 64 and "--participants" in err
