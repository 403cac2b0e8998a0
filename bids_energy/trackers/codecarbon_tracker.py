"""CodeCarbon's OfflineEmissionsTracker around the run, in its two documented modes.

``machine`` (its default, and what fMRIPrep's ``--track-carbon`` runs) bills the whole
machine, so on a shared node it includes the neighbours' work; ``process`` bills this
process and its children (our pipeline run), with CPU power from its TDP x load model when
RAPL is unreadable. Offline: the country (and CAN/USA region) is passed, nothing is looked up.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from typing import Any

from bids_energy.carbon import codecarbon_region_name, normalize_country
from bids_energy.trackers.base import (
    FAILED,
    OK,
    Bills,
    RunFacts,
    TrackerResult,
    TrackerSettings,
    captured_logs,
    package_version,
)

MODES = ("machine", "process")
_ALPHA2_TO_ISO3 = {"CA": "CAN", "US": "USA"}
_CPU_MODES = {
    "intel_rapl": "RAPL counter (package)",
    "cpu_load": "TDP x CPU load model",
    "constant": "constant power (TDP/2; CPU not identified)",
    "intel_power_gadget": "Intel Power Gadget",
}


def codecarbon_location(country_iso3: str | None, region: str | None) -> tuple[str, str | None]:
    """(country ISO3, CodeCarbon region name) for our codes: CA-QC -> ("CAN", "quebec").

    CodeCarbon offline needs a country; with none given we use the country of the region,
    else Canada (fMRIPrep's default ``--country-code CAN``).
    """
    cc_region = None
    country = normalize_country(country_iso3) if country_iso3 else None
    if region:
        prefix = region.strip().upper().split("-", 1)[0]
        country = country or _ALPHA2_TO_ISO3.get(prefix)
        if country in ("CAN", "USA"):
            cc_region = codecarbon_region_name(region)
    return country or "CAN", cc_region


def bills(mode: str, cpu_mode: str | None = None, grid: str = "") -> Bills:
    """What CodeCarbon's number covers in ``mode`` (tested against its behaviour)."""
    cpu = _CPU_MODES.get(cpu_mode or "", cpu_mode or "RAPL if readable, else TDP x load model")
    if mode == "process":
        return Bills(
            scope="this process and its children (the pipeline run)",
            cpu=f"{cpu}, scaled by the process tree's CPU time",
            memory="power model of the process tree's resident memory",
            gpu="NVML energy counter of the visible GPUs (whole device)",
            pue_included=True,
            grid=grid or "its country/region table (Our World in Data)",
        )
    return Bills(
        scope="whole machine (every process on the node)",
        cpu=f"{cpu}, whole machine load",
        memory="power model of the machine's installed RAM (constant, not usage)",
        gpu="NVML energy counter of the visible GPUs (whole device)",
        pue_included=True,
        grid=grid or "its country/region table (Our World in Data)",
    )


class CodeCarbonTracker:
    """One CodeCarbon OfflineEmissionsTracker in ``mode``; a row of its own."""

    def __init__(self, settings: TrackerSettings, mode: str = "machine") -> None:
        if mode not in MODES:
            raise ValueError(f"codecarbon mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.name = f"codecarbon-{mode}"
        self.s = settings
        self.country, self.cc_region = codecarbon_location(settings.country_iso3, settings.region)
        self._tracker: Any = None
        self._t0: float | None = None
        # its INFO line per measurement would flood our stderr for the whole run
        self._quiet = contextlib.ExitStack()

    def result(self, status: str, **kw: Any) -> TrackerResult:
        where = self.country + (f"/{self.cc_region}" if self.cc_region else "")
        b = bills(self.mode, kw.pop("cpu_mode", None), f"CodeCarbon's figure for {where}")
        kw.setdefault("pue", self.s.pue)
        return TrackerResult(name=self.name, status=status, bills=b, mode=self.mode,
                             version=package_version("codecarbon"),
                             log_dir=str(self.s.log_dir), **kw)  # fmt: skip

    def prepare(self) -> None:
        """Construct the tracker (seconds: hardware probing) before the run's window opens."""
        with warnings.catch_warnings():  # its import-time deprecation warnings
            warnings.simplefilter("ignore")
            from codecarbon import OfflineEmissionsTracker  # ImportError -> unavailable

        self.s.log_dir.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "country_iso_code": self.country,
            "measure_power_secs": self.s.interval_s,
            "save_to_file": False,
            "output_dir": str(self.s.log_dir),
            "log_level": "error",
            "tracking_mode": self.mode,
            "pue": self.s.pue,
            "allow_multiple_runs": True,
            "project_name": "bids-energy-comparison",
        }
        if self.cc_region:
            kwargs["region"] = self.cc_region
        self._quiet.enter_context(
            captured_logs("codecarbon", level=logging.ERROR, quiet_warnings=False))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._tracker = OfflineEmissionsTracker(**kwargs)
        except BaseException:
            self._tracker = None
            self._quiet.close()
            raise

    def begin(self) -> None:
        try:
            self._t0 = time.monotonic()
            self._tracker.start()
        except BaseException:
            self._tracker = None
            self._quiet.close()
            raise

    def end(self, facts: RunFacts) -> TrackerResult:
        if self._tracker is None:
            return self.result(FAILED, reason="end() without a started tracker")
        tracker, self._tracker = self._tracker, None
        with self._quiet:
            emissions_kg = tracker.stop()
        data = tracker.final_emissions_data
        cpu_mode = next((getattr(h, "_mode", None) for h in getattr(tracker, "_hardware", [])
                         if type(h).__name__ == "CPU"), None)  # fmt: skip
        energy_kwh = float(data.energy_consumed)
        co2 = float(emissions_kg if emissions_kg is not None else data.emissions) * 1000.0
        return self.result(
            OK,
            cpu_mode=cpu_mode,
            energy_wh=energy_kwh * 1000.0,
            components_wh={
                "cpu": float(data.cpu_energy) * 1000.0,
                "memory": float(data.ram_energy) * 1000.0,
                "gpu": float(data.gpu_energy) * 1000.0,
            },
            co2e_g=co2,
            ci_g_per_kwh=co2 / energy_kwh if energy_kwh > 0 else None,
            pue=float(getattr(data, "pue", None) or self.s.pue),
            duration_s=float(data.duration),
            method=f"tracked: codecarbon {self.mode} mode",
        )

