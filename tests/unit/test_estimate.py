import json
from pathlib import Path

import pytest

from bids_energy.analysis.stats import t_quantile_975 as t975
from bids_energy.cli.estimate import build_parser, estimate_sacct, main
from bids_energy.errors import InputMissingError, UsageError
from bids_energy.estimate import green_algorithms as ga
from bids_energy.estimate.cluster import constants_for, load_cluster_config
from bids_energy.estimate.sacct import SacctJob
from tests.fixtures.tools import EXTRAS_STEP, require_module

FIX = Path(__file__).parents[1] / "fixtures" / "sacct"


def test_ga_formula_by_hand():
    x = ga.GaInputs(hours=8.3, cores=8, mem_gb=16, pue=1.56)
    e = ga.energy_kwh(x)
    expected = 8.3 * (8 * 12 + 16 * 0.3725) * 1.56 / 1000
    assert e["total"] == pytest.approx(expected)
    assert e["cpu"] + e["memory"] + e["gpu"] == pytest.approx(e["total"])
    gpu = ga.energy_kwh(ga.GaInputs(hours=2, cores=0, gpus=2, gpu_usage=0.5, pue=1, psf=3))
    assert gpu["total"] == pytest.approx(2 * 2 * 200 * 0.5 * 3 / 1000)


def test_ga4hpc_job_energy_uses_cpu_time_not_allocation():
    job = SacctJob(
        job_id="1", elapsed_s=3600, ncpus=8, total_cpu_s=2 * 3600, req_mem_gb=10, n_gpu=1
    )
    c = ga.JobConstants(tdp_per_core_w=10, gpu_tdp_w=300, pue=1.5, ci_g_per_kwh=100)
    e = ga.job_energy_wh(job, c)
    assert e["cpu_energy_wh"] == pytest.approx(20)
    assert e["gpu_energy_wh"] == pytest.approx(300)
    assert e["memory_energy_wh"] == pytest.approx(3.725)
    assert e["facility_energy_wh"] == pytest.approx(323.725 * 1.5)
    assert e["co2e_g"] == pytest.approx(323.725 * 1.5 / 1000 * 100)


def test_cluster_config_merge(tmp_path):
    cfg = load_cluster_config(FIX / "cluster.toml")
    d = constants_for(cfg, "cpubase_bycore_b3")
    g = constants_for(cfg, "gpubase_bygpu_b1")
    assert (d.tdp_per_core_w, d.gpu_tdp_w, d.pue) == (10, 200, 1.2)
    assert (g.tdp_per_core_w, g.gpu_tdp_w) == (15, 300)
    assert d.ci_g_per_kwh < 35  # region CA-QC
    o = constants_for(cfg, None, {"ci_g_per_kwh": 500.0, "pue": None})
    assert o.ci_g_per_kwh == 500 and o.pue == 1.2
    bad = tmp_path / "bad.toml"
    bad.write_text("[defaults]\ntdp_per_core = 12\n")
    with pytest.raises(UsageError, match="unknown key"):
        load_cluster_config(bad)
    bad.write_text("[defaults\n")
    with pytest.raises(UsageError):
        load_cluster_config(bad)
    with pytest.raises(InputMissingError):
        load_cluster_config(tmp_path / "none.toml")


def test_t_quantiles():
    assert t975(1) == pytest.approx(12.706, abs=1e-3)
    assert t975(10) == pytest.approx(2.228, abs=1e-3)
    assert t975(40) == pytest.approx(2.021, abs=2e-3)
    assert t975(1000) == pytest.approx(1.962, abs=1e-3)
    stats = require_module("scipy.stats", EXTRAS_STEP + ": scipy")
    for df in (2, 7, 31, 60, 200):
        assert t975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-3)


def test_parser_rejects_bad_values():
    p = build_parser()
    for argv in (
        ["--cores", "-1", "--hours", "1"],
        ["--hours", "0", "--cores", "1"],
        ["--usage", "1.5"],
        ["--jobs", "abc"],
        ["--sacct", "a", "--jobs", "1"],
    ):
        with pytest.raises(SystemExit) as e:
            p.parse_args(argv)
        assert e.value.code == 64  # BIDS-App usage exit, as every subcommand


def test_cli_modes_and_errors(capsys):
    assert main(["--cores", "8"]) == 64
    assert main([]) == 64
    assert main(["--cores", "8", "--hours", "1", "--sacct", "x"]) == 64
    assert main(["--cores", "1", "--hours", "1", "--pue", "0.5"]) == 64
    err = capsys.readouterr().err
    assert err.count("bids-energy: error:") == 4


def test_cli_before_json(capsys):
    assert (
        main(["--cores", "8", "--hours", "8.3", "--mem-gb", "16", "--region", "CA-QC", "--json"])
        == 0
    )
    r = json.loads(capsys.readouterr().out)
    assert r["method"] == "estimated: green-algorithms"
    assert r["constants"]["pue"]["value"] == 1.56
    assert r["constants"]["ci_g_per_kwh"]["zone"] == "CA-QC"
    assert r["energy_kwh"] == pytest.approx(8.3 * (96 + 16 * 0.3725) * 1.56 / 1000)
    assert r["co2e_g"] == pytest.approx(r["energy_kwh"] * r["constants"]["ci_g_per_kwh"]["value"])


def test_cli_before_text_names_sources(capsys):
    assert main(["--cores", "2", "--hours", "1"]) == 0
    out = capsys.readouterr().out
    assert "Green Algorithms" in out and "estimated: green-algorithms" in out
    assert "world average" in out


def test_cli_sacct_tsv(tmp_path):
    out = tmp_path / "jobs.tsv"
    rc = main(
        [
            "--sacct",
            str(FIX / "mixed.txt"),
            "--cluster-config",
            str(FIX / "cluster.toml"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    lines = out.read_text().splitlines()
    header = lines[0].split("\t")
    assert "energy_wh" in header and "co2e_g" in header and "wall_h" in header
    ids = [ln.split("\t")[0] for ln in lines[1:]]
    assert ids == ["1001", "1002_1", "1002_2", "1003"]  # pending array not billed


def test_estimate_sacct_values():
    rows = estimate_sacct((FIX / "mixed.txt").read_text(), {}, {"ci_g_per_kwh": 100.0})
    r = rows[0]
    expected_wh = 58.5 * 12 + 8.3 * (16 * 1024**3 / 1e9) * 0.3725  # 16G of Slurm = 17.18 GB
    assert r["energy_wh"] == pytest.approx(expected_wh)
    assert r["pue"] == 1.0
    assert r["co2e_g"] == pytest.approx(expected_wh / 1000 * 100)


def test_cli_plan(tmp_path, capsys):
    from tests.fixtures.footprints import make_footprint, write_footprint

    assert main(["--from", str(tmp_path), "--participants", "10"]) == 66
    write_footprint(tmp_path, make_footprint(participant="01", wall_s=10, energy_wh=1))
    write_footprint(tmp_path, make_footprint(participant="02", wall_s=20, energy_wh=2))
    capsys.readouterr()
    assert main(["--from", str(tmp_path), "--participants", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pipeline\tvariant\tdevice\tn_runs\tn_scans")
    assert out[1].startswith("demo\tbaseline\tcpu\t2\t10")
