"""GPU energy through NVML (package nvidia-ml-py, module ``pynvml``).

Volta and newer GPUs have a total-energy counter (mJ): the reference. Older ones only give
instantaneous power, which is integrated (trapezoids) between samples. The devices visible
to the job (CUDA_VISIBLE_DEVICES, else NVIDIA_VISIBLE_DEVICES) are attributed to it whole;
node figures cover every device NVML sees. No NVML, no driver or no GPU means no GPU
component at all, never an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from bids_energy.meters.base import ComponentSample, EnergyMeter, IntervalContext, MeterUnavailable


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


def visible_selectors(env: Mapping[str, str]) -> list[str] | None:
    """Device selectors visible to the job; None = all, [] = none.

    CUDA_VISIBLE_DEVICES wins (it is what CUDA applies inside the job); otherwise
    NVIDIA_VISIBLE_DEVICES, which container runtimes use to pick the devices mounted.
    CUDA stops at the first invalid entry, and so does this.
    """
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        raw = env.get("NVIDIA_VISIBLE_DEVICES")
        if raw is None or raw.strip().lower() in ("all", ""):
            return None
        if raw.strip().lower() in ("none", "void"):
            return []
    raw = raw.strip()
    if raw == "" or raw.lower() in ("nodevfiles", "none", "void"):
        return []
    out = []
    for part in raw.split(","):
        part = part.strip()
        if not part or part.startswith("-"):
            break
        out.append(part)
    return out


def _decode(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


@dataclass
class Gpu:
    index: int
    handle: Any
    name: str
    uuid: str
    visible: bool
    has_counter: bool
    last_mj: int | None = None
    last_mw: float | None = None


def select_visible(uuids: list[str], selectors: list[str] | None) -> set[int]:
    """Indices of devices a selector list names (indices, full UUIDs or UUID prefixes)."""
    if selectors is None:
        return set(range(len(uuids)))
    chosen: set[int] = set()
    for sel in selectors:
        if sel.isdigit():
            i = int(sel)
            if i >= len(uuids):
                break
            chosen.add(i)
            continue
        hits = [i for i, u in enumerate(uuids) if u == sel or u.startswith(sel)]
        if len(hits) != 1:
            break
        chosen.add(hits[0])
    return chosen


def list_gpus(nv: ModuleType, env: Mapping[str, str]) -> list[Gpu]:
    count = nv.nvmlDeviceGetCount()
    handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    uuids = [_decode(nv.nvmlDeviceGetUUID(h)) for h in handles]
    visible = select_visible(uuids, visible_selectors(env))
    gpus = []
    for i, h in enumerate(handles):
        try:
            nv.nvmlDeviceGetTotalEnergyConsumption(h)
            counter = True
        except Exception:
            counter = False
        gpus.append(Gpu(i, h, _decode(nv.nvmlDeviceGetName(h)), uuids[i], i in visible, counter))
    return gpus


class NvmlMeter(EnergyMeter):
    component = "gpu"
    measured = True

    def __init__(self, nv: ModuleType, gpus: list[Gpu]) -> None:
        self.nv = nv
        self.gpus = gpus
        self.method = ("measured: nvml-counter" if all(g.has_counter for g in self.visible)
                       else "measured: nvml-power-integration")
        self.pid_weights: dict[int, float] = {}
        self._last_ts: dict[int, int] = {}

    @property
    def visible(self) -> list[Gpu]:
        return [g for g in self.gpus if g.visible]

    def begin(self) -> None:
        for g in self.gpus:
            self._read(g, 0.0)

    def _read(self, g: Gpu, dt_s: float) -> float:
        """Joules used by one device since the last read."""
        try:
            if g.has_counter:
                mj = int(self.nv.nvmlDeviceGetTotalEnergyConsumption(g.handle))
                d = 0.0 if g.last_mj is None or mj < g.last_mj else (mj - g.last_mj) / 1000.0
                g.last_mj = mj
                return d
            mw = float(self.nv.nvmlDeviceGetPowerUsage(g.handle))
            d = 0.0 if g.last_mw is None else (g.last_mw + mw) / 2.0 / 1000.0 * dt_s
            g.last_mw = mw
            return d
        except Exception as exc:
            raise MeterUnavailable(f"NVML read failed on GPU {g.index}: {exc}") from exc

    def sample(self, ctx: IntervalContext) -> ComponentSample:
        node = job = 0.0
        for g in self.gpus:
            j = self._read(g, ctx.dt_s)
            node += j
            if g.visible:
                job += j
        self.pid_weights = self._process_weights()
        return ComponentSample(job_j=job, node_j=node)

    def _process_weights(self) -> dict[int, float]:
        """SM utilisation by pid on the visible devices since the last call (may be empty)."""
        weights: dict[int, float] = {}
        for g in self.visible:
            try:
                samples = self.nv.nvmlDeviceGetProcessUtilization(g.handle,
                                                                  self._last_ts.get(g.index, 0))
            except Exception:
                continue  # not supported / no samples: steps fall back to CPU shares
            for s in samples:
                weights[int(s.pid)] = weights.get(int(s.pid), 0.0) + float(s.smUtil)
                self._last_ts[g.index] = max(self._last_ts.get(g.index, 0), int(s.timeStamp))
        return weights

    def inputs(self) -> dict:
        return {"devices": [{"index": g.index, "name": g.name, "uuid": g.uuid,
                             "visible_to_job": g.visible, "energy_counter": g.has_counter}
                            for g in self.gpus]}

    def note(self) -> str:
        how = ("NVML total-energy counters" if self.method.endswith("counter")
               else "NVML power samples integrated over time (no energy counter on some device)")
        return (f"GPU energy from {how}; the devices visible to the job "
                "(CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES) are attributed to it whole.")

    def close(self) -> None:
        try:
            self.nv.nvmlShutdown()
        except Exception:
            pass


def hardware_gpus(gpus: list[Gpu]) -> list[dict]:
    return [{"index": g.index, "name": g.name, "uuid": g.uuid, "visible_to_job": g.visible}
            for g in gpus]
