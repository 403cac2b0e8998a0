"""eco2AI's ``Tracker`` (start/stop) around the run, as its README documents it.

What it bills, from its source (eco2ai 0.3.12): CPU = TDP from its own table (100.1 W when
the model is not found) x the utilisation ``top`` reports x sockets x time; memory = 3/8 W
per GB of *its own process's* resident memory (not the children it starts); GPU = NVML power
x time; the total is multiplied by the PUE it is given. Its default ``cpu_processes="current"``
reads ``top -p <its own pid>``, which never sees a pipeline started as a child, so we run it
with ``"all"`` (the whole machine): the only setting in which it sees the run at all.

Offline: ``alpha_2_code`` (and the region) are always passed, so it never asks ipinfo.io.
Its CSV goes to the run's scratch area; the one file we cannot move is the ``config.txt`` it
rewrites inside its own installed package on every ``Tracker()`` (a read-only image makes that
raise, and the row says so as ``failed``). With pandas >= 3 its ``stop()`` raises while
rewriting that CSV (it assigns the string "N/A" into a column pandas read as float); its
in-memory total (``Tracker.consumption()``) is complete by then and is used, with a note.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import time
import warnings
from functools import lru_cache
from importlib import resources
from typing import Any

from bids_energy.trackers.base import (
    FAILED,
    OK,
    Bills,
    RunFacts,
    TrackerResult,
    TrackerSettings,
    captured_logs,
    error_text,
    package_version,
)

CSV_NAME = "eco2ai_emission.csv"
_LOGGERS = ("apscheduler", "eco2ai")


def bills(grid: str = "", cpu: str = "") -> Bills:
    return Bills(
        scope="whole machine CPU (cpu_processes='all'); memory of its own process only",
        cpu=cpu or "TDP from its table (100.1 W if not found) x utilisation from top x sockets",
        memory="3/8 W per GB of the tracking process's own resident memory (children not seen)",
        gpu="NVML power x time (whole device)",
        pue_included=True,
        grid=grid or "its country/region table (kg/MWh)",
    )


@lru_cache(maxsize=1)
def _iso3_to_alpha2() -> dict[str, str]:
    """From eco2AI's own table, so the code we pass is one it knows."""
    try:
        with warnings.catch_warnings():  # importing eco2ai warns about pynvml
            warnings.simplefilter("ignore")
            path = resources.files("eco2ai").joinpath("data/carbon_index.csv")
        with path.open(newline="", encoding="utf-8") as fh:
            return {r["alpha_3_code"]: r["alpha_2_code"] for r in csv.DictReader(fh)}
    except (ImportError, OSError, KeyError):
        return {}


def eco2ai_location(country_iso3: str | None, region: str | None) -> tuple[str, str | None]:
    """(alpha-2 code, region) for eco2AI: CA-QC -> ("CA", "QC"), its table matches "QC" among
    a region's alternative names. With no country at all we pass "World", which its table
    resolves to the world average rather than an IP look-up."""
    if region and "-" in region:
        a2, sub = region.strip().upper().split("-", 1)
        return a2, sub
    if country_iso3:
        code = country_iso3.strip().upper()
        return (_iso3_to_alpha2().get(code, code[:2]) if len(code) == 3 else code), None
    return "World", None


class Eco2AITracker:
    name = "eco2ai"

    def __init__(self, settings: TrackerSettings) -> None:
        self.s = settings
        self.alpha2, self.region = eco2ai_location(settings.country_iso3, settings.region)
        self._tracker: Any = None
        self._t0: float | None = None
        self._quiet = contextlib.ExitStack()
        self._logged: list[str] = []

    def result(self, status: str, **kw: Any) -> TrackerResult:
        where = self.alpha2 + (f"/{self.region}" if self.region else "")
        return TrackerResult(name=self.name, status=status, mode="cpu_processes=all",
                             bills=bills(f"eco2AI's table for {where}", kw.pop("cpu", "")),
                             version=package_version("eco2ai"), pue=self.s.pue,
                             log_dir=str(self.s.log_dir), **kw)  # fmt: skip

    def prepare(self) -> None:
        """Construct its Tracker (table look-ups) before the run's window opens."""
        with warnings.catch_warnings():  # its import-time deprecation warnings
            warnings.simplefilter("ignore")
            import eco2ai  # ImportError -> unavailable

        self.s.log_dir.mkdir(parents=True, exist_ok=True)
        # its scheduler logs a traceback per failed CSV write: keep them for the record
        self._logged = self._quiet.enter_context(
            captured_logs(*_LOGGERS, level=logging.ERROR, quiet_warnings=False))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._tracker = eco2ai.Tracker(
                    project_name="bids-energy-comparison",
                    experiment_description="participant run",
                    file_name=str(self.s.log_dir / CSV_NAME),
                    measure_period=self.s.interval_s,
                    alpha_2_code=self.alpha2,
                    region=self.region,
                    cpu_processes="all",
                    pue=self.s.pue,
                    ignore_warnings=True,
                )
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
        notes: list[str] = []
        with self._quiet:
            try:
                tracker.stop()
            except Exception as exc:  # noqa: BLE001 - see the module docstring
                stop_error: Exception | None = exc
            else:
                stop_error = None
        if stop_error is None:
            kwh, co2_kg = self._from_csv(tracker.id())
        else:
            kwh = float(tracker.consumption())
            co2_kg = kwh * float(tracker.emission_level()) / 1000.0
            notes.append(f"its stop() raised {error_text(stop_error)} while writing its CSV; "
                         "figure from its in-memory total Tracker.consumption()")  # fmt: skip
        if self._logged:
            notes.append(f"its scheduler logged {len(self._logged)} error(s), the last: "
                         f"{self._logged[-1][:200]}")  # fmt: skip
        level = float(tracker.emission_level())
        return self.result(
            OK,
            cpu=_cpu_line(tracker),
            energy_wh=kwh * 1000.0,
            components_wh={"total": kwh * 1000.0},
            co2e_g=co2_kg * 1000.0,
            ci_g_per_kwh=level,  # kg/MWh == g/kWh
            duration_s=time.monotonic() - (self._t0 or time.monotonic()),
            method="tracked: eco2ai (reports a total only)",
            notes=notes,
        )

    def _from_csv(self, run_id: str) -> tuple[float, float]:
        with (self.s.log_dir / CSV_NAME).open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("id") == run_id]
        row = rows[-1]
        return float(row["power_consumption(kWh)"]), float(row["CO2_emissions(kg)"])


def _cpu_line(tracker: Any) -> str:
    """The TDP it picked, as its CSV's CPU_name column states it (model/sockets, TDP)."""
    cpu = getattr(tracker, "_cpu", None)
    try:
        return (f"TDP {cpu.tdp():g} W from its table for '{cpu.name()}' x {cpu.cpu_num()} "
                "socket(s) x utilisation from top (100.1 W when the model is not found)")
    except Exception:  # noqa: BLE001 - only the description is lost
        return ""
