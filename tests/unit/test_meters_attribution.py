"""Pure arithmetic of the meters, checked against values computed by hand."""

import pytest

from bids_energy.meters.attribution import (
    counter_delta,
    job_share,
    kepler_split,
    plausible_cpu_delta,
    plausible_power,
)


def test_counter_delta_plain_and_wrapped():
    assert counter_delta(100, 250, 1000) == 150
    # 900 -> wraps at 1000 -> 50: 100 to the top, 50 after
    assert counter_delta(900, 50, 1000) == 150


def test_counter_delta_unexplained_drop_is_none():
    assert counter_delta(900, 50, None) is None
    assert counter_delta(2000, 50, 1000) is None  # before beyond the range: not a wrap


def test_kepler_split_by_hand():
    # 100 J over the interval, node busy 3 of 4 CPU-s, job used 1.5 of the 3 busy CPU-s
    s = kepler_split(100.0, job_cpu_delta_s=1.5, node_busy_delta_s=3.0, node_total_delta_s=4.0)
    assert s.active_j == pytest.approx(75.0)
    assert s.idle_j == pytest.approx(25.0)
    assert s.job_j == pytest.approx(37.5)


def test_kepler_split_clamps_and_zero_guards():
    # tick rounding: job a bit above node busy -> share clamped to 1
    assert kepler_split(10.0, 2.01, 2.0, 4.0).job_j == pytest.approx(5.0)
    # no busy time, no total time: nothing billed, no ZeroDivisionError
    assert kepler_split(10.0, 0.0, 0.0, 0.0).job_j == 0.0
    assert kepler_split(-5.0, 1.0, 1.0, 1.0).node_j == 0.0
    assert job_share(1.0, 0.0) == 0.0
    assert job_share(float("nan"), 1.0) == 0.0


def test_plausibility_guards():
    assert plausible_cpu_delta(1.9, 1.0, 2)
    assert not plausible_cpu_delta(50.0, 1.0, 2)
    assert not plausible_cpu_delta(-1.0, 1.0, 2)
    assert plausible_power(100.0, 1.0, 2000.0)
    assert not plausible_power(1e7, 1.0, 2000.0)
    assert not plausible_power(1.0, 0.0, 2000.0)
