"""Pick one meter per component from what this machine offers, and say why.

cpu: RAPL package if readable, else the TDP model. memory: RAPL dram if readable, else the
memory model. gpu: NVML if it loads and sees a device, else no GPU component.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from bids_energy.meters import procfs, rapl, tdp
from bids_energy.meters.base import EnergyMeter
from bids_energy.meters.memmodel import W_PER_GB, MemoryModelMeter
from bids_energy.meters.nvml import Gpu, NvmlMeter, list_gpus, load_pynvml

NvmlLoader = Callable[[], tuple[ModuleType | None, str]]


@dataclass
class Selection:
    meters: list[EnergyMeter]
    warnings: list[str] = field(default_factory=list)
    gpus: list[Gpu] = field(default_factory=list)
    described: list[dict] = field(default_factory=list)


def choose(proc_root: str = "/proc", sys_root: str = "/sys", env: Mapping[str, str] | None = None,
           cpu: procfs.CpuInfo | None = None, opener: rapl.Opener = rapl.read_text,
           nvml_loader: NvmlLoader = load_pynvml) -> Selection:
    env = os.environ if env is None else env
    cpu = procfs.read_cpuinfo(proc_root) if cpu is None else cpu
    zones, rapl_warn = rapl.discover(sys_root, opener)
    why_no_rapl = rapl_warn[0] if rapl_warn else "RAPL not available"
    sel = Selection(meters=[], warnings=[w for w in rapl_warn if not w.startswith("RAPL not available")])

    if zones.get("package"):
        sel.meters.append(rapl.RaplMeter("cpu", zones["package"], opener))
        sel.described.append({"component": "cpu", "source": "rapl", "used": True,
                              "method": "measured: rapl",
                              "why": f"readable RAPL package zones: "
                                     f"{[z.path.name for z in zones['package']]}"})
    else:
        power = tdp.cpu_power(cpu.model, cpu.physical_cores)
        sel.meters.append(tdp.TdpCpuMeter(power, why_no_rapl))
        sel.warnings.append(f"{why_no_rapl}; CPU energy is estimated from TDP")
        sel.described.append({"component": "cpu", "source": "tdp-model", "used": True,
                              "method": "estimated: tdp-model",
                              "why": f"{why_no_rapl}; {cpu.model}: {power.power_per_core_w} W/core "
                                     f"({power.source})"})
    if zones.get("dram"):
        sel.meters.append(rapl.RaplMeter("memory", zones["dram"], opener))
        sel.described.append({"component": "memory", "source": "rapl", "used": True,
                              "method": "measured: rapl",
                              "why": "readable RAPL dram zone, split by the job's CPU-time share"})
    else:
        reason = "No readable RAPL dram domain"
        sel.meters.append(MemoryModelMeter(reason))
        sel.described.append({"component": "memory", "source": "memory-model", "used": True,
                              "method": "estimated: memory-model",
                              "why": f"{reason}; {W_PER_GB} W/GB x resident memory"})

    nv, why = nvml_loader()
    if nv is None:
        sel.described.append({"component": "gpu", "source": "nvml", "used": False, "why": why})
        return sel
    try:
        gpus = list_gpus(nv, env)
    except Exception as exc:
        sel.described.append({"component": "gpu", "source": "nvml", "used": False,
                              "why": f"NVML device listing failed: {exc}"})
        _shutdown(nv)
        return sel
    if not gpus:
        sel.described.append({"component": "gpu", "source": "nvml", "used": False,
                              "why": "NVML loaded but sees no GPU"})
        _shutdown(nv)
        return sel
    meter = NvmlMeter(nv, gpus)
    sel.gpus = gpus
    sel.meters.append(meter)
    sel.described.append({"component": "gpu", "source": "nvml", "used": True,
                          "method": meter.method,
                          "why": f"{len(gpus)} GPU(s), {len(meter.visible)} visible to the job"})
    return sel


def _shutdown(nv: ModuleType) -> None:
    try:
        nv.nvmlShutdown()
    except Exception:
        pass


def describe_meters(proc_root: str = "/proc", sys_root: str = "/sys",
                    env: Mapping[str, str] | None = None) -> list[dict]:
    """What each energy source would use on this machine and why (for --dry-run and reports)."""
    sel = choose(proc_root, sys_root, env)
    for m in sel.meters:
        m.close()
    return sel.described
