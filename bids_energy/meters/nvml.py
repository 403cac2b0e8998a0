"""GPU energy through NVML (package nvidia-ml-py, module ``pynvml``).

Volta and newer GPUs have a total-energy counter (mJ): the reference. Older ones only give
instantaneous power (``nvmlDeviceGetPowerUsage``, mW), integrated (trapezoids) between
samples. Power is read every interval on every device too, so that a counter read error or
a counter reset (a decrease) costs only that interval's precision, not the device: the
interval is integrated from power instead, re-baselined, and counted in the device's inputs
and the method label. A device whose reads all fail for an interval loses that interval
(counted and warned), never the whole meter.

Which devices are the job's is decided in ``gpu_visibility`` (UUIDs, container-renumbered
indices, CUDA_DEVICE_ORDER); the job's devices are attributed to it whole, node figures
cover every device NVML sees. No NVML, no driver or no GPU means no GPU component at all.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from bids_energy.meters import gpu_pids
from bids_energy.meters.base import ComponentSample, EnergyMeter, IntervalContext
from bids_energy.meters.gpu_visibility import DeviceFacts, Visibility, resolve

COUNTER = "measured: nvml-counter"
POWER = "measured: nvml-power-integration"
MIXED = "measured: nvml-counter with power-integration fallback"
NOT_ATTRIBUTED = "unavailable: the job's GPU selection matched no device (node GPU energy measured)"
NOT_HELD = "unavailable: the job holds no GPU (node GPU energy measured)"


def load_pynvml() -> tuple[ModuleType | None, str]:
    """The initialised pynvml module, or None and why not."""
    try:
        nv = importlib.import_module("pynvml")
    except ImportError:
        return None, "pynvml (nvidia-ml-py) is not installed"
    try:
        nv.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None, f"NVML not usable: {exc}"
    return nv, ""


def _decode(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _try(fn, *args, default=None):
    """One optional NVML call: old drivers and GPUs lack many (NOT_SUPPORTED)."""
    try:
        return fn(*args)
    except Exception:
        return default


def _opt(nv: ModuleType, name: str, *args, default=None):
    fn = getattr(nv, name, None)
    return default if fn is None else _try(fn, *args, default=default)


@dataclass
class Gpu:
    index: int
    handle: Any
    name: str
    uuid: str
    visible: bool
    has_counter: bool
    pci_bus_id: str = ""
    last_mj: int | None = None
    last_mw: float | None = None
    counter_j: float = 0.0
    power_j: float = 0.0
    counter_errors: int = 0
    counter_resets: int = 0
    lost_intervals: int = 0
    mig_parent: bool = False
    last_error: str = ""


def _facts(nv: ModuleType, index: int, handle: Any) -> DeviceFacts:
    pci = _opt(nv, "nvmlDeviceGetPciInfo", handle)
    cc = _opt(nv, "nvmlDeviceGetCudaComputeCapability", handle)
    clock = _opt(nv, "nvmlDeviceGetMaxClockInfo", handle, getattr(nv, "NVML_CLOCK_SM", 1))
    migs: list[str] = []
    n_mig = _opt(nv, "nvmlDeviceGetMaxMigDeviceCount", handle, default=0) or 0
    for k in range(int(n_mig)):
        mh = _opt(nv, "nvmlDeviceGetMigDeviceHandleByIndex", handle, k)
        if mh is not None:
            u = _opt(nv, "nvmlDeviceGetUUID", mh)
            if u:
                migs.append(_decode(u))
    return DeviceFacts(
        index=index, uuid=_decode(nv.nvmlDeviceGetUUID(handle)),
        pci_bus_id=_decode(getattr(pci, "busId", "")) if pci is not None else "",
        name=_decode(_opt(nv, "nvmlDeviceGetName", handle, default="unknown GPU")),
        compute_capability=tuple(cc) if cc else None,
        max_sm_clock_mhz=int(clock) if clock else None, mig_uuids=tuple(migs))


def list_gpus(nv: ModuleType, env: Mapping[str, str]) -> tuple[list[Gpu], Visibility]:
    """Every device NVML can open, each marked visible to the job or not, and the reasons.

    A device NVML cannot open (a device cgroup hides it, it fell off the bus) is skipped
    with a warning in the returned Visibility rather than failing the listing."""
    count = nv.nvmlDeviceGetCount()
    facts: list[DeviceFacts] = []
    handles: dict[int, Any] = {}
    skipped: list[str] = []
    for i in range(count):
        try:
            h = nv.nvmlDeviceGetHandleByIndex(i)
            facts.append(_facts(nv, i, h))
            handles[i] = h
        except Exception as exc:
            skipped.append(f"NVML device {i} cannot be opened ({exc}); it is left out")
    vis = resolve(facts, env)
    vis.warnings[:0] = skipped
    gpus = []
    for f in facts:
        h = handles[f.index]
        counter = _try(nv.nvmlDeviceGetTotalEnergyConsumption, h) is not None
        gpus.append(Gpu(f.index, h, f.name, f.uuid, f.index in vis.job_indices, counter,
                        f.pci_bus_id, mig_parent=f.index in vis.mig_parents))
    return gpus, vis


class NvmlMeter(EnergyMeter):
    component = "gpu"

    def __init__(self, nv: ModuleType, gpus: list[Gpu], vis: Visibility | None = None,
                 pid_map: gpu_pids.PidMap | None = None) -> None:
        self.nv = nv
        self.gpus = gpus
        self.vis = vis or Visibility([g.index for g in gpus if g.visible], "given")
        self.pid_map = pid_map or gpu_pids.PidMap(True, {}, "assumed: same PID namespace")
        self.warnings: list[str] = list(self.vis.warnings)
        self.pid_weights: dict[int, float] = {}
        self._last_ts: dict[int, int] = {}
        self._unmapped_intervals = 0

    @property
    def visible(self) -> list[Gpu]:
        return [g for g in self.gpus if g.visible]

    @property
    def measured(self) -> bool:  # type: ignore[override]
        return bool(self.visible)

    @property
    def method(self) -> str:  # type: ignore[override]
        """The job figure's method, from what actually happened on the job's devices."""
        job = self.visible
        if not job:
            return NOT_HELD if self.vis.holds_none else NOT_ATTRIBUTED
        if not any(g.has_counter for g in job):
            return POWER
        if any(g.counter_errors or g.counter_resets or not g.has_counter for g in job):
            return MIXED
        return COUNTER

    def _warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def begin(self) -> None:
        for g in self.gpus:
            g.last_mw = _try(self._power_mw, g)
            if g.has_counter:
                g.last_mj = _try(self._counter_mj, g)

    def rebaseline(self) -> None:
        """The sampler dropped an interval: re-read every device's counter and power, so
        that interval's GPU energy does not spill into the next one."""
        self.begin()

    def _counter_mj(self, g: Gpu) -> int:
        return int(self.nv.nvmlDeviceGetTotalEnergyConsumption(g.handle))

    def _power_mw(self, g: Gpu) -> float:
        return float(self.nv.nvmlDeviceGetPowerUsage(g.handle))

    def _read(self, g: Gpu, dt_s: float) -> float | None:
        """Joules used by one device in the interval; None when nothing could be read."""
        mw = None
        try:
            mw = self._power_mw(g)
        except Exception as exc:
            g.last_error = f"power: {exc}"
        power_j = (None if mw is None or g.last_mw is None
                   else (g.last_mw + mw) / 2.0 / 1000.0 * dt_s)
        if mw is not None:
            g.last_mw = mw
        if g.has_counter:
            try:
                mj = self._counter_mj(g)
            except Exception as exc:
                g.counter_errors += 1
                g.last_error = f"energy counter: {exc}"
                g.last_mj = None  # re-baseline at the next good read
            else:
                prev, g.last_mj = g.last_mj, mj
                if prev is not None and mj >= prev:
                    g.counter_j += (mj - prev) / 1000.0
                    return (mj - prev) / 1000.0
                if prev is not None:  # a decrease: driver reload or reset
                    g.counter_resets += 1
        if power_j is None:
            g.lost_intervals += 1
            return None
        g.power_j += power_j
        return power_j

    def sample(self, ctx: IntervalContext) -> ComponentSample:
        node = job = 0.0
        lost = False
        for g in self.gpus:
            j = self._read(g, ctx.dt_s)
            if j is None:
                lost = lost or g.visible
                continue
            node += j
            if g.visible:
                job += j
        if lost:
            self._warn("a GPU of the job could not be read (neither energy counter nor power) "
                       "for some intervals: its energy misses them (see lost_intervals)")
        self.pid_weights = self._process_weights()
        return ComponentSample(job_j=job if self.visible else None, node_j=node)

    def _process_weights(self) -> dict[int, float]:
        """SM utilisation on the job's devices since the last call, by PID in the walker's
        view (NVML reports host PIDs; see gpu_pids). May be empty."""
        weights: dict[int, float] = {}
        unmapped = 0.0
        for g in self.visible:
            try:
                samples = self.nv.nvmlDeviceGetProcessUtilization(g.handle,
                                                                  self._last_ts.get(g.index, 0))
            except Exception:
                continue  # not supported / no samples: steps fall back to CPU shares
            for s in samples:
                self._last_ts[g.index] = max(self._last_ts.get(g.index, 0), int(s.timeStamp))
                pid = self.pid_map.local(int(s.pid))
                if pid is None:
                    unmapped += float(s.smUtil)
                    continue
                weights[pid] = weights.get(pid, 0.0) + float(s.smUtil)
        if unmapped > 0 and not weights:
            self._unmapped_intervals += 1
            self._warn("GPU energy is not split by step: NVML's per-process utilisation "
                       f"reports host PIDs that cannot be mapped here ({self.pid_map.how}); "
                       "the steps share the GPU energy by CPU time instead")
        return weights

    def inputs(self) -> dict:
        devices = []
        for g in self.gpus:
            d = {"index": g.index, "name": g.name, "uuid": g.uuid, "pci_bus_id": g.pci_bus_id,
                 "visible_to_job": g.visible, "energy_counter": g.has_counter,
                 "counter_energy_wh": round(g.counter_j / 3600.0, 6),
                 "power_integrated_energy_wh": round(g.power_j / 3600.0, 6)}
            for key in ("counter_errors", "counter_resets", "lost_intervals"):
                if getattr(g, key):
                    d[key] = getattr(g, key)
            if g.mig_parent:
                d["mig_parent_billed_whole"] = True
            if g.last_error:
                d["last_error"] = g.last_error
            devices.append(d)
        return {"devices": devices, "job_selection": self.vis.how,
                "cuda_order_nvml_indices": self.vis.cuda_order,
                "pid_mapping": self.pid_map.how}

    def note(self) -> str:
        if not self.visible:
            return ("GPU energy measured for the node only, none attributed to the job: "
                    f"{self.vis.how}.")
        how = {COUNTER: "NVML total-energy counters",
               POWER: "NVML power samples integrated over time (no energy counter)",
               MIXED: "NVML total-energy counters, with power samples integrated over the "
                      "intervals where a counter was missing, failed or reset"}[self.method]
        return (f"GPU energy from {how}; the GPUs the job holds ({self.vis.how}) are "
                "attributed to it whole, idle draw included.")

    def close(self) -> None:
        try:
            self.nv.nvmlShutdown()
        except Exception:
            pass
