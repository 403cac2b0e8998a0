"""footprint.measured: the record's measured blocks from the sampler's typed numbers (pure)."""

from __future__ import annotations

import pytest

from bids_energy.context import detect_container, detect_slurm
from bids_energy.footprint import (
    attribution_block,
    build_record,
    energy_block,
    hardware_block,
    timeline_block,
    validation_errors,
)
from bids_energy.meters.results import (
    ComponentTotals,
    CpuAttribution,
    GpuInfo,
    HardwareInfo,
    SamplerResult,
)
from bids_energy.meters.timeline import TimelineData, TimelineRow

CPU = ComponentTotals("cpu", "estimated: tdp-model", False, job_j=3600.0, node_j=7200.0,
                      status="ok", note="TDP model.", inputs={"tdp_w": 65.0}, idle_j=360.0)
GPU = ComponentTotals("gpu", "measured: nvml-counter", True, job_j=1800.0, node_j=None,
                      status="partial", note="NVML.", unavailable_from_s=12.5,
                      dropped_intervals=2, dropped_s=3.04)


def test_energy_block_names_methods_and_what_went_wrong():
    e = energy_block([CPU, GPU])
    assert e["job_energy_wh"] == pytest.approx(1.5)
    assert e["node_energy_wh"] is None  # the GPU meter cannot see the node
    assert e["method"] == "mixed"
    cpu, gpu = e["components"]["cpu"], e["components"]["gpu"]
    assert list(cpu) == ["job_energy_wh", "node_energy_wh", "method", "status", "inputs", "note"]
    assert cpu["inputs"] == {"tdp_w": 65.0, "node_idle_energy_wh": 0.1}
    assert cpu["note"] == "TDP model."
    assert gpu["inputs"] == {"unavailable_from_s": 12.5, "dropped_intervals": 2, "dropped_s": 3.04}
    assert "unavailable from t=12.5 s" in gpu["note"] and "2 interval(s) (3.0 s)" in gpu["note"]
    assert energy_block([CPU])["method"] == "estimated"
    assert energy_block([CPU])["node_energy_wh"] == pytest.approx(2.0)


def test_attribution_hardware_and_timeline_blocks():
    a = attribution_block(CpuAttribution("cgroup", "a cgroup v2 is delegated", 5.0, 40.0,
                                         20.0, 8, "anon"))
    assert a["job_share_of_busy"] == 0.25 and a["note"].endswith("a cgroup v2 is delegated.")
    h = hardware_block(HardwareInfo("Xeon", 8, 4, 31.4159, (GpuInfo(0, "H100", "GPU-1", True),)),
                       "node7")
    assert h["hostname"] == "node7" and h["mem_total_gb"] == 31.42
    assert h["gpus"] == [{"index": 0, "name": "H100", "uuid": "GPU-1", "visible_to_job": True}]
    t = timeline_block(TimelineData(2.0, (TimelineRow(1.0, 0.123456, 1.23456, None, 0.55556,
                                                      0.1, None, None),)))
    assert t["columns"][:3] == ["t_s", "job_cpu_share", "job_cpu_w"]
    assert t["rows"] == [[1.0, 0.1235, 1.235, None, 0.5556, 0.1, None, None]]


def test_build_record_records_the_host_once_and_validates(tmp_path):
    result = SamplerResult(
        cpu_s=2.0, peak_mem_gb=0.5,
        attribution=CpuAttribution("process-tree", "no cgroup", 2.0, None, None, 4, "anon"),
        components=(CPU,), hardware=HardwareInfo("cpu", 4, 2, 8.0),
        timeline=TimelineData(1.0, ()), steps=[], warnings=["w"], phases=None)
    carbon = {"pue": 1.0, "pue_source": "default", "region": "WORLD", "ci_g_per_kwh": 475.0,
              "ci_source": "test", "ci_year": 2023, "ci_method": "default"}
    rec = build_record(participant="01", session=None, status="success", exit_code=0,
                       signal=None, oom=False, name="demo", version="1", variants=[],
                       device="cpu", executable=None, command=["x"], output_dir="/o",
                       inputs={}, start_ts=0.0, end_ts=10.0, sampler_result=result,
                       carbon=carbon, container=detect_container(tmp_path, {}, tmp_path),
                       slurm=detect_slurm({}), work_dir=None)
    assert rec["hardware"]["hostname"] == rec["context"]["host"]
    assert rec["carbon"]["co2e_g"] == pytest.approx(0.475)
    assert validation_errors(rec) == []
