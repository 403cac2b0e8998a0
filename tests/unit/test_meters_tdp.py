"""TDP table lookup and the model-based CPU and memory meters."""

import pytest

from bids_energy.footprint import split_block
from bids_energy.meters.base import IntervalContext
from bids_energy.meters.memmodel import MemoryModelMeter
from bids_energy.meters.procfs import Topology
from bids_energy.meters.tdp import DEFAULT_W_PER_CORE, TdpCpuMeter, cpu_power, load_table, match


def ctx(cpu=0.0, mem=0.0, dt=1.0):
    return IntervalContext(t_s=dt, dt_s=dt, job_cpu_delta_s=cpu, node_busy_delta_s=None,
                           node_total_delta_s=None, job_mem_gb=mem, logical_cores=4)


def test_table_has_sources_and_the_study_cpu():
    table = load_table()
    assert all(e.source and e.tdp_w > 0 and e.cores > 0 for e in table)
    gold = match("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", table)
    assert gold is not None and gold.tdp_w == 150 and gold.cores == 20


@pytest.mark.parametrize("name,model", [
    ("AMD EPYC 7742 64-Core Processor", "AMD EPYC 7742"),
    ("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", "Intel Xeon E5-2680 v4"),
    ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", "Intel Xeon Gold 6248R"),
])
def test_match_known(name, model):
    assert match(name).model == model


@pytest.mark.parametrize("name", ["AMD EPYC", "Intel(R) Xeon(R) Gold 6148F CPU", "Apple M2", ""])
def test_unknown_falls_back_to_generic(name):
    p = cpu_power(name, physical_cores=8)
    assert p.power_per_core_w == DEFAULT_W_PER_CORE and p.tdp_w is None and "default" in p.source


GOLD = "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"
GOLD_1S = Topology(logical=40, cores=20, packages=1, source="test")  # 20 cores, 2 threads each


def node_ctx(job, busy, dt=1.0, logical=40):
    return IntervalContext(t_s=dt, dt_s=dt, job_cpu_delta_s=job, node_busy_delta_s=busy,
                           node_total_delta_s=logical * dt, job_mem_gb=0.0, logical_cores=logical)


def test_smt_full_load_never_above_tdp():
    """Issue 13: 20 cores / 40 threads at 150 W, all threads busy: billed 150 W, not 300 W."""
    m = TdpCpuMeter(cpu_power(GOLD, 20), "no RAPL", GOLD_1S, held_cpus=40, held_source="test")
    s = m.sample(node_ctx(job=40.0, busy=40.0))
    assert s.job_j == pytest.approx(150.0)  # 0.2 x 150 W idle + 40 x (120 W / 40) dynamic
    assert s.node_j == pytest.approx(150.0)
    inp = m.inputs()
    assert inp["threads_per_core"] == 2 and "40 hardware threads" in inp["smt_handling"]
    assert inp["k_w_per_busy_cpu"] == pytest.approx(3.0) and inp["idle_power_w"] == 30.0
    assert inp["idle_power_method"] == "assumed: 0.2 x TDP" and m.method == "estimated: tdp-model"
    fin = m.finish()
    assert fin.job_j <= 150.0 + 1e-9 and split_block(fin)["remainder_energy_wh"] == pytest.approx(0.0)


@pytest.mark.parametrize("neighbours", [0, 12, 32])
def test_tdp_job_figure_independent_of_neighbours(neighbours):
    m = TdpCpuMeter(cpu_power(GOLD, 20), "no RAPL", GOLD_1S, held_cpus=8, held_source="test")
    s = m.sample(node_ctx(job=8.0, busy=8.0 + neighbours))
    assert s.job_j == pytest.approx(8 * 3.0 + 30.0 * 8 / 40)  # 24 W dynamic + 6 W idle share
    assert s.node_j == pytest.approx(30.0 + 3.0 * (8 + neighbours))


def test_tdp_given_idle_power_and_no_smt_vm():
    vm = Topology(logical=2, cores=2, packages=1, source="test")
    m = TdpCpuMeter(cpu_power("AMD EPYC", 2), "no RAPL", vm)  # generic 12 W/core, holds none
    s = m.sample(node_ctx(job=2.0, busy=2.0, dt=2.0, logical=2))
    # rated 24 W, idle 4.8 W, k 9.6 W; 1 CPU used of 2: 9.6 x 2 + 4.8 x 2 s x 1/2 = 24 J
    assert s.job_j == pytest.approx(24.0)  # = 12 W/core x 2 CPU-s: no SMT, same as per-core TDP
    assert "1 thread per core" in m.inputs()["smt_handling"]
    g = TdpCpuMeter(cpu_power(GOLD, 20), "no RAPL", GOLD_1S, idle_given_w=50.0)
    assert g.model.k_w_per_busy_cpu == pytest.approx(100.0 / 40)
    assert g.model.idle.method == "given: --idle-power-w"


def test_memory_model_energy():
    m = MemoryModelMeter("no dram")
    assert m.sample(ctx(mem=2.0, dt=10.0)).job_j == pytest.approx(2.0 * 0.3725 * 10.0)
    m.sample(ctx(mem=4.0, dt=10.0))
    assert m.inputs()["mean_mem_gb"] == pytest.approx(3.0)
    assert "0.08" in m.note()
