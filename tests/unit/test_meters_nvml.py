"""NVML meter with a fake pynvml module; a real-GPU check marked gpu."""

import types

import pytest

from bids_energy.meters import nvml, select
from bids_energy.meters.base import IntervalContext


class FakeNvml(types.SimpleNamespace):
    """Two devices: 0 has an energy counter, 1 (pre-Volta) only power."""

    def __init__(self, counter=(True, False)):
        super().__init__()
        self.counter = list(counter)
        self.mj = [1_000_000, 0]
        self.mw = [0.0, 100_000.0]
        self.shutdown = False

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        self.shutdown = True

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetUUID(self, h):
        return f"GPU-{h}aaa-bbbb"

    def nvmlDeviceGetName(self, h):
        return b"Fake H100"

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if not self.counter[h]:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return self.mj[h]

    def nvmlDeviceGetPowerUsage(self, h):
        return self.mw[h]

    def nvmlDeviceGetProcessUtilization(self, h, ts):
        return [types.SimpleNamespace(pid=4242, smUtil=80, timeStamp=ts + 1)]


def ctx(dt=2.0):
    return IntervalContext(t_s=dt, dt_s=dt, job_cpu_delta_s=0.0, node_busy_delta_s=None,
                           node_total_delta_s=None, job_mem_gb=0.0, logical_cores=4)


def test_counter_and_power_integration():
    fake = FakeNvml()
    gpus, vis = nvml.list_gpus(fake, {"CUDA_VISIBLE_DEVICES": "0"})
    m = nvml.NvmlMeter(fake, gpus, vis)
    assert m.method == "measured: nvml-counter"
    m.begin()
    fake.mj[0] += 500_000  # 500 J on the counter
    fake.mw[1] = 300_000.0  # 100 W -> 300 W over 2 s: trapezoid 400 J (device 0 draws 0 W)
    s = m.sample(ctx(2.0))
    assert s.job_j == pytest.approx(500.0)
    assert s.node_j == pytest.approx(900.0)
    assert m.pid_weights == {4242: 80.0}
    m.close()
    assert fake.shutdown


def test_power_integration_method_when_visible_device_lacks_counter():
    fake = FakeNvml(counter=(False, False))
    m = nvml.NvmlMeter(fake, *nvml.list_gpus(fake, {}))
    assert m.method == "measured: nvml-power-integration"


def test_select_without_nvml_has_no_gpu_component(tmp_path):
    sel = select.choose(str(tmp_path), str(tmp_path), {},
                        nvml_loader=lambda: (None, "NVML Shared Library Not Found"))
    assert [m.component for m in sel.meters] == ["cpu", "memory"]
    assert any(d["component"] == "gpu" and not d["used"] for d in sel.described)


def test_select_with_fake_nvml(tmp_path):
    fake = FakeNvml()
    sel = select.choose(str(tmp_path), str(tmp_path), {"CUDA_VISIBLE_DEVICES": "1"},
                        nvml_loader=lambda: (fake, ""))
    gpu = [m for m in sel.meters if m.component == "gpu"][0]
    assert [g.index for g in gpu.visible] == [1]


@pytest.mark.gpu
def test_real_gpu_energy_counter_moves():
    nv, why = nvml.load_pynvml()
    if nv is None:
        pytest.skip(why)
    gpus, vis = nvml.list_gpus(nv, {})
    if not gpus:
        pytest.skip("no NVIDIA GPU")
    m = nvml.NvmlMeter(nv, gpus, vis)
    m.begin()
    import time

    time.sleep(1.0)
    s = m.sample(ctx(1.0))
    assert s.node_j > 0  # an idle GPU still draws tens of watts
    m.close()
