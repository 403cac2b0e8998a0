"""RAPL energy counters from the powercap sysfs tree (package and dram domains).

Each zone directory holds ``name``, ``energy_uj`` (a counter that wraps at
``max_energy_range_uj``). Since CVE-2020-8694 ``energy_uj`` is root-only on most kernels;
an unreadable zone is skipped with a warning rather than silently read as zero.
``psys`` (whole platform) is left out so it is not added on top of package and dram, and
``intel-rapl-mmio`` zones duplicate the MSR package zones, so they are used only alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bids_energy.meters.attribution import counter_delta, kepler_split, plausible_power
from bids_energy.meters.base import (
    ComponentSample,
    EnergyMeter,
    ImplausibleReading,
    IntervalContext,
    MeterUnavailable,
)

Opener = Callable[[Path], str]
_ZONE = re.compile(r"^(intel-rapl|amd-rapl|intel-rapl-mmio):(\d+)(?::(\d+))?$")
_FAMILY_ORDER = ("intel-rapl", "amd-rapl", "intel-rapl-mmio")
MAX_ZONE_W = 2000.0  # no socket or DIMM set draws this; above it a reading is a glitch


def read_text(path: Path) -> str:
    return path.read_text()


@dataclass(frozen=True)
class Zone:
    path: Path
    name: str  # "package-0", "dram", ...
    max_range_uj: int | None


def discover(sys_root: str = "/sys", opener: Opener = read_text
             ) -> tuple[dict[str, list[Zone]], list[str]]:
    """Readable zones by domain ("package", "dram") and warnings about the rest."""
    base = Path(sys_root, "class", "powercap")
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
        fam.setdefault(domain, []).append(Zone(entry, name, max_range))
    zones: dict[str, list[Zone]] = {}
    for family in _FAMILY_ORDER:
        for domain, zs in by_family.get(family, {}).items():
            zones.setdefault(domain, zs)  # first family offering a domain wins
    if not zones and not warnings:
        warnings.append(f"RAPL not available: no package or dram zone under {base}")
    return zones, warnings


class RaplMeter(EnergyMeter):
    """Node energy of one RAPL domain; the job gets the Kepler split by CPU-time share."""

    measured = True
    method = "measured: rapl x cpu-time share"

    def __init__(self, component: str, zones: list[Zone], opener: Opener = read_text) -> None:
        self.component = component
        self.zones = zones
        self.opener = opener
        self._last: list[int] = []
        self._glitches = 0

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

    def sample(self, ctx: IntervalContext) -> ComponentSample:
        now = self._read_all()
        total_uj = 0
        ok = True
        for z, before, after in zip(self.zones, self._last, now, strict=True):
            d = counter_delta(before, after, z.max_range_uj)
            if d is None or not plausible_power(d / 1e6, ctx.dt_s, MAX_ZONE_W):
                ok = False
            else:
                total_uj += d
        self._last = now
        if not ok:
            self._glitches += 1
            raise ImplausibleReading(f"implausible RAPL {self.component} reading over {ctx.dt_s:.2f} s")
        node_j = total_uj / 1e6
        if ctx.node_busy_delta_s is None or ctx.node_total_delta_s is None:
            return ComponentSample(job_j=None, node_j=node_j)
        split = kepler_split(node_j, ctx.job_cpu_delta_s, ctx.node_busy_delta_s,
                             ctx.node_total_delta_s)
        return ComponentSample(job_j=split.job_j, node_j=node_j, idle_j=split.idle_j)

    def inputs(self) -> dict:
        return {"node_method": "measured: rapl", "zones": [z.path.name for z in self.zones],
                "zone_names": [z.name for z in self.zones]}

    def note(self) -> str:
        what = "package" if self.component == "cpu" else "dram"
        return (f"Node energy from RAPL {what} counters; the job's part is the active (non-idle) "
                "energy x the job's share of the node's busy CPU time in each interval"
                + (" (DRAM split by the same CPU-time share)." if self.component == "memory"
                   else "."))
