"""Zeus's ``ZeusMonitor`` with one measurement window spanning the run.

As its docs show: ``monitor.begin_window(name)`` ... ``monitor.end_window(name)`` returns a
``Measurement`` with energy per GPU (NVML total-energy counter on Volta and newer, power
integration on older GPUs) and per CPU package and DRAM (RAPL). Zeus reads counters only:
with neither NVML nor RAPL it has nothing to report, and that is ``unavailable`` with the
reasons its device layer gives, never 0. It bills whole devices (every process on the GPU
and the socket), applies no PUE and computes no CO2e offline.

``sync_execution=False``: the work runs in a child process, there is nothing of ours to
synchronise (and it would import torch/JAX if they happened to be installed).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bids_energy.trackers.base import (
    FAILED,
    OK,
    Bills,
    RunFacts,
    TrackerResult,
    TrackerSettings,
    Unavailable,
    captured_logs,
    error_text,
    package_version,
)

WINDOW = "bids-energy-participant-run"


def bills() -> Bills:
    return Bills(
        scope="whole devices (every process on each GPU and CPU package)",
        cpu="RAPL package counter; nothing without RAPL",
        memory="RAPL DRAM counter where the CPU exposes one; else not counted",
        gpu="NVML total-energy counter (Volta+), power integration on older GPUs",
        pue_included=False,
        grid="none: Zeus reports energy only (its carbon module needs an online API)",
    )


class ZeusTracker:
    name = "zeus"

    def __init__(self, settings: TrackerSettings) -> None:
        self.s = settings
        self._monitor: Any = None
        self._t0: float | None = None

    def result(self, status: str, **kw: Any) -> TrackerResult:
        return TrackerResult(name=self.name, status=status, mode="ZeusMonitor window",
                             bills=bills(), version=package_version("zeus"), pue=None,
                             log_dir=str(self.s.log_dir), **kw)  # fmt: skip

    def prepare(self) -> None:
        """Find its devices before the run's window opens; unavailable if none."""
        with captured_logs("zeus", level=logging.INFO) as logged:
            from zeus.device import get_cpus, get_gpus  # ImportError -> unavailable
            from zeus.monitor import ZeusMonitor

            reasons: list[str] = []
            for probe in (get_gpus, get_cpus):
                try:
                    probe()
                except Exception as exc:  # noqa: BLE001 - its reason, recorded as is
                    reasons.append(error_text(exc))
            monitor = ZeusMonitor(approx_instant_energy=True)
            if not monitor.gpu_indices and not monitor.cpu_indices:
                said = [m for m in logged if not m.startswith(("Monitoring ", "Writing "))]
                detail = "; ".join(dict.fromkeys([*said, *reasons]))
                raise Unavailable(f"no NVML GPU and no RAPL CPU: {detail}")
        self._monitor = monitor

    def begin(self) -> None:
        with captured_logs("zeus", level=logging.WARNING):
            self._monitor.begin_window(WINDOW, sync_execution=False)
        self._t0 = time.monotonic()

    def end(self, facts: RunFacts) -> TrackerResult:
        if self._monitor is None:
            return self.result(FAILED, reason="end() without a started window")
        monitor, self._monitor = self._monitor, None
        with captured_logs("zeus", level=logging.WARNING):
            m = monitor.end_window(WINDOW, sync_execution=False)
        comps: dict[str, float | None] = {}
        for i, j in (m.gpu_energy or {}).items():
            comps[f"gpu{i}"] = float(j) / 3600.0
        for i, j in (m.cpu_energy or {}).items():
            comps[f"cpu{i}"] = float(j) / 3600.0
        for i, j in (m.dram_energy or {}).items():
            comps[f"dram{i}"] = float(j) / 3600.0
        total = sum(v for v in comps.values() if v is not None)
        return self.result(
            OK,
            energy_wh=total,
            components_wh=comps,
            duration_s=float(m.time),
            method="tracked: zeus counters",
            notes=["no CO2e: Zeus measures energy only"],
        )

