"""MRIQC group tables and BIDS-style tables drive the cost-against-quality plot (CLI)."""

from __future__ import annotations

import re

from tests.fixtures.footprints import make_footprint, write_footprint

# The header of MRIQC's group_T1w.tsv as MRIQC writes it (nipreps/mriqc reference table,
# commit 921635f "Update the T1w IQMs to the new reference"): bids_name first, then the IQMs.
MRIQC_T1W_COLUMNS = (
    "bids_name cjv cnr efc fber fwhm_avg fwhm_x fwhm_y fwhm_z icvs_csf icvs_gm icvs_wm inu_med "
    "inu_range qi_1 qi_2 rpve_csf rpve_gm rpve_wm size_x size_y size_z snr_csf snr_gm snr_total "
    "snr_wm snrd_csf snrd_gm snrd_total snrd_wm spacing_x spacing_y spacing_z summary_bg_k "
    "summary_bg_mad summary_bg_mean summary_bg_median summary_bg_n summary_bg_p05 summary_bg_p95 "
    "summary_bg_stdv summary_csf_k summary_csf_mad summary_csf_mean summary_csf_median "
    "summary_csf_n summary_csf_p05 summary_csf_p95 summary_csf_stdv summary_gm_k summary_gm_mad "
    "summary_gm_mean summary_gm_median summary_gm_n summary_gm_p05 summary_gm_p95 "
    "summary_gm_stdv summary_wm_k summary_wm_mad summary_wm_mean summary_wm_median summary_wm_n "
    "summary_wm_p05 summary_wm_p95 summary_wm_stdv tpm_overlap_csf tpm_overlap_gm tpm_overlap_wm "
    "wm2max"
).split()


def _study(out):
    """2 participants x 2 sessions x (baseline, sloppy) of one pipeline, with phases."""
    for p in ("01", "02"):
        for ses in ("1", "2"):
            for variant, wh in (("baseline", 20.0), ("sloppy", 8.0)):
                phases = {"method": "pro rata", "spans": [["registration", 0.0, 10.0]],
                          "ignored_lines": 0, "rows": [
                              {"phase": "registration", "cpu_s": 9.0, "cpu_share": 0.75,
                               "energy_wh": wh * 0.75, "energy_share": 0.75, "co2e_g": 1.0,
                               "time_s": 10.0, "first_seen_s": 0.0, "last_seen_s": 10.0,
                               "occurrences": 1},
                              {"phase": "(no phase)", "cpu_s": 3.0, "cpu_share": 0.25,
                               "energy_wh": wh * 0.25, "energy_share": 0.25, "co2e_g": 0.3,
                               "time_s": 3.0, "first_seen_s": 10.0, "last_seen_s": 13.0,
                               "occurrences": 1}]}
                write_footprint(out, make_footprint(
                    participant=p, session=ses, pipeline="fmriprep", variants=[variant],
                    energy_wh=wh, co2e_g=wh / 10, phases=phases))
    return out


def _mriqc_table(path):
    rows = []
    for i, name in enumerate(["sub-01_ses-1_T1w", "sub-01_ses-2_T1w", "sub-02_ses-1_T1w",
                              "sub-02_ses-1_run-2_T1w", "sub-02_ses-2_T1w"]):
        vals = {c: f"{0.1 * (i + 1) + j:.4f}" for j, c in enumerate(MRIQC_T1W_COLUMNS[1:])}
        vals["cjv"] = f"{0.40 + 0.05 * i:.3f}"
        rows.append("\t".join([name, *(vals[c] for c in MRIQC_T1W_COLUMNS[1:])]))
    path.write_text("\t".join(MRIQC_T1W_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    return path


def _quality_section(html: str) -> str:
    return html.split('<section id="quality">')[1].split("</section>")[0]


def test_mriqc_group_table_drives_the_quality_plot(tmp_path, run_cli):
    out = _study(tmp_path / "out")
    q = _mriqc_table(tmp_path / "group_T1w.tsv")
    rc, stdout, err = run_cli(tmp_path, out, "group", "--quality-tsv", q)
    assert rc == 65 and "--quality-metric" in err, "dozens of IQMs: the user must choose"
    rc, stdout, err = run_cli(tmp_path, out, "group", "--quality-tsv", q, "--quality-metric", "cjv")
    assert rc == 0, err
    html = (out / "group_footprint.html").read_text()
    sec = _quality_section(html)
    assert "Cost against quality (cjv, lower is better)" in sec
    assert "<svg" in sec and "Lower values are better" in sec
    # the table has no pipeline/variant: it applies to every run of that participant/session
    rows = re.findall(r"<tr><td>fmriprep</td><td>(\w+)</td><td>cpu</td><td class=\"n\">(\d+)</td>",
                      sec)
    assert sorted(rows) == [("baseline", "4"), ("sloppy", "4")]
    assert "averaged" in err  # sub-02 ses-1 has two runs
    assert '<section id="phases">' in html and "registration · sloppy" in html


def test_bids_style_table_drives_the_quality_plot(tmp_path, run_cli):
    out = _study(tmp_path / "out")
    q = tmp_path / "dice.tsv"
    q.write_text("participant_id\tsession_id\tvariant\tdice\tage\n"
                 + "".join(f"sub-{p}\tses-{s}\t{v}\t{d}\t30\n" for p in ("01", "02")
                           for s in ("1", "2") for v, d in (("baseline", 0.9), ("sloppy", 0.8))))
    rc, _, err = run_cli(tmp_path, out, "group", "--quality-tsv", q, "--quality-metric", "dice")
    assert rc == 0, err
    sec = _quality_section((out / "group_footprint.html").read_text())
    assert "Cost against quality (dice, higher is better)" in sec and "<svg" in sec
    assert "0.9" in sec and "0.8" in sec
    # both are on the front: sloppy is cheaper, baseline better
    assert sec.count("<td>yes</td>") == 2


def test_contradicting_direction_flags_are_a_usage_error(tmp_path, run_cli):
    out = _study(tmp_path / "out")
    q = _mriqc_table(tmp_path / "group_T1w.tsv")
    rc, _, err = run_cli(tmp_path, out, "group", "--quality-tsv", q, "--quality-metric", "cjv",
                         "--quality-lower-is-better", "--quality-higher-is-better")
    assert rc == 64 and "contradict" in err
    rc, _, err = run_cli(tmp_path, out, "group", "--quality-tsv", q, "--quality-metric", "cjv",
                         "--quality-higher-is-better")
    assert rc == 0, err
    html = (out / "group_footprint.html").read_text()
    assert "Cost against quality (cjv, higher is better)" in html
    assert "user: command-line flag" in html
