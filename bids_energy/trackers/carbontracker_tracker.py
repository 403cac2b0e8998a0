"""carbontracker's ``CarbonTracker``, epoch-based, with one epoch spanning the whole run.

Its documented loop is ``CarbonTracker(epochs=N)``, ``epoch_start()``/``epoch_end()`` per
epoch; a pipeline run is one epoch. What it bills (carbontracker 2.4.7): CPU from RAPL
(package + DRAM, whole machine) when readable, else a *constant* half of the TDP its table
gives for the CPU model (the mean TDP of the table when the model is not found) whatever
the load; GPU from NVML power of the devices it sees; its total is multiplied by its own
PUE (1.58, 2023 Uptime survey), which cannot be changed.

Offline: it has no country option. It asks ipinfo.io for the location (geocoder, 5 s
timeout, bounded by that library) and without an answer uses its world average intensity;
its log files (``*_carbontracker*.log``) go to the run's scratch area and are parsed with
its own ``carbontracker.parser``. ``ignore_errors=True`` keeps its error path from calling
``sys.exit(70)`` inside our process.
"""

from __future__ import annotations

import contextlib
import io
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
    package_version,
)

SUBDIR = "carbontracker"


def bills(cpu: str | None = None, grid: str = "") -> Bills:
    return Bills(
        scope="whole machine",
        cpu=cpu or "RAPL package+DRAM if readable, else constant TDP/2 from its CPU table",
        memory="RAPL DRAM if readable, else not counted",
        gpu="NVML power x time of the GPUs it sees (whole device)",
        pue_included=True,
        grid=grid or "ipinfo.io location, else its world average",
    )


def _cpu_statement(devices: list[str], avg_power_w: float | None) -> str:
    name = ", ".join(devices) or "CPU"
    if avg_power_w is None:
        return f"{name}: no power reading"
    return f"{name}: {avg_power_w:.4g} W average (constant TDP/2 unless RAPL was readable)"


class CarbonTrackerTracker:
    name = "carbontracker"

    def __init__(self, settings: TrackerSettings) -> None:
        self.s = settings
        self.log_dir = settings.log_dir / SUBDIR
        self._tracker: Any = None
        self._console = io.StringIO()
        self._t0: float | None = None

    def result(self, status: str, **kw: Any) -> TrackerResult:
        b = bills(kw.pop("cpu", None), kw.pop("grid", ""))
        pue = kw.pop("pue", None)
        if pue is None:
            pue = _its_pue()
        return TrackerResult(name=self.name, status=status, mode="one epoch = the run",
                             bills=b, version=package_version("carbontracker"), pue=pue,
                             log_dir=str(self.log_dir), **kw)  # fmt: skip

    def prepare(self) -> None:
        """Construct it (CPU table, location look-up) before the run's window opens."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(self._console), captured_logs("geocoder", "urllib3"):
            from carbontracker.tracker import CarbonTracker  # ImportError -> unavailable

            self._tracker = CarbonTracker(
                epochs=1, update_interval=self.s.interval_s, log_dir=str(self.log_dir),
                verbose=0, ignore_errors=True,
            )  # fmt: skip
            if getattr(self._tracker, "deleted", False):
                raise Unavailable(self._reason())

    def begin(self) -> None:
        with contextlib.redirect_stdout(self._console):
            self._t0 = time.monotonic()
            self._tracker.epoch_start()

    def end(self, facts: RunFacts) -> TrackerResult:
        if self._tracker is None:
            return self.result(FAILED, reason="end() without a started tracker")
        tracker, self._tracker = self._tracker, None
        with contextlib.redirect_stdout(self._console):
            tracker.epoch_end()
        from carbontracker import parser

        logs = [lg for lg in parser.parse_all_logs(str(self.log_dir)) if lg.get("actual")]
        if not logs:
            return self.result(FAILED, reason=self._reason() or "no consumption in its logs")
        log = logs[-1]
        actual = log["actual"]
        kwh = float(actual["energy (kWh)"])
        co2 = float(actual["co2eq (g)"])
        comps: dict[str, float | None] = {}
        cpu_devices: list[str] = []
        cpu_power = None
        epoch_s = None
        for comp, m in (log.get("components") or {}).items():
            d = m.get("epoch_durations (s)")
            epoch_s = float(d.sum()) if d is not None else epoch_s
            e = m.get("avg_energy_usages (J)")
            comps[comp] = float(e.sum()) / 3600.0 if e is not None else None
            if comp == "cpu":
                cpu_devices = list(m.get("devices") or [])
                p = m.get("avg_power_usages (W)")
                cpu_power = float(p.mean()) if p is not None else None
        return self.result(
            OK,
            cpu=_cpu_statement(cpu_devices, cpu_power),
            grid=self._grid_line(),
            energy_wh=kwh * 1000.0,
            components_wh=comps,  # before its PUE, as its log reports them
            co2e_g=co2,
            ci_g_per_kwh=co2 / kwh if kwh > 0 else None,
            duration_s=epoch_s or float(actual.get("duration (s)") or 0.0) or None,
            method="tracked: carbontracker (components before its PUE)",
        )

    def _grid_line(self) -> str:
        for f in sorted(self.log_dir.glob("*_carbontracker.log")):
            for line in f.read_text(errors="replace").splitlines():
                if "Average carbon intensity" in line or "fetched every" in line:
                    return line.split(" - ", 1)[-1].strip()
        return ""

    def _reason(self) -> str:
        """Its own words: the last critical/warning line of its error log, else its console."""
        lines: list[str] = []
        for f in sorted(self.log_dir.glob("*_carbontracker_err.log")):
            lines += [ln for ln in f.read_text(errors="replace").splitlines()
                      if " - CRITICAL - " in ln or "Error" in ln]  # fmt: skip
        if not lines:
            lines = [ln for ln in self._console.getvalue().splitlines() if ln.strip()]
        return lines[-1].split(" - ", 3)[-1].strip() if lines else ""


def _its_pue() -> float | None:
    try:
        from carbontracker import constants
    except ImportError:
        return None
    return float(constants.PUE_2023)
