"""run_group_level end to end on footprint files written in the participant-level layout."""

import csv
import math

import pytest

from bids_energy.analysis.collect import COLUMNS
from bids_energy.errors import DataError, NothingSelectedError
from bids_energy.report.group import run_group_level
from tests.fixtures.footprints import make_footprint, write_footprint, write_footprints


def study(tmp_path):
    """3 participants x (baseline, fs-no-reconall), one failed run, one broken file."""
    out = tmp_path / "out"
    base = {"01": 10.0, "02": 20.0, "03": 40.0}
    var = {"01": 5.0, "02": 12.0, "03": 18.0}
    for p in base:
        write_footprint(
            out,
            make_footprint(
                participant=p,
                pipeline="fmriprep",
                energy_wh=base[p],
                co2e_g=base[p] / 10,
                wall_s=3600 * base[p] / 10,
            ),
        )
        write_footprint(
            out,
            make_footprint(
                participant=p,
                pipeline="fmriprep",
                variants=["fs-no-reconall"],
                energy_wh=var[p],
                co2e_g=var[p] / 10,
                wall_s=3600 * var[p] / 10,
            ),
        )
    write_footprint(
        out,
        make_footprint(
            participant="04", pipeline="fmriprep", status="failed", energy_wh=9999.0, co2e_g=9999.0
        ),
    )
    (out / "fmriprep" / "sub-05").mkdir(parents=True)
    (out / "fmriprep" / "sub-05" / "sub-05_footprint.json").write_text('{"schema_version": "1.0')
    return out


def read_tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_group_level_writes_tsv_and_html(tmp_path):
    out = study(tmp_path)
    res = run_group_level(out)
    assert (res["n_ok"], res["n_failed"], res["n_skipped"]) == (6, 1, 1)
    assert res["tsv"] == out / "group_footprint.tsv" and res["html"].exists()
    rows = read_tsv(res["tsv"])
    assert list(rows[0]) == COLUMNS
    assert len(rows) == 7
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed[0]["participant"] == "04"
    html = res["html"].read_text()
    # Per-participant changes -50, -40, -55 %: mean -48.3 %, CI from t(0.975, 2).
    assert "-48.3%" in html
    mean, sd = -48.3333, 7.6376
    assert f"{mean - 4.3027 * sd / math.sqrt(3):+.1f}" in html
    assert "cut CO2e by 48%" in html
    # 10,000 scans: mean 23.33 Wh -> 233 kWh baseline; failed run never averaged in.
    assert "233" in html and "9999" not in html.split('id="failed"')[0]
    assert "sub-05_footprint.json" in html  # the skipped file is listed
    assert "<script" not in html.lower()


def test_out_dir_and_extrapolate(tmp_path):
    out = study(tmp_path)
    res = run_group_level(out, extrapolate=100, out_dir=tmp_path / "grp")
    assert res["tsv"].parent == tmp_path / "grp"
    assert "Extrapolated to 100 scans" in res["html"].read_text()


def test_quality_tsv_pareto(tmp_path):
    out = study(tmp_path)
    q = tmp_path / "iqms.tsv"
    q.write_text(
        "participant\tpipeline\tvariant\tsnr\n"
        "sub-01\tfmriprep\tbaseline\t10\nsub-02\tfmriprep\tbaseline\t12\n"
        "sub-01\tfmriprep\tfs-no-reconall\t9\nsub-02\tfmriprep\tfs-no-reconall\t9\n"
    )
    html = run_group_level(out, quality_tsv=q)["html"].read_text()
    assert "Cost against quality (snr, higher is better)" in html
    assert "(Pareto front)" in html


@pytest.mark.parametrize(
    "content",
    [
        "who\tsnr\n01\t1\n",  # no key column (a table without pipeline applies to all: issue 14)
        "participant\tpipeline\tvariant\ta\tb\n01\tx\ty\t1\t2\n",
        "participant\tpipeline\tvariant\tsnr\n01\tx\ty\tgood\n",
    ],
)
def test_bad_quality_tsv_is_data_error(tmp_path, content):
    out = study(tmp_path)
    q = tmp_path / "q.tsv"
    q.write_text(content)
    with pytest.raises(DataError) as err:
        run_group_level(out, quality_tsv=q)
    assert err.value.exit_code == 65


def test_missing_quality_tsv_is_data_error(tmp_path):
    with pytest.raises(DataError):
        run_group_level(study(tmp_path), quality_tsv=tmp_path / "nope.tsv")


def test_nothing_found_is_exit_18(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NothingSelectedError) as err:
        run_group_level(tmp_path / "empty")
    assert err.value.exit_code == 18
    (tmp_path / "empty" / "x_footprint.json").write_text("[]")
    with pytest.raises(NothingSelectedError, match="could be used"):
        run_group_level(tmp_path / "empty")


def test_steps_and_trackers_in_group_report(tmp_path):
    write_footprints(tmp_path, 8)
    html = run_group_level(tmp_path)["html"].read_text()
    assert "Which steps grew or shrank" in html and "surface reconstruction" in html
    assert "CodeCarbon (machine mode)" in html and "bill the whole machine" in html


def test_quality_direction_from_the_cli(tmp_path, run_cli):
    out = study(tmp_path)
    q = tmp_path / "err.tsv"
    q.write_text(
        "participant\tpipeline\tvariant\tdice_error\n"
        "sub-01\tfmriprep\tbaseline\t0.10\nsub-02\tfmriprep\tbaseline\t0.12\n"
        "sub-01\tfmriprep\tfs-no-reconall\t0.2\nsub-02\tfmriprep\tfs-no-reconall\t0.2\n"
    )
    rc, stdout, err = run_cli(tmp_path, out, "group", "--quality-tsv", q, "--quality-lower-is-better")
    assert rc == 0, err
    html = (out / "group_footprint.html").read_text()
    assert "Cost against quality (dice_error, lower is better)" in html
