"""Pick one meter per component from what this machine offers, and say why.

cpu: RAPL package if readable, else the TDP model. memory: RAPL dram if readable, else the
memory model. gpu: NVML if it loads and sees a device, else no GPU component.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

from bids_energy.meters import gpu_pids, heldcpus, procfs, rapl, tdp
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
           nvml_loader: NvmlLoader = load_pynvml, powercap_root: str | None = None,
           idle_power_w: float | None = None, held: heldcpus.HeldCpus | None = None) -> Selection:
    """``powercap_root``: where the RAPL tree is (``--powercap-root``; default
    ``<sys_root>/class/powercap``). ``idle_power_w``: the node's idle CPU power if known
    (``--idle-power-w``). ``held``: the CPUs the job holds (default: read from Slurm's
    environment and the cgroup)."""
    env = os.environ if env is None else env
    cpu = procfs.read_cpuinfo(proc_root) if cpu is None else cpu
    topo = procfs.read_topology(sys_root, cpu)
    node_cpus = max(1, cpu.logical_cores)
    if held is None:
        held = heldcpus.read_held_cpus(node_cpus, env, proc_root, sys_root)
    zones, rapl_warn = rapl.discover(sys_root, opener, powercap_root)
    why_no_rapl = rapl_warn[0] if rapl_warn else "RAPL not available"
    sel = Selection(meters=[], warnings=[w for w in rapl_warn if not w.startswith("RAPL not available")])
    power = tdp.cpu_power(cpu.model, topo.cores)
    shared = {"node_cpus": node_cpus, "held_cpus": held.cpus, "held_source": held.source}

    if zones.get("package"):
        rated = (tdp.rated_w(power, topo), f"{power.source}, x {topo.cores} physical cores")
        sel.meters.append(rapl.RaplMeter("cpu", zones["package"], opener, idle_given_w=idle_power_w,
                                         rated=rated, **shared))
        sel.described.append({"component": "cpu", "source": "rapl", "used": True,
                              "method": "measured: rapl",
                              "why": f"readable RAPL package zones: "
                                     f"{[z.path.name for z in zones['package']]}"})
    else:
        sel.meters.append(tdp.TdpCpuMeter(power, why_no_rapl, topo, idle_power_w, held.cpus,
                                          held.source))
        if idle_power_w is not None and idle_power_w >= tdp.rated_w(power, topo):
            sel.warnings.append(f"--idle-power-w {idle_power_w:g} W is not below the model's rated "
                                f"{tdp.rated_w(power, topo):g} W: the TDP model bills no dynamic power")
        sel.warnings.append(f"{why_no_rapl}; CPU energy is estimated from TDP")
        sel.described.append({"component": "cpu", "source": "tdp-model", "used": True,
                              "method": "estimated: tdp-model",
                              "why": f"{why_no_rapl}; {cpu.model}: {power.power_per_core_w} W/core "
                                     f"({power.source}), {topo.threads_per_core} thread(s) per core"})
    if zones.get("dram"):
        sel.meters.append(rapl.RaplMeter("memory", zones["dram"], opener, **shared))
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
        gpus, vis = list_gpus(nv, env)
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
    pid_map = gpu_pids.build(proc_root, env.get(gpu_pids.HOST_PROC_ENV))
    meter = NvmlMeter(nv, gpus, vis, pid_map)
    sel.gpus = gpus
    sel.meters.append(meter)
    sel.warnings.extend(vis.warnings)
    sel.described.append({"component": "gpu", "source": "nvml", "used": True,
                          "method": meter.method,
                          "why": f"{len(gpus)} GPU(s), {len(meter.visible)} the job's: {vis.how}"})
    return sel


def _shutdown(nv: ModuleType) -> None:
    try:
        nv.nvmlShutdown()
    except Exception:
        pass


def describe_meters(proc_root: str = "/proc", sys_root: str = "/sys",
                    env: Mapping[str, str] | None = None, powercap_root: str | None = None
                    ) -> list[dict]:
    """What each energy source would use on this machine and why (for --dry-run and reports)."""
    sel = choose(proc_root, sys_root, env, powercap_root=powercap_root)
    for m in sel.meters:
        m.close()
    return sel.described
