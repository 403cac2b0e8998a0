"""Idle power: given, estimated from the run (Theil-Sen intercept), or a fraction of TDP."""

import random

import pytest

from bids_energy.meters import idlepower


def test_theil_sen_resists_outliers():
    xs = [float(i % 5) for i in range(40)]
    ys = [100 + 3 * x for x in xs]
    ys[3] = 900.0  # a glitched interval
    ys[17] = 5.0
    slope, intercept = idlepower.theil_sen(xs, ys)
    assert slope == pytest.approx(3.0) and intercept == pytest.approx(100.0)
    assert idlepower.theil_sen([1.0, 1.0], [2.0, 3.0]) is None


def test_estimate_needs_a_varied_load():
    rng = random.Random(1)
    steady = [(8 + rng.uniform(-0.2, 0.2), 124.0) for _ in range(50)]
    est, why = idlepower.estimate_from_run(steady, 64)
    assert est is None and "did not vary enough" in why
    assert idlepower.estimate_from_run(steady[:3], 64)[1].startswith("only 3 intervals")
    varied = [(b, 100 + 3 * b + rng.uniform(-1, 1)) for b in (8, 16, 32, 48, 64) * 10]
    est, _ = idlepower.estimate_from_run(varied, 64)
    assert est.value_w == pytest.approx(100.0, abs=2.0)
    assert est.inputs["slope_w_per_busy_cpu"] == pytest.approx(3.0, abs=0.1)


def test_many_points_are_thinned():
    pts = [(float(i % 64), 100 + 3.0 * (i % 64)) for i in range(5000)]
    est, _ = idlepower.estimate_from_run(pts, 64)
    assert est.value_w == pytest.approx(100.0)


def test_choice_order():
    fb = idlepower.from_tdp(150.0, "Intel ARK")
    assert fb.value_w == 30.0 and fb.method == "assumed: 0.2 x TDP"
    assert "ccf" in fb.inputs["fraction_source"].lower() or "Cloud Carbon" in fb.inputs["fraction_source"]
    assert idlepower.choose(42.0, [], 64, fb).method == "given: --idle-power-w"
    chosen = idlepower.choose(None, [], 64, fb)
    assert chosen.value_w == 30.0 and "not_estimated_because" in chosen.inputs
    unknown = idlepower.choose(None, [], 64, None)
    assert unknown.value_w == 0.0 and unknown.method.startswith("unknown")
    assert idlepower.from_tdp(None, "") is None
