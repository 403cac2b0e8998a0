"""Pure arithmetic of the meters, checked against values computed by hand.

The worked case of issue 13: a 64-CPU node drawing 100 W idle + 3 W per busy CPU, and an
8-thread job (its own extra draw 24 W) alone, beside 24 busy neighbour threads, and on a
full node. Kepler's busy-ratio split billed it 15.5 / 24.5 / 36.5 W; the shared-node
definition bills 24 W dynamic + 8/64 x 100 W = 12.5 W idle share = 36.5 W every time.
"""

import pytest

from bids_energy.meters.attribution import (
    NodeShareAccount,
    counter_delta,
    held_cpus_in_interval,
    job_share,
    max_safe_interval_s,
    plausible_cpu_delta,
    plausible_power,
    shared_node_split,
)

NODE_CPUS, IDLE_W, K_W = 64, 100.0, 3.0


def node_power(busy_cpus: float) -> float:
    return IDLE_W + K_W * busy_cpus


def test_counter_delta_plain_and_wrapped():
    assert counter_delta(100, 250, 1000) == 150
    # 900 -> wraps at 1000 -> 50: 100 to the top, 50 after
    assert counter_delta(900, 50, 1000) == 150


def test_counter_delta_unexplained_drop_is_none():
    assert counter_delta(900, 50, None) is None
    assert counter_delta(2000, 50, 1000) is None  # before beyond the range: not a wrap


def test_max_safe_interval_from_range_and_power():
    # Intel package counter 262143328850 uJ at 2 x 150 W wraps in 873.8 s
    assert max_safe_interval_s(262_143_328_850, 300.0) == pytest.approx(873.81, abs=0.01)
    # the case: 200 W for 3600 s is 720 kJ, 2.7 wraps: 3600 s is far beyond the bound
    assert max_safe_interval_s(262_143_328_850, 200.0) < 3600
    assert max_safe_interval_s(None, 200.0) is None


@pytest.mark.parametrize("neighbour_busy", [0, 24, 56])  # alone, 24 threads, full node
def test_job_figure_constant_whatever_the_neighbours(neighbour_busy):
    dt = 1.0
    busy = 8 + neighbour_busy
    s = shared_node_split(node_power(busy) * dt, dt, IDLE_W, job_cpu_delta_s=8.0,
                          node_busy_delta_s=busy * dt, held_cpus=8, node_cpus=NODE_CPUS)
    assert s.job_dynamic_j == pytest.approx(24.0)  # 8 busy CPUs x 3 W
    assert s.job_idle_j == pytest.approx(12.5)  # 8/64 x 100 W
    assert s.job_j == pytest.approx(36.5)
    assert s.node_j == pytest.approx(node_power(busy))
    assert s.remainder_j == pytest.approx(node_power(busy) - 36.5)
    assert s.node_idle_j == pytest.approx(100.0)


def test_kepler_busy_ratio_split_was_neighbour_dependent():
    """The old split (active = dE x busy/total; job = active x job/busy) for the record."""
    old = []
    for busy in (8, 32, 64):
        node = node_power(busy)
        old.append(node * busy / NODE_CPUS * 8 / busy)
    assert old == pytest.approx([15.5, 24.5, 36.5])


def test_job_holding_nothing_pays_idle_by_cpus_used():
    # no allocation: the job used 8 CPU-s in 1 s -> holds 8 CPUs' worth of idle power
    s = shared_node_split(node_power(8), 1.0, IDLE_W, 8.0, 8.0, None, NODE_CPUS)
    assert s.job_j == pytest.approx(36.5)
    assert held_cpus_in_interval(None, 4.0, 2.0, 64) == 2.0
    assert held_cpus_in_interval(128, 4.0, 2.0, 64) == 64.0  # never above the node


def test_account_matches_per_interval_split_and_any_idle_later():
    acc = NodeShareAccount(NODE_CPUS)
    per_interval = 0.0
    for neighbour in (0, 24, 56, 10):
        busy = 8 + neighbour
        acc.add(node_power(busy), 1.0, 8.0, busy, 8)
        per_interval += shared_node_split(node_power(busy), 1.0, IDLE_W, 8.0, busy, 8,
                                          NODE_CPUS).job_j
    sp = acc.split(IDLE_W)
    assert sp.job_j == pytest.approx(per_interval) == pytest.approx(4 * 36.5)
    assert sp.job_dynamic_j == pytest.approx(4 * 24.0)
    assert len(acc.points) == 4 and acc.points[0] == (8.0, 124.0)


def test_split_guards():
    # tick rounding: job a bit above node busy -> share clamped to 1
    assert shared_node_split(10.0, 1.0, 0.0, 2.01, 2.0, None, 4).job_dynamic_j == pytest.approx(10.0)
    # no busy time: no dynamic energy billed, no ZeroDivisionError
    assert shared_node_split(10.0, 1.0, 5.0, 0.0, 0.0, None, 4).job_j == 0.0
    # node below the idle power (noise): dynamic clamped at 0, never negative
    assert shared_node_split(50.0, 1.0, 100.0, 1.0, 1.0, 1, 4).job_dynamic_j == 0.0
    assert shared_node_split(-5.0, 1.0, 0.0, 1.0, 1.0, None, 1).node_j == 0.0
    assert job_share(1.0, 0.0) == 0.0
    assert job_share(float("nan"), 1.0) == 0.0


def test_plausibility_guards():
    assert plausible_cpu_delta(1.9, 1.0, 2)
    assert not plausible_cpu_delta(50.0, 1.0, 2)
    assert not plausible_cpu_delta(-1.0, 1.0, 2)
    assert plausible_power(100.0, 1.0, 2000.0)
    assert not plausible_power(1e7, 1.0, 2000.0)
    assert not plausible_power(1.0, 0.0, 2000.0)
