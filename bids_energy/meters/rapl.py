"""RAPL energy counters from the powercap sysfs tree (package and dram domains).

Each zone directory holds ``name``, ``energy_uj`` (a counter that wraps at
``max_energy_range_uj``). Since CVE-2020-8694 ``energy_uj`` is root-only on most kernels;
an unreadable zone is skipped with a warning rather than silently read as zero.
``psys`` (whole platform) is left out so it is not added on top of package and dram, and
``intel-rapl-mmio`` zones duplicate the MSR package zones, so they are used only alone.

The tree is read from ``powercap_root`` (``--powercap-root``, default /sys/class/powercap),
so a container can read the host's counters bind-mounted read-only anywhere, and tests and
benchmarks drive this same code on simulated counters. The node energy is split to the job
by the one shared-node definition (attribution.py): dynamic part by busy CPU time, idle
share by the CPUs the job holds, with the idle power given, estimated from the run or
assumed from the rated power (idlepower.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bids_energy.meters import idlepower
from bids_energy.meters.attribution import (
    NodeShareAccount,
    counter_delta,
    max_safe_interval_s,
    plausible_power,
    shared_node_split,
)
from bids_energy.meters.base import (
    ComponentSample,
    EnergyMeter,
    ImplausibleReading,
    IntervalContext,
    MeterTotals,
    MeterUnavailable,
)

Opener = Callable[[Path], str]
_ZONE = re.compile(r"^(intel-rapl|amd-rapl|intel-rapl-mmio):(\d+)(?::(\d+))?$")
_FAMILY_ORDER = ("intel-rapl", "amd-rapl", "intel-rapl-mmio")
MAX_ZONE_W = 2000.0  # no socket or DIMM set draws this; above it a reading is a glitch
# A zone's long-term limit (constraint_0, about TDP) can be exceeded for seconds (PL2 is
# typically 1.2-1.5x PL1); twice it is the most a zone is taken to draw over an interval.
LIMIT_MARGIN = 2.0
DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"


def read_text(path: Path) -> str:
    return path.read_text()


@dataclass(frozen=True)
class Zone:
    path: Path
    name: str  # "package-0", "dram", ...
    max_range_uj: int | None
    max_power_w: float | None = None  # constraint_0_max_power_uw (long-term limit), if given



def _zone_limit_w(entry: Path, opener: Opener) -> float | None:
    for name in ("constraint_0_max_power_uw", "constraint_0_power_limit_uw"):
        try:
            uw = int(opener(entry / name).strip())
        except (OSError, ValueError):
            continue
        if uw > 0:
            return uw / 1e6
    return None


def discover(sys_root: str = "/sys", opener: Opener = read_text,
             powercap_root: str | None = None) -> tuple[dict[str, list[Zone]], list[str]]:
    """Readable zones by domain ("package", "dram") and warnings about the rest."""
    base = Path(powercap_root) if powercap_root else Path(sys_root, "class", "powercap")
    warnings: list[str] = []
    if not base.is_dir():
        return {}, [f"RAPL not available: {base} does not exist"]
    by_family: dict[str, dict[str, list[Zone]]] = {}
    for entry in sorted(base.iterdir()):
        m = _ZONE.match(entry.name)
        if not m:
            continue
        try:
            name = opener(entry / "name").strip()
        except OSError:
            continue
        domain = "package" if name.startswith("package") else "dram" if name == "dram" else None
        if domain is None:
            continue  # core/uncore are inside package; psys would double count
        try:
            int(opener(entry / "energy_uj").strip())
        except (OSError, ValueError) as exc:
            warnings.append(f"RAPL zone {entry.name} ({name}) not readable ({exc.__class__.__name__}"
                            f"); since CVE-2020-8694 energy_uj is often root-only")
            continue
        try:
            max_range = int(opener(entry / "max_energy_range_uj").strip())
        except (OSError, ValueError):
            max_range = None
        fam = by_family.setdefault(m.group(1), {})
        fam.setdefault(domain, []).append(Zone(entry, name, max_range, _zone_limit_w(entry, opener)))
    zones: dict[str, list[Zone]] = {}
    for family in _FAMILY_ORDER:
        for domain, zs in by_family.get(family, {}).items():
            zones.setdefault(domain, zs)  # first family offering a domain wins
    if not zones and not warnings:
        warnings.append(f"RAPL not available: no package or dram zone under {base}")
    return zones, warnings


class RaplMeter(EnergyMeter):
    """Node energy of one RAPL domain; the job's part by the shared-node definition."""

    measured = True

    def __init__(self, component: str, zones: list[Zone], opener: Opener = read_text,
                 node_cpus: int = 1, idle_given_w: float | None = None,
                 held_cpus: float | None = None, held_source: str = "CPUs used",
                 rated: tuple[float, str] | None = None) -> None:
        self.component = component
        self.zones = zones
        self.opener = opener
        self.node_cpus = max(1, node_cpus)
        self.idle_given_w = idle_given_w if component == "cpu" else None
        self.held_cpus = held_cpus
        self.held_source = held_source
        self.rated = rated
        self.account = NodeShareAccount(self.node_cpus)
        self.method = ("measured: rapl, shared-node split" if component == "cpu"
                       else "measured: rapl dram, shared-node split")
        self._last: list[int] = []
        self._glitches = 0
        self._final: MeterTotals | None = None

    def _read_all(self) -> list[int]:
        out = []
        for z in self.zones:
            try:
                out.append(int(self.opener(z.path / "energy_uj").strip()))
            except (OSError, ValueError) as exc:
                raise MeterUnavailable(f"RAPL {z.path.name}/energy_uj unreadable: {exc}") from exc
        return out

    def begin(self) -> None:
        self._last = self._read_all()

    def rebaseline(self) -> None:
        self._last = self._read_all()

    def plausible_w(self, z: Zone) -> float:
        """The most a zone is taken to draw: LIMIT_MARGIN x its long-term limit, else
        MAX_ZONE_W. Not the TDP table's rated power: in a VM or container /proc/cpuinfo can
        show fewer cores than the package the counter covers, and a too-low bound would drop
        good intervals."""
        if z.max_power_w:
            return LIMIT_MARGIN * z.max_power_w
        return MAX_ZONE_W

    def max_interval_s(self) -> float | None:
        """The shortest time any zone needs to wrap at its plausible power."""
        limits = [t for z in self.zones
                  if (t := max_safe_interval_s(z.max_range_uj, self.plausible_w(z))) is not None]
        return min(limits) if limits else None

    def _fallback_idle(self) -> idlepower.IdlePower | None:
        if self.component != "cpu":
            return None
        limits = [z.max_power_w for z in self.zones]
        if all(limits):
            return idlepower.from_tdp(sum(limits),  # type: ignore[arg-type]
                                      "RAPL constraint_0 long-term power limits of the packages")
        if self.rated is not None:
            return idlepower.from_tdp(*self.rated)
        return None

    def _provisional_idle_w(self) -> float:
        if self.idle_given_w is not None:
            return self.idle_given_w
        fb = self._fallback_idle()
        if fb is not None:
            return fb.value_w
        a = self.account
        return a.node_j / a.dt_s if a.dt_s > 0 else 0.0

    def sample(self, ctx: IntervalContext) -> ComponentSample:
        now = self._read_all()
        total_uj = 0
        problems = []
        bound = self.max_interval_s()
        for z, before, after in zip(self.zones, self._last, now, strict=True):
            d = counter_delta(before, after, z.max_range_uj)
            if d is None:
                problems.append(f"{z.path.name} went back from {before} to {after} uJ with no "
                                "known range (cannot be a wrap)")
            elif not plausible_power(d / 1e6, ctx.dt_s, self.plausible_w(z)):
                problems.append(f"{z.path.name}: {d / 1e6 / max(ctx.dt_s, 1e-9):.0f} W is above "
                                f"the plausible {self.plausible_w(z):.0f} W")
            else:
                total_uj += d
        self._last = now
        if bound is not None and ctx.dt_s > bound:
            problems.append(f"the interval ({ctx.dt_s:.1f} s) is longer than the {bound:.1f} s "
                            "in which a counter could wrap twice")
        if ctx.node_busy_delta_s is None or ctx.node_total_delta_s is None:
            problems.append("node CPU counters unreadable or went back, so the job's share "
                            "is unknown")
        if problems:
            self._glitches += 1
            raise ImplausibleReading(f"RAPL {self.component} over {ctx.dt_s:.2f} s: "
                                     + "; ".join(problems))
        node_j = total_uj / 1e6
        busy = ctx.node_busy_delta_s or 0.0
        self.account.add(node_j, ctx.dt_s, ctx.job_cpu_delta_s, busy, self.held_cpus)
        split = shared_node_split(node_j, ctx.dt_s, self._provisional_idle_w(),
                                  ctx.job_cpu_delta_s, busy, self.held_cpus, self.node_cpus)
        return ComponentSample(job_j=split.job_j, node_j=node_j, idle_j=split.node_idle_j)

    def finish(self) -> MeterTotals:
        a = self.account
        if self.component == "cpu":
            idle = idlepower.choose(self.idle_given_w, a.points, self.node_cpus,
                                    self._fallback_idle())
        else:
            est, why = idlepower.estimate_from_run(a.points, self.node_cpus)
            idle = est or idlepower.IdlePower(
                round(a.node_j / a.dt_s, 3) if a.dt_s > 0 else 0.0,
                "assumed: DRAM power all static (the run's mean DRAM power)",
                {"not_estimated_because": why})
        sp = a.split(idle.value_w)
        self._final = MeterTotals(
            job_j=sp.job_j, job_dynamic_j=sp.job_dynamic_j, job_idle_j=sp.job_idle_j,
            node_j=sp.node_j, node_idle_j=sp.node_idle_j, idle=idle, held_cpus=self.held_cpus,
            held_source=self.held_source, node_cpus=self.node_cpus,
            dynamic_method="measured: rapl, (node - idle power x dt) x job / node busy CPU time",
            node_method="measured: rapl")
        return self._final

    def inputs(self) -> dict:
        out = {"node_method": "measured: rapl", "zones": [z.path.name for z in self.zones],
               "zone_names": [z.name for z in self.zones],
               "powercap_root": str(self.zones[0].path.parent) if self.zones else None,
               "zone_max_power_w": [z.max_power_w for z in self.zones],
               "max_interval_s": _round(self.max_interval_s(), 3)}
        return out

    def note(self) -> str:
        what = "package" if self.component == "cpu" else "dram"
        return (f"Node energy from RAPL {what} counters. The job pays the node's dynamic energy "
                "(node energy - idle power x time) x its share of the node's busy CPU time, "
                "plus the idle power x the CPUs it holds / the node's CPUs "
                f"({self.held_source}); its neighbours' load does not change that figure when "
                "power is linear in busy CPUs.")


def _round(v: float | None, n: int) -> float | None:
    return None if v is None else round(v, n)
