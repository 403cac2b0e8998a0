"""sacct records against footprints (GA4HPC comparison) and the estimate --report page: pure parts
on hand-computed values."""

import logging
import math

import pandas as pd
import pytest

from bids_energy.analysis import collect
from bids_energy.estimate.sacct import SacctJob, parse_sacct
from bids_energy.report import sacct_compare, sacct_report
from tests.fixtures.footprints import make_footprint

HEADER = (
    "JobID|JobName|Partition|Submit|Elapsed|NCPUS|TotalCPU|CPUTime|ReqMem|MaxRSS|State|AllocTres"
)


def runs_of(*recs) -> pd.DataFrame:
    rows = []
    for i, rec in enumerate(recs):
        row, _ = collect.flatten(rec, f"f{i}")
        row["run_id"] = i
        rows.append(row)
    return pd.DataFrame(rows, columns=[*collect.COLUMNS, *collect.INTERNAL])


def slurm(job_id=None, array=None, task=None, pue=1.2, ci=100.0) -> dict:
    return {
        "context": {"slurm": {"job_id": job_id, "array_job_id": array, "array_task_id": task}},
        "carbon": {"pue": pue, "ci_g_per_kwh": ci},
    }


def test_sacct_figures_hand_computed():
    # 1 h elapsed, 2 h TotalCPU, 4 GB reserved, no GPU; GA defaults 12 W/core, 0.3725 W/GB.
    job = SacctJob("7_1", elapsed_s=3600, total_cpu_s=7200, req_mem_gb=4.0, max_rss_gb=1.5)
    got = sacct_compare.sacct_figures(job, 1.2, 100.0)
    energy = 2 * 12 + 1 * 4 * 0.3725  # 25.49 Wh
    assert got["sacct_energy_wh"] == pytest.approx(energy)
    assert got["sacct_co2e_g"] == pytest.approx(energy * 1.2 / 1000 * 100)
    assert got["sacct_max_rss_gb"] == 1.5 and got["sacct_total_cpu_s"] == 7200
    assert got["sacct_method"] == "estimated: ga4hpc-sacct"
    # Without the footprint's carbon block, energy still, CO2e not invented.
    assert sacct_compare.sacct_figures(job, None, 100.0)["sacct_co2e_g"] is None
    assert sacct_compare.sacct_figures(job, 1.2, math.nan)["sacct_energy_wh"] == pytest.approx(
        energy
    )


def test_attach_matches_array_tasks_and_plain_job_ids(caplog):
    runs = runs_of(
        make_footprint(participant="01", energy_wh=10.0, co2e_g=0.5, **slurm("501", "500", "1")),
        make_footprint(participant="02", energy_wh=20.0, co2e_g=1.0, **slurm("502", 500, 2)),
        make_footprint(participant="03", energy_wh=5.0, **slurm("900")),
        make_footprint(participant="04", energy_wh=5.0),  # not under Slurm
    )
    text = "\n".join(
        [
            HEADER,
            "500_1|a|cpu|x|01:00:00|2|02:00:00|02:00:00|4G||COMPLETED|cpu=2,mem=4G,node=1",
            "500_1.batch|batch||x|01:00:00|2|02:00:00|02:00:00||1536M|COMPLETED|cpu=2",
            "500_2|a|cpu|x|00:30:00|1|00:30:00|00:30:00|2G||COMPLETED|cpu=1,mem=2G,node=1",
            "900|b|cpu|x|00:10:00|1|00:06:00|00:10:00|1G||FAILED|cpu=1,mem=1G,node=1",
            "500_3|a|cpu|x|00:10:00|1|00:06:00|00:10:00|1G||COMPLETED|cpu=1,mem=1G,node=1",
        ]
    )
    with caplog.at_level(logging.WARNING):
        out, warns = sacct_compare.attach_sacct(runs, parse_sacct(text))
    by = out.set_index("participant")
    assert by.loc["01", "sacct_job_id"] == "500_1"
    gib = 1024**3 / 1e9  # Slurm's G is GiB; memory is reported in decimal GB
    assert by.loc["01", "sacct_energy_wh"] == pytest.approx(24 + 4 * gib * 0.3725)
    assert by.loc["01", "sacct_max_rss_gb"] == pytest.approx(1.5 * gib)
    assert by.loc["02", "sacct_job_id"] == "500_2"  # ids stored as numbers still match
    assert by.loc["02", "sacct_energy_wh"] == pytest.approx(0.5 * 12 + 0.5 * 2 * gib * 0.3725)
    assert by.loc["03", "sacct_job_id"] == "900" and by.loc["03", "sacct_state"] == "FAILED"
    assert pd.isna(by.loc["04", "sacct_energy_wh"])
    assert warns == ["sacct job 500_3 (COMPLETED) matches no footprint"]
    assert sum("500_3" in r.message for r in caplog.records) == 1
    assert list(runs.columns) == [*collect.COLUMNS, *collect.INTERNAL]  # input untouched


def test_ambiguous_match_is_left_out():
    runs = runs_of(
        make_footprint(participant="01", **slurm("42")),
        make_footprint(participant="01", variants=["x"], **slurm("42")),
    )
    text = HEADER + "\n42|a|cpu|x|00:10:00|1|00:06:00|00:10:00|1G||COMPLETED|cpu=1\n"
    out, warns = sacct_compare.attach_sacct(runs, parse_sacct(text))
    assert out["sacct_job_id"].isna().all()
    assert warns == ["sacct job 42 (COMPLETED) matches 2 runs (ambiguous)"]


def test_comparison_rows_and_summary_ratios():
    runs = runs_of(
        make_footprint(participant="01", energy_wh=10.0, co2e_g=0.5, **slurm("1")),
        make_footprint(participant="02", energy_wh=20.0, co2e_g=1.0, **slurm("2")),
        make_footprint(participant="03", energy_wh=40.0, status="failed", **slurm("3")),
    )
    # TotalCPU only (no memory): 1 h -> 12 Wh, 1 h -> 12 Wh, 2 h -> 24 Wh.
    text = "\n".join(
        [HEADER]
        + [
            f"{j}|a|cpu|x|01:00:00|1|{cpu}|01:00:00|||COMPLETED|cpu=1"
            for j, cpu in (("1", "01:00:00"), ("2", "01:00:00"), ("3", "02:00:00"))
        ]
    )
    out, _ = sacct_compare.attach_sacct(runs, parse_sacct(text))
    rows = sacct_compare.comparison_rows(out)
    ratios = {r["participant"]: r["energy_ratio"] for r in rows}
    assert ratios == pytest.approx({"01": 1.2, "02": 0.6, "03": 0.6})
    r1 = next(r for r in rows if r["participant"] == "01")
    assert r1["sacct_wall_h"] == 1.0 and r1["sacct_cpu_h"] == 1.0
    assert r1["co2e_ratio"] == pytest.approx(12 * 1.2 / 1000 * 100 / 0.5)
    s = sacct_compare.sacct_summary(rows)  # the failed run is not in the totals
    assert s["n"] == 2 and s["ours_wh"] == 30.0 and s["sacct_wh"] == pytest.approx(24.0)
    assert s["ratio_of_totals"] == pytest.approx(0.8)
    assert s["ratio_median"] == pytest.approx(0.9)
    assert sacct_compare.comparison_rows(runs) == []  # no sacct columns: nothing to compare


def test_malformed_file_one_warning_good_file_kept(tmp_path, caplog):
    good = tmp_path / "sacct_1.tsv"
    good.write_text(HEADER + "\n1|a|cpu|x|01:00:00|1|01:00:00|01:00:00|||COMPLETED|cpu=1\n")
    bad = tmp_path / "sacct_2.tsv"
    bad.write_text("this is not sacct output\nat all\n")
    short = tmp_path / "sacct_3.tsv"
    short.write_text(HEADER + "\n5|a|cpu\n")
    (tmp_path / "sacct_dir.tsv").mkdir()  # not a file: ignored
    files = sacct_compare.find_sacct_files(tmp_path)
    assert [p.name for p in files] == ["sacct_1.tsv", "sacct_2.tsv", "sacct_3.tsv"]
    with caplog.at_level(logging.WARNING):
        jobs, warns = sacct_compare.read_sacct_files(files)
    assert [j.job_id for j in jobs] == ["1"]
    assert len(warns) == 2 and "sacct_2.tsv" in warns[0] and "sacct_3.tsv" in warns[1]
    assert len(caplog.records) == 2


ESTIMATE_ROWS = [
    {"job_id": "1", "partition": "cpu", "state": "COMPLETED", "wall_h": 1.0,
     "total_cpu_h": 2.0, "energy_wh": 10.0, "co2e_g": 1.0, "method": "estimated: ga4hpc-sacct"},
    {"job_id": "2", "partition": "cpu", "state": "FAILED", "wall_h": 3.0,
     "total_cpu_h": 4.0, "energy_wh": 30.0, "co2e_g": 3.0, "method": "estimated: ga4hpc-sacct"},
    {"job_id": "3_1", "partition": "gpu", "state": "COMPLETED", "wall_h": 2.0,
     "cpu_h": 1.0, "energy_wh": 200.0, "co2e_g": 6.0, "method": "estimated: ga4hpc-sacct"},
]  # fmt: skip


def test_partition_summary_known_values():
    rows = sacct_report.partition_summary(sacct_report.job_table(ESTIMATE_ROWS))
    cpu, gpu, total = rows
    assert (cpu["partition"], cpu["n"], gpu["partition"], gpu["n"]) == ("cpu", 2, "gpu", 1)
    assert cpu["wall_h_mean"] == 2.0 and cpu["wall_h_sd"] == pytest.approx(math.sqrt(2))
    assert cpu["cpu_h_mean"] == 3.0 and cpu["energy_wh_mean"] == 20.0
    assert cpu["energy_wh_sd"] == pytest.approx(math.sqrt(200))
    assert cpu["energy_wh_total"] == 40.0 and cpu["co2e_g_total"] == 4.0
    assert gpu["cpu_h_mean"] == 1.0 and gpu["energy_wh_sd"] is None  # n = 1: no sd
    assert total["partition"] == "all partitions" and total["n"] == 3
    assert total["energy_wh_total"] == 240.0 and total["co2e_g_total"] == 10.0
    one = sacct_report.partition_summary(sacct_report.job_table(ESTIMATE_ROWS[:2]))
    assert len(one) == 1  # a single partition needs no "all partitions" row


def test_render_group_report_writes_self_contained_page(tmp_path):
    path = sacct_report.render_group_report(ESTIMATE_ROWS, tmp_path / "rep")
    assert path == tmp_path / "rep" / "sacct_estimate.html"
    html = path.read_text()
    assert "Content-Security-Policy" in html and "<svg" in html
    assert "<script" not in html.lower()
    for text in ("3_1", "gpu", "FAILED", "240", "estimated: ga4hpc-sacct", "all partitions"):
        assert text in html
    assert "20 (14)" in html  # cpu energy mean (sd): 20 Wh (sqrt 200)
    stripped = html.replace("http://www.w3.org/2000/svg", "")
    assert "http://" not in stripped and "https://" not in stripped


def test_render_group_report_with_no_jobs(tmp_path):
    html = sacct_report.render_group_report([], tmp_path).read_text()
    assert "0 jobs" in html
