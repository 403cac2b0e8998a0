"""TDP table lookup and the model-based CPU and memory meters."""

import pytest

from bids_energy.meters.base import IntervalContext
from bids_energy.meters.memmodel import MemoryModelMeter
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


def test_tdp_meter_energy():
    m = TdpCpuMeter(cpu_power("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", 20), "no RAPL")
    s = m.sample(ctx(cpu=2.0))
    assert s.job_j == pytest.approx(2.0 * 7.5)  # 150 W / 20 cores
    assert s.node_j is None
    assert m.inputs()["job_cpu_s"] == 2.0 and m.method == "estimated: tdp-model"


def test_memory_model_energy():
    m = MemoryModelMeter("no dram")
    assert m.sample(ctx(mem=2.0, dt=10.0)).job_j == pytest.approx(2.0 * 0.3725 * 10.0)
    m.sample(ctx(mem=4.0, dt=10.0))
    assert m.inputs()["mean_mem_gb"] == pytest.approx(3.0)
    assert "0.08" in m.note()
