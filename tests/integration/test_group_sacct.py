"""Group level with the Slurm group job's saved sacct records beside the footprints."""

import csv
import logging

import pytest

from bids_energy.analysis.collect import COLUMNS
from bids_energy.report.group import run_group_level
from bids_energy.report.sacct_compare import SACCT_COLUMNS
from tests.fixtures.footprints import make_footprint, write_footprint

HEADER = (
    "JobID|JobName|Partition|Submit|Elapsed|NCPUS|TotalCPU|CPUTime|ReqMem|MaxRSS|State|AllocTres"
)


def task(array, n, participant, energy_wh, status="success"):
    return make_footprint(
        participant=participant,
        energy_wh=energy_wh,
        co2e_g=energy_wh * 0.05,
        status=status,
        context={"slurm": {"job_id": str(1000 + n), "array_job_id": array,
                           "array_task_id": str(n)}},
        carbon={"pue": 1.25, "ci_g_per_kwh": 40.0},
    )  # fmt: skip


def read_tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_group_level_compares_with_sacct(tmp_path, caplog):
    out = tmp_path / "out"
    write_footprint(out, task("77", 1, "01", 20.0))
    write_footprint(out, task("77", 2, "02", 10.0))
    write_footprint(out, task("77", 3, "03", 5.0, status="failed"))
    (out / "sacct_77.tsv").write_text(
        "\n".join(
            [
                HEADER,
                # 2 h TotalCPU x 12 W + 1 h x 4 GiB (4.295 GB) x 0.3725 W/GB = 25.60 Wh
                "77_1|demo|cpu|x|01:00:00|2|02:00:00|02:00:00|4G||COMPLETED|cpu=2,mem=4G,node=1",
                "77_1.batch|batch||x|01:00:00|2|02:00:00|02:00:00||2G|COMPLETED|cpu=2",
                # 30 min TotalCPU x 12 W, no memory request, MaxRSS 1 GiB x 0.5 h x 0.3725
                "77_2|demo|cpu|x|00:30:00|1|00:30:00|00:30:00|||COMPLETED|cpu=1,node=1",
                "77_2.batch|batch||x|00:30:00|1|00:30:00|00:30:00||1G|COMPLETED|cpu=1",
                "77_3|demo|cpu|x|00:01:00|1|00:00:30|00:01:00|1G||FAILED|cpu=1,node=1",
                "77_4|demo|cpu|x|00:01:00|1|00:00:30|00:01:00|1G||COMPLETED|cpu=1,node=1",
            ]
        )
        + "\n"
    )
    (out / "sacct_78.tsv").write_text("garbage without a header\n")
    with caplog.at_level(logging.WARNING):
        res = run_group_level(out)
    assert res["n_ok"] == 2 and res["n_failed"] == 1 and res["n_sacct_matched"] == 3
    rows = {r["participant"]: r for r in read_tsv(res["tsv"])}
    assert list(rows["01"]) == [*COLUMNS, *SACCT_COLUMNS]
    gib = 1024**3 / 1e9  # Slurm's G is GiB; memory is reported in decimal GB
    e1 = 2 * 12 + 4 * gib * 0.3725
    assert float(rows["01"]["sacct_energy_wh"]) == pytest.approx(e1, rel=1e-5)
    assert float(rows["01"]["sacct_co2e_g"]) == pytest.approx(e1 * 1.25 / 1000 * 40, rel=1e-5)
    assert float(rows["01"]["sacct_elapsed_s"]) == 3600
    assert float(rows["01"]["sacct_total_cpu_s"]) == 7200
    assert float(rows["01"]["sacct_max_rss_gb"]) == pytest.approx(2.0 * gib, rel=1e-4)
    assert rows["01"]["sacct_method"] == "estimated: ga4hpc-sacct"
    e2 = 0.5 * 12 + 0.5 * 1 * gib * 0.3725
    assert float(rows["02"]["sacct_energy_wh"]) == pytest.approx(e2, rel=1e-5)
    assert rows["03"]["sacct_job_id"] == "77_3"

    html = res["html"].read_text()
    section = html.split('id="sacct"')[1].split("</section>")[0]
    assert "Measured by bids-energy vs estimated from sacct (GA4HPC)" in html
    assert "TotalCPU" in section and "memory model" in section and "attributed" in section
    assert f"x{e1 / 20:.3g}" in section and f"x{e2 / 10:.3g}" in section  # per-run ratios
    assert f"ratio of totals x{(e1 + e2) / 30:.3g}" in section
    assert "77_4" in section and "sacct_78.tsv" in section  # both reasons listed
    warned = [r.getMessage() for r in caplog.records if "sacct" in r.getMessage()]
    assert len(warned) == 2
    assert "<script" not in html.lower()


def test_only_bad_sacct_files_are_not_fatal(tmp_path):
    out = tmp_path / "out"
    write_footprint(out, task("5", 1, "01", 3.0))
    (out / "sacct_5.tsv").write_bytes(b"\xff\xfe not utf-8")
    res = run_group_level(out)
    assert res["n_ok"] == 1 and res["n_sacct_matched"] == 0
    html = res["html"].read_text()
    assert "No sacct record matched a footprint" in html and "sacct_5.tsv" in html


def test_no_sacct_file_leaves_report_as_before(tmp_path):
    out = tmp_path / "out"
    write_footprint(out, task("5", 1, "01", 3.0))
    res = run_group_level(out)
    assert list(read_tsv(res["tsv"])[0]) == COLUMNS
    assert 'id="sacct"' not in res["html"].read_text()
