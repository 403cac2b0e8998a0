"""The one interface every comparison tracker speaks, and the record it returns.

Each tracker module wraps one library as its authors document it: ``begin()`` before the
participant's run, ``end()`` after it, returning a :class:`TrackerResult` in our units. The
result keeps the tracker's own figures (energy by component *as it reports them*, the CO2e,
the intensity and PUE it used) and a short statement of what it bills, so a reader can tell
why two numbers differ. A tracker that cannot measure here is ``unavailable`` with its own
reason, one that raises is ``failed`` with its message: never a 0 that looks measured.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

OK, UNAVAILABLE, FAILED = "ok", "unavailable", "failed"


@dataclass(frozen=True)
class TrackerSettings:
    """What every tracker is told about the run, resolved once by the participant level.

    ``country_iso3``/``region`` are ours (``CAN``, ``CA-QC``); each module maps them to the
    options its library offers so that none of them looks itself up over the network.
    ``log_dir`` is the run's scratch area: trackers' files go there, never into the input.
    """

    log_dir: Path
    pue: float = 1.0
    interval_s: float = 1.0
    country_iso3: str | None = None
    region: str | None = None
    ci_g_per_kwh: float | None = None
    ci_source: str | None = None


@dataclass(frozen=True)
class RunFacts:
    """What the run did, for trackers that estimate after the fact (Green Algorithms)."""

    wall_s: float
    cpu_s: float
    peak_mem_gb: float | None
    cores: int
    gpus: int = 0


@dataclass
class Bills:
    """What a tracker's number covers. ``statement()`` is the one-line summary shown in reports."""

    scope: str  # "whole machine" | "this process tree" | "this process only" | ...
    cpu: str  # how CPU power is obtained: "RAPL counter", "TDP x utilisation", ...
    memory: str  # "constant", "measured", "W/GB x used GB", "not counted"
    gpu: str
    pue_included: bool
    grid: str  # which carbon intensity it applied

    def statement(self) -> str:
        pue = "PUE included in its energy" if self.pue_included else "no PUE in its energy"
        return (f"{self.scope}; CPU: {self.cpu}; memory: {self.memory}; GPU: {self.gpu}; "
                f"{pue}; grid: {self.grid}")  # fmt: skip


@dataclass
class TrackerResult:
    """One row of the comparison, in our units (Wh, g, g/kWh)."""

    name: str
    status: str
    bills: Bills
    mode: str | None = None
    version: str | None = None
    reason: str | None = None  # why unavailable / failed, in the tracker's own words
    energy_wh: float | None = None  # total as the tracker reports it (PUE included if it does)
    components_wh: dict[str, float | None] = field(default_factory=dict)
    co2e_g: float | None = None
    ci_g_per_kwh: float | None = None
    pue: float | None = None
    duration_s: float | None = None
    method: str = "tracked"
    log_dir: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def it_energy_wh(self) -> float | None:
        """Energy before PUE, comparable with our ``job_energy_wh``."""
        if self.energy_wh is None:
            return None
        if self.bills.pue_included and self.pue:
            return self.energy_wh / self.pue
        return self.energy_wh

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bills"] = self.bills.statement()
        d["bills_detail"] = asdict(self.bills)
        d["it_energy_wh"] = self.it_energy_wh
        return d


class Tracker(Protocol):
    """``prepare()`` (slow set-up: imports, hardware probes) for every tracker first, then
    ``begin()`` (fast) for each, so no tracker's window holds another's start-up; ``end()``
    after the run. Any may raise: the runner records that as ``unavailable``/``failed``; a
    tracker never decides the participant's fate."""

    name: str

    def prepare(self) -> None: ...

    def begin(self) -> None: ...

    def end(self, facts: RunFacts) -> TrackerResult: ...

    def result(self, status: str, **fields: Any) -> TrackerResult:
        """A row in this tracker's name with its statement of what it bills (for the
        runner's ``unavailable``/``failed`` rows)."""
        ...


class Unavailable(RuntimeError):
    """Raised by ``begin()`` when the tracker cannot measure on this machine; the message is
    the tracker's own reason."""


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def package_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured_logs(*names: str, level: int = logging.INFO,
                  quiet_warnings: bool = True) -> Iterator[list[str]]:  # fmt: skip
    """Collect what these libraries log (their own reasons), keep it off our stderr, and put
    their loggers back as they were afterwards. ``quiet_warnings`` also hides their Python
    warnings (import-time deprecations); leave it off for spans that cover the whole run."""
    handler = _ListHandler()
    saved = []
    for n in names:
        lg = logging.getLogger(n)
        saved.append((lg, lg.level, lg.propagate))
        lg.addHandler(handler)
        lg.setLevel(level)
        lg.propagate = False
    try:
        if quiet_warnings:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield handler.messages
        else:
            yield handler.messages
    finally:
        for lg, lvl, prop in saved:
            lg.removeHandler(handler)
            lg.setLevel(lvl)
            lg.propagate = prop
