"""GPUs as a container sees them: a fake pynvml that shows only the devices the runtime
mounted, renumbered from 0, driven through select.choose and the Sampler's NVML meter."""

from __future__ import annotations

import os
import types

import pytest

from bids_energy.footprint import energy_block
from bids_energy.meters import gpu_pids, gpu_visibility, nvml, select
from bids_energy.meters.base import IntervalContext

HOST = [  # an 8-GPU host; a container sees a subset, renumbered from 0 in PCI order
    {"uuid": f"GPU-{i}1111111-2222-3333-4444-55555555555{i}", "bus": f"00000000:{0x10 + i:02X}:00.0",
     "name": "NVIDIA H100 80GB HBM3", "cc": (9, 0), "clock": 1980}
    for i in range(8)
]


class ContainerNvml(types.SimpleNamespace):
    """pynvml as seen inside ``docker run --gpus device=...``: only the mounted devices."""

    NVML_CLOCK_SM = 1

    def __init__(self, devices, counter=True):
        super().__init__()
        self.devs = [dict(d) for d in devices]
        for d in self.devs:
            d.setdefault("mj", 5_000_000)
            d.setdefault("mw", 100_000.0)
            d.setdefault("counter", counter)
            d.setdefault("counter_fails", False)
            d.setdefault("migs", [])
        self.util = {}

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.devs)

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetUUID(self, h):
        if isinstance(h, tuple):  # MIG handle (parent, k)
            return self.devs[h[0]]["migs"][h[1]]
        return self.devs[h]["uuid"].encode()

    def nvmlDeviceGetName(self, h):
        return self.devs[h]["name"]

    def nvmlDeviceGetPciInfo(self, h):
        return types.SimpleNamespace(busId=self.devs[h]["bus"].encode())

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return self.devs[h]["cc"]

    def nvmlDeviceGetMaxClockInfo(self, h, kind):
        return self.devs[h]["clock"]

    def nvmlDeviceGetMaxMigDeviceCount(self, h):
        return len(self.devs[h]["migs"])

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h, k):
        return (h, k)

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        d = self.devs[h]
        if not d["counter"]:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        if d["counter_fails"]:
            raise RuntimeError("NVML_ERROR_UNKNOWN")
        return d["mj"]

    def nvmlDeviceGetPowerUsage(self, h):
        return self.devs[h]["mw"]

    def nvmlDeviceGetProcessUtilization(self, h, ts):
        return [types.SimpleNamespace(pid=p, smUtil=u, timeStamp=ts + 1)
                for p, u in self.util.get(h, {}).items()]


def ctx(dt=2.0):
    return IntervalContext(t_s=dt, dt_s=dt, job_cpu_delta_s=0.0, node_busy_delta_s=None,
                           node_total_delta_s=None, job_mem_gb=0.0, logical_cores=4)


def gpu_meter(fake, env, tmp_path):
    sel = select.choose(str(tmp_path), str(tmp_path), env, nvml_loader=lambda: (fake, ""))
    meters = [m for m in sel.meters if m.component == "gpu"]
    return (meters[0] if meters else None), sel


def run_interval(m, fake, add_j=(), dt=2.0):
    m.begin()
    for i, j in enumerate(add_j):
        fake.devs[i]["mj"] += int(j * 1000)
    return m.sample(ctx(dt))


def test_docker_device_3_one_nvml_device_is_the_jobs(tmp_path):
    fake = ContainerNvml([HOST[3]])
    m, sel = gpu_meter(fake, {"NVIDIA_VISIBLE_DEVICES": "3"}, tmp_path)
    assert [g.uuid for g in m.visible] == [HOST[3]["uuid"]]
    s = run_interval(m, fake, [600.0])
    assert s.job_j == pytest.approx(600.0) and s.node_j == pytest.approx(600.0)
    assert m.method == "measured: nvml-counter" and m.measured
    assert "NVML cannot see" in m.inputs()["job_selection"]


def test_docker_device_1_2_counts_both(tmp_path):
    fake = ContainerNvml([HOST[1], HOST[2]])
    m, _ = gpu_meter(fake, {"NVIDIA_VISIBLE_DEVICES": "1,2"}, tmp_path)
    assert len(m.visible) == 2
    s = run_interval(m, fake, [100.0, 250.0])
    assert s.job_j == pytest.approx(350.0)


def test_bare_metal_index_selection_and_uuid_selection(tmp_path):
    fake = ContainerNvml(HOST[:4])
    m, _ = gpu_meter(fake, {"CUDA_VISIBLE_DEVICES": "2"}, tmp_path)
    assert [g.index for g in m.visible] == [2]
    m, _ = gpu_meter(fake, {"NVIDIA_VISIBLE_DEVICES": HOST[1]["uuid"]}, tmp_path)
    assert [g.index for g in m.visible] == [1]
    # a UUID prefix, in a container that mounted two devices, through CUDA_VISIBLE_DEVICES
    fake2 = ContainerNvml([HOST[5], HOST[6]])
    m, _ = gpu_meter(fake2, {"NVIDIA_VISIBLE_DEVICES": "5,6", "CUDA_VISIBLE_DEVICES": "GPU-6111"},
                     tmp_path)
    assert [g.uuid for g in m.visible] == [HOST[6]["uuid"]]
    s = run_interval(m, fake2, [40.0, 70.0])
    assert (s.job_j, s.node_j) == (pytest.approx(70.0), pytest.approx(110.0))


def test_selection_matching_nothing_warns_and_is_not_measured(tmp_path):
    fake = ContainerNvml([HOST[0]])
    m, sel = gpu_meter(fake, {"CUDA_VISIBLE_DEVICES": "GPU-deadbeef"}, tmp_path)
    assert m.visible == []
    assert any("matches none of the GPUs" in w for w in sel.warnings)
    s = run_interval(m, fake, [500.0])
    assert s.job_j is None and s.node_j == pytest.approx(500.0)
    assert not m.method.startswith("measured") and not m.measured
    # and "none"/"" mean the job holds no GPU, said the same way
    m, sel = gpu_meter(fake, {"NVIDIA_VISIBLE_DEVICES": "void"}, tmp_path)
    assert m.visible == [] and any("no GPU" in w for w in sel.warnings)


def test_counter_error_falls_back_to_power_integration_per_device(tmp_path):
    fake = ContainerNvml([HOST[0], HOST[1]])
    m, _ = gpu_meter(fake, {}, tmp_path)
    m.begin()
    fake.devs[0]["mj"] += 300_000  # 300 J on device 0's counter
    fake.devs[1]["counter_fails"] = True
    fake.devs[1]["mw"] = 300_000.0  # 100 W -> 300 W over 2 s: 400 J by trapezoid
    s = m.sample(ctx(2.0))
    assert s.job_j == pytest.approx(700.0)
    assert m.method == nvml.MIXED
    dev1 = m.inputs()["devices"][1]
    assert dev1["counter_errors"] == 1 and "NVML_ERROR_UNKNOWN" in dev1["last_error"]
    # the counter comes back: re-baselined, the next interval uses it again
    fake.devs[1]["counter_fails"] = False
    s = m.sample(ctx(2.0))  # re-baseline interval: power (300 W x 2 s)
    assert s.job_j == pytest.approx(600.0)
    fake.devs[1]["mj"] += 50_000
    s = m.sample(ctx(2.0))
    assert s.job_j == pytest.approx(50.0)


def test_counter_reset_rebaselines_and_integrates_power(tmp_path):
    fake = ContainerNvml([HOST[0]])
    m, _ = gpu_meter(fake, {}, tmp_path)
    m.begin()
    fake.devs[0]["mj"] = 1_000  # driver reload: the counter starts again near 0
    fake.devs[0]["mw"] = 200_000.0  # 100 W -> 200 W over 2 s: 300 J
    s = m.sample(ctx(2.0))
    assert s.job_j == pytest.approx(300.0)
    assert m.inputs()["devices"][0]["counter_resets"] == 1 and m.method == nvml.MIXED
    fake.devs[0]["mj"] += 80_000
    assert m.sample(ctx(2.0)).job_j == pytest.approx(80.0)


def test_unreadable_device_loses_the_interval_with_a_warning(tmp_path):
    fake = ContainerNvml([HOST[0]])
    m, _ = gpu_meter(fake, {}, tmp_path)
    m.begin()
    fake.devs[0]["counter_fails"] = True
    fake.nvmlDeviceGetPowerUsage = lambda h: (_ for _ in ()).throw(RuntimeError("GPU is lost"))
    s = m.sample(ctx(2.0))
    assert s.job_j == 0.0
    assert m.inputs()["devices"][0]["lost_intervals"] == 1
    assert any("could not be read" in w for w in m.warnings)


def test_cuda_device_order_fastest_first_vs_pci():
    slow = gpu_visibility.DeviceFacts(0, "GPU-slow", "00000000:10:00.0", "Tesla T4", (7, 5), 1590)
    fast = gpu_visibility.DeviceFacts(1, "GPU-fast", "00000000:20:00.0", "H100", (9, 0), 1980)
    vis = gpu_visibility.resolve([slow, fast], {"CUDA_VISIBLE_DEVICES": "0"})
    assert vis.job_indices == [1]  # CUDA's device 0 is the fastest: NVML's index 1
    assert any("CUDA_DEVICE_ORDER" in w for w in vis.warnings)
    vis = gpu_visibility.resolve([slow, fast], {"CUDA_VISIBLE_DEVICES": "0",
                                                "CUDA_DEVICE_ORDER": "PCI_BUS_ID"})
    assert vis.job_indices == [0] and vis.warnings == []
    # NVIDIA_VISIBLE_DEVICES indices are nvidia-smi's (PCI order) whatever CUDA_DEVICE_ORDER says
    assert gpu_visibility.resolve([slow, fast], {"NVIDIA_VISIBLE_DEVICES": "0"}).job_indices == [0]


def test_cuda_device_order_through_the_fake_nvml(tmp_path):
    t4 = dict(HOST[0], name="Tesla T4", cc=(7, 5), clock=1590)
    fake = ContainerNvml([t4, HOST[1]])
    m, _ = gpu_meter(fake, {"CUDA_VISIBLE_DEVICES": "0"}, tmp_path)
    assert [g.name for g in m.visible] == [HOST[1]["name"]]
    m, _ = gpu_meter(fake, {"CUDA_VISIBLE_DEVICES": "0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"},
                     tmp_path)
    assert [g.name for g in m.visible] == ["Tesla T4"]


def test_mig_instance_bills_its_parent_with_a_warning(tmp_path):
    parent = dict(HOST[2], migs=["MIG-aaaa-bbbb"])
    fake = ContainerNvml([HOST[1], parent])
    m, sel = gpu_meter(fake, {"CUDA_VISIBLE_DEVICES": "MIG-aaaa-bbbb"}, tmp_path)
    assert [g.index for g in m.visible] == [1]
    assert any("MIG" in w for w in sel.warnings)
    assert m.inputs()["devices"][1]["mig_parent_billed_whole"] is True


@pytest.mark.parametrize("env,expect", [
    ({}, [0, 1, 2]),
    ({"NVIDIA_VISIBLE_DEVICES": "all"}, [0, 1, 2]),
    ({"CUDA_VISIBLE_DEVICES": "2,0"}, [2, 0]),
    ({"CUDA_VISIBLE_DEVICES": "0,-1,1"}, [0]),  # CUDA stops at the first invalid entry
    ({"NVIDIA_VISIBLE_DEVICES": "none"}, []),
    ({"CUDA_VISIBLE_DEVICES": ""}, []),
    ({"NVIDIA_VISIBLE_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "0"}, [1]),
])
def test_resolve_table(env, expect):
    devs = [gpu_visibility.DeviceFacts(i, HOST[i]["uuid"], HOST[i]["bus"], "H100") for i in range(3)]
    assert gpu_visibility.resolve(devs, env).job_indices == expect


# ---- host PIDs for the per-step split ----------------------------------------------

def _proc(root, pid, ns, nspid=None):
    d = root / str(pid)
    (d / "ns").mkdir(parents=True, exist_ok=True)
    os.symlink(f"pid:[{ns}]", d / "ns" / "pid")
    chain = nspid if nspid is not None else [pid]
    (d / "status").write_text(f"Name:\tx\nNSpid:\t{' '.join(map(str, chain))}\n")


def test_pid_map_identity_in_the_host_namespace(tmp_path):
    (tmp_path / "self" / "ns").mkdir(parents=True)
    os.symlink(f"pid:[{gpu_pids.INIT_PID_NS_INODE}]", tmp_path / "self" / "ns" / "pid")
    pm = gpu_pids.build(str(tmp_path))
    assert pm.identity and pm.local(4242) == 4242


def test_pid_map_through_host_proc_nspid(tmp_path):
    own = tmp_path / "proc"
    (own / "self" / "ns").mkdir(parents=True)
    os.symlink("pid:[4026532999]", own / "self" / "ns" / "pid")
    host = tmp_path / "host_proc"
    _proc(host, 1, gpu_pids.INIT_PID_NS_INODE)
    pm = gpu_pids.build(str(own), str(host))  # made before the job's processes exist
    _proc(host, 90210, 4026532999, [90210, 57])  # our job's worker: host 90210 = our 57
    _proc(host, 90300, 4026533000, [90300, 57])  # another container's pid 57
    assert pm.local(90210) == 57 and pm.local(90300) is None and pm.local(1) is None
    unmapped = gpu_pids.build(str(own))
    assert unmapped.local(90210) is None and gpu_pids.HOST_PROC_ENV in unmapped.how


def test_meter_maps_host_pids_and_warns_when_it_cannot(tmp_path):
    fake = ContainerNvml([HOST[0]])
    fake.util = {0: {90210: 80}}
    gpus, vis = nvml.list_gpus(fake, {})
    mapped = nvml.NvmlMeter(fake, gpus, vis, gpu_pids.PidMap(False, {90210: 57}, "test table"))
    mapped.begin()
    mapped.sample(ctx())
    assert mapped.pid_weights == {57: 80.0}
    gpus, vis = nvml.list_gpus(fake, {})
    lost = nvml.NvmlMeter(fake, gpus, vis, gpu_pids.PidMap(False, {}, "inside a PID namespace"))
    lost.begin()
    lost.sample(ctx())
    assert lost.pid_weights == {}
    assert any("not split by step" in w and "PID namespace" in w for w in lost.warnings)


# ---- through the Sampler, as a participant run uses it ------------------------------

def _sampler(tmp_path, fake, env):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
    from fake_trees import make_proc, set_process

    from bids_energy.meters import create_sampler

    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_proc(proc, cores=4)
    set_process(proc, 500, "bids-energy", 1, 0)
    sel = select.choose(str(proc), str(sys_), env, nvml_loader=lambda: (fake, ""))
    s = create_sampler(root_pid=500, interval_s=3600, attribution="process", proc_root=str(proc),
                       sys_root=str(sys_), selection=sel)
    t = [100.0]
    s.clock = lambda: t[0]
    return s, t


def test_sampler_docker_device_3_books_the_gpu_energy_measured(tmp_path):
    fake = ContainerNvml([HOST[3]])
    s, t = _sampler(tmp_path, fake, {"NVIDIA_VISIBLE_DEVICES": "3"})
    s.start()
    fake.devs[0]["mj"] += 3_600_000  # 3600 J = 1 Wh
    t[0] += 10.0
    r = s.stop()
    gpu = energy_block(r.components)["components"]["gpu"]
    assert gpu["job_energy_wh"] == pytest.approx(1.0)
    assert gpu["method"] == "measured: nvml-counter" and gpu["status"] == "ok"
    assert gpu["inputs"]["devices"][0]["uuid"] == HOST[3]["uuid"]


def test_sampler_selection_matching_nothing_is_warned_not_measured(tmp_path):
    fake = ContainerNvml([HOST[0]])
    s, t = _sampler(tmp_path, fake, {"CUDA_VISIBLE_DEVICES": "GPU-ffff"})
    s.start()
    fake.devs[0]["mj"] += 3_600_000
    t[0] += 10.0
    r = s.stop()
    gpu = energy_block(r.components)["components"]["gpu"]
    assert gpu["job_energy_wh"] == 0.0 and gpu["node_energy_wh"] == pytest.approx(1.0)
    assert gpu["method"].startswith("unavailable") and gpu["method"] == nvml.NOT_ATTRIBUTED
    assert any("matches none of the GPUs" in w for w in r.warnings)


@pytest.mark.parametrize("env", [{"NVIDIA_VISIBLE_DEVICES": "3"}, {"CUDA_VISIBLE_DEVICES": "GPU-ffff"}])
def test_gpu_energy_block_matches_the_footprint_schema(tmp_path, env):
    import jsonschema

    from bids_energy.footprint import load_schema

    fake = ContainerNvml([HOST[3]])
    s, t = _sampler(tmp_path, fake, env)
    s.start()
    fake.devs[0]["mj"] += 1_000_000
    t[0] += 5.0
    r = s.stop()
    schema = load_schema()
    energy_schema = {**schema["properties"]["energy"], "$defs": schema.get("$defs", {})}
    jsonschema.Draft202012Validator(energy_schema).validate(energy_block(r.components))


def test_slurm_job_without_gpu_allocation_holds_none(tmp_path):
    fake = ContainerNvml(HOST[:2])
    m, _ = gpu_meter(fake, {"SLURM_JOB_ID": "42"}, tmp_path)
    assert m.visible == [] and m.method == nvml.NOT_HELD and not m.measured
    m, _ = gpu_meter(fake, {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "1"}, tmp_path)
    assert [g.index for g in m.visible] == [1]
    # only Slurm's own record passed on (nvidia-smi order): it selects
    m, _ = gpu_meter(fake, {"SLURM_JOB_ID": "42", "SLURM_JOB_GPUS": "0"}, tmp_path)
    assert [g.index for g in m.visible] == [0]


def test_gpu_counter_check_runs_its_real_path_on_a_fake_card(tmp_path, monkeypatch, capsys):
    """benchmarks/gpu_counter_check.py end to end with a card whose counter follows the clock
    (300 W): the project's meter, the direct counter and 10 Hz power agree, and every
    visibility case counts the card."""
    import importlib.util
    import json
    import sys
    import time
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_counter_check.py"
    spec = importlib.util.spec_from_file_location("gpu_counter_check", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    t0 = time.monotonic()

    class ClockCard(ContainerNvml):
        def nvmlDeviceGetTotalEnergyConsumption(self, h):
            return int(300_000 * (time.monotonic() - t0))

        def nvmlDeviceGetPowerUsage(self, h):
            return 300_000.0

        def nvmlSystemGetDriverVersion(self):
            return "fake"

    fake = ClockCard([HOST[3]])
    import inspect

    defaults = list(select.choose.__defaults__)
    with_defaults = [n for n, p in inspect.signature(select.choose).parameters.items()
                     if p.default is not inspect.Parameter.empty]
    defaults[with_defaults.index("nvml_loader")] = lambda: (fake, "")
    monkeypatch.setattr(select.choose, "__defaults__", tuple(defaults))
    monkeypatch.setattr(bench, "load_pynvml", lambda: (fake, ""))
    monkeypatch.setattr(bench, "make_load", lambda s: (lambda: (time.sleep(0.4), 1)[1], "sleep"))
    out = tmp_path / "gpu.json"
    monkeypatch.setattr(sys, "argv", ["gpu_counter_check.py", "--quick", "--json", str(out)])
    assert bench.main() == 0
    res = json.loads(out.read_text())
    main = res["main"]
    assert main["project_method"] == "measured: nvml-counter"
    assert 0.5 * main["counter_direct_j"] < main["project_job_j"] <= main["counter_direct_j"] + 1
    assert all(r["loaded_card_counted"] for r in res["visibility"].values())
    assert "docker --gpus device=3" in " ".join(res["visibility"])


def test_rebaseline_after_a_dropped_interval_does_not_spill(tmp_path):
    """The sampler drops an interval and asks every meter to re-read: the GPU's energy in that
    interval must not arrive in the next one."""
    fake = ContainerNvml([HOST[3]])
    m, _ = gpu_meter(fake, {"NVIDIA_VISIBLE_DEVICES": "3"}, tmp_path)
    m.begin()
    fake.devs[0]["mj"] += 500_000  # 500 J in the dropped interval
    m.rebaseline()
    fake.devs[0]["mj"] += 30_000  # 30 J in the next one
    assert m.sample(ctx()).job_j == pytest.approx(30.0)
