"""Group arithmetic on footprints with known values (hand-computed expectations)."""

import math

import pandas as pd
import pytest

from bids_energy.analysis import stats


def run(
    participant,
    variant="baseline",
    wall_h=1.0,
    energy_wh=10.0,
    co2e_g=0.3,
    status="success",
    device="cpu",
    pipeline="fmriprep",
    session=None,
    cpu_h=None,
    run_id=None,
    cc=None,
):
    return {
        "participant": participant,
        "session": session,
        "pipeline": pipeline,
        "variant": variant,
        "device": device,
        "status": status,
        "wall_h": wall_h,
        "cpu_h": wall_h if cpu_h is None else cpu_h,
        "energy_wh": energy_wh,
        "co2e_g": co2e_g,
        "codecarbon_energy_wh": cc,
        "run_id": run_id,
    }


def table(rows):
    return pd.DataFrame(rows)


def test_t_quantile_table_and_expansion_agree():
    assert stats.t_quantile_975(1) == pytest.approx(12.7062)
    assert stats.t_quantile_975(2) == pytest.approx(4.3027)
    # The expansion used beyond the table must meet the table at its end.
    assert stats.cornish_fisher_t(stats._Z975, 30) == pytest.approx(2.0423, abs=2e-4)
    assert stats.t_quantile_975(60) == pytest.approx(2.0003, abs=2e-4)
    assert stats.t_quantile_975(120) == pytest.approx(1.9799, abs=2e-4)
    assert stats.t_quantile_975(10**6) == pytest.approx(1.96, abs=1e-3)
    with pytest.raises(ValueError):
        stats.t_quantile_975(0)


def test_mean_ci_hand_computed():
    ci = stats.mean_ci([1, 2, 3, 4])
    sd = math.sqrt(5 / 3)
    assert ci["mean"] == 2.5 and ci["n"] == 4
    assert ci["sd"] == pytest.approx(sd)
    half = 3.1824 * sd / 2
    assert ci["lo"] == pytest.approx(2.5 - half) and ci["hi"] == pytest.approx(2.5 + half)
    one = stats.mean_ci([5.0, float("nan")])
    assert one["n"] == 1 and one["lo"] is None


def test_summary_table_mean_sd_and_failed_excluded():
    df = table(
        [
            run("1", wall_h=1, energy_wh=10, co2e_g=0.3),
            run("2", wall_h=2, energy_wh=20, co2e_g=0.6),
            run("3", wall_h=3, energy_wh=30, co2e_g=0.9),
            run("4", wall_h=99, energy_wh=999, co2e_g=99, status="failed"),
            run("5", wall_h=99, energy_wh=999, co2e_g=99, status="interrupted"),
            run("1", device="cuda", wall_h=0.5, energy_wh=4, co2e_g=0.12),
        ]
    )
    s = stats.summary_table(df).set_index("device")
    assert s.loc["cpu", "n"] == 3
    assert s.loc["cpu", "wall_h_mean"] == pytest.approx(2.0)
    assert s.loc["cpu", "wall_h_sd"] == pytest.approx(1.0)
    assert s.loc["cpu", "energy_wh_mean"] == pytest.approx(20.0)
    assert s.loc["cpu", "energy_wh_sd"] == pytest.approx(10.0)
    assert s.loc["cpu", "co2e_g_mean"] == pytest.approx(0.6)
    assert s.loc["cuda", "n"] == 1 and math.isnan(s.loc["cuda", "wall_h_sd"])


def test_paired_change_and_interval():
    rows = [
        run("1", co2e_g=10),
        run("2", co2e_g=20),
        run("3", co2e_g=40),
        run("1", "fs-no-reconall", co2e_g=5),
        run("2", "fs-no-reconall", co2e_g=12),
        run("3", "fs-no-reconall", co2e_g=18),
        run("4", "fs-no-reconall", co2e_g=1),  # no baseline: not paired
        run("4", "baseline", co2e_g=50, status="failed"),  # failed baseline: not paired
        run("9", pipeline="fastsurfer", co2e_g=3),
    ]  # no variants of its own
    ch = stats.paired_changes(table(rows), "co2e_g")
    assert len(ch) == 1
    r = ch.iloc[0]
    pct = [-50.0, -40.0, -55.0]
    mean = sum(pct) / 3
    sd = math.sqrt(sum((p - mean) ** 2 for p in pct) / 2)
    half = 4.3027 * sd / math.sqrt(3)
    assert r["variant"] == "fs-no-reconall" and r["n_pairs"] == 3
    assert r["change_pct_mean"] == pytest.approx(-48.3333, abs=1e-3)
    assert r["change_pct_sd"] == pytest.approx(sd)
    assert r["ci_lo_pct"] == pytest.approx(mean - half)
    assert r["ci_hi_pct"] == pytest.approx(mean + half)
    assert r["baseline_mean"] == pytest.approx(70 / 3)


def test_paired_change_pairs_by_session_and_device():
    rows = [
        run("1", session="a", co2e_g=10),
        run("1", session="b", co2e_g=100),
        run("1", "x", session="a", co2e_g=5),
        run("1", "x", session="b", co2e_g=100),
        run("1", "x", device="cuda", co2e_g=1),
    ]
    ch = stats.paired_changes(table(rows), "co2e_g")
    assert len(ch) == 1  # the cuda run has no cuda baseline
    assert ch.iloc[0]["n_pairs"] == 2
    assert ch.iloc[0]["change_pct_mean"] == pytest.approx(-25.0)


def test_extrapolation_matches_seed_arithmetic():
    # Seed 001: FreeSurfer 8.3 h and 3.26 g per scan -> 10k scans ~ 3458 days, 32.6 kg.
    rows = [
        run("1", wall_h=8.0, cpu_h=7.0, energy_wh=100, co2e_g=3.2),
        run("2", wall_h=8.6, cpu_h=9.0, energy_wh=117, co2e_g=3.32),
        run("3", wall_h=50, status="failed", co2e_g=50),
        run("1", device="cuda", wall_h=1.6, energy_wh=26.7, co2e_g=0.8),
    ]
    ex = stats.extrapolate(table(rows), 10000).set_index("device")
    cpu, gpu = ex.loc["cpu"], ex.loc["cuda"]
    assert cpu["n_runs"] == 2
    assert cpu["run_days"] == pytest.approx(8.3 * 10000 / 24)
    assert cpu["cpu_days"] == pytest.approx(8.0 * 10000 / 24)
    assert cpu["gpu_days"] == 0
    assert cpu["energy_kwh"] == pytest.approx(1085.0)
    assert cpu["co2e_kg"] == pytest.approx(32.6)
    half = 12.7062 * math.sqrt(0.0072) / math.sqrt(2) * 10  # sd of (3.2, 3.32), x N/1000
    assert cpu["co2e_kg_lo"] == pytest.approx(32.6 - half)
    assert cpu["co2e_kg_hi"] == pytest.approx(32.6 + half)
    assert gpu["gpu_days"] == pytest.approx(1.6 * 10000 / 24)
    assert gpu["co2e_kg_lo"] is None or math.isnan(gpu["co2e_kg_lo"])


def test_pareto_front_both_directions():
    costs, quality = [1, 2, 3, 2.5, 1], [0.5, 0.8, 0.9, 0.7, 0.4]
    assert stats.pareto_front(costs, quality) == [True, True, True, False, False]
    assert stats.pareto_front(costs, quality, higher_is_better=False) == [
        False,
        False,
        False,
        False,
        True,
    ]
    assert stats.pareto_front([1, 1], [2, 2]) == [True, True]  # ties dominate nothing


def test_quality_points_merge_and_front():
    runs = table(
        [
            run("1", co2e_g=10),
            run("2", co2e_g=12),
            run("1", "cheap", co2e_g=5),
            run("2", "cheap", co2e_g=5),
        ]
    )
    q = pd.DataFrame(
        {
            "participant": ["1", "2", "1", "2"],
            "pipeline": ["fmriprep"] * 4,
            "variant": ["baseline", "baseline", "cheap", "cheap"],
            "dice": [0.9, 0.8, 0.7, 0.7],
        }
    )
    qp = stats.quality_points(runs, q, "dice").set_index("variant")
    assert qp.loc["baseline", "cost_mean"] == pytest.approx(11)
    assert qp.loc["baseline", "quality_mean"] == pytest.approx(0.85)
    assert bool(qp.loc["baseline", "pareto"]) and bool(qp.loc["cheap", "pareto"])


def test_step_changes_absent_step_counts_as_zero():
    runs = table(
        [
            run("1", run_id=0),
            run("2", run_id=1),
            run("1", "v", run_id=2),
            run("2", "v", run_id=3),
            run("3", "v", run_id=4, status="failed"),
        ]
    )
    key = {"pipeline": "fmriprep", "device": "cpu"}
    steps = pd.DataFrame(
        [
            {**key, "run_id": 0, "variant": "baseline", "step": "surf", "energy_wh": 10.0},
            {**key, "run_id": 1, "variant": "baseline", "step": "surf", "energy_wh": 10.0},
            {**key, "run_id": 0, "variant": "baseline", "step": "reg", "energy_wh": 4.0},
            {**key, "run_id": 1, "variant": "baseline", "step": "reg", "energy_wh": 6.0},
            {**key, "run_id": 2, "variant": "v", "step": "reg", "energy_wh": 6.0},
            {**key, "run_id": 3, "variant": "v", "step": "reg", "energy_wh": 6.0},
            {**key, "run_id": 4, "variant": "v", "step": "reg", "energy_wh": 600.0},
        ]
    )
    sc = stats.step_changes(steps, runs).set_index("step")
    assert sc.loc["surf", "delta_wh"] == pytest.approx(-10.0)
    assert sc.loc["surf", "delta_pct"] == pytest.approx(-100.0)
    assert sc.loc["reg", "baseline_wh"] == pytest.approx(5.0)
    assert sc.loc["reg", "delta_pct"] == pytest.approx(20.0)
