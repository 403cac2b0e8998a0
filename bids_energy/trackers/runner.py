"""Start every requested tracker around the participant run and collect their rows.

The participant level calls :func:`start_comparison` before the pipeline and
``session.stop(facts)`` after it. Whatever a tracker does (missing package, no hardware,
an exception or ``sys.exit`` in its start or stop, a stop that never returns) becomes its own
row's ``unavailable``/``failed`` status: the participant's footprint is written regardless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from bids_energy.trackers.base import (
    FAILED,
    UNAVAILABLE,
    RunFacts,
    Tracker,
    TrackerResult,
    TrackerSettings,
    Unavailable,
    error_text,
)
from bids_energy.trackers.registry import build

log = logging.getLogger("bids_energy")
T = TypeVar("T")
BEGIN_TIMEOUT_S = 120.0
END_TIMEOUT_S = 120.0
INSTALL_HINT = "pip install 'bids-energy[trackers]'"


class _TimedOut(RuntimeError):
    pass


def bounded(fn: Callable[[], T], timeout_s: float, what: str) -> T:
    """Run ``fn`` in a daemon thread; raise its exception, or _TimedOut after ``timeout_s``
    (the thread is abandoned: a hung tracker must not hold the footprint hostage)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - SystemExit included, re-raised below
            box["error"] = exc

    th = threading.Thread(target=target, name=f"tracker-{what}", daemon=True)
    th.start()
    th.join(timeout_s)
    if th.is_alive():
        raise _TimedOut(f"{what} did not return within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _status_for(exc: BaseException, tracker: Tracker, phase: str) -> TrackerResult:
    if isinstance(exc, ImportError):
        return tracker.result(UNAVAILABLE, reason=f"not installed ({error_text(exc)}); {INSTALL_HINT}")
    if isinstance(exc, Unavailable):
        return tracker.result(UNAVAILABLE, reason=str(exc))
    return tracker.result(FAILED, reason=f"{phase}: {error_text(exc)}")


class TrackerSession:
    """The trackers started for one participant run, in the order they were started."""

    def __init__(self, trackers: list[Tracker], begin_timeout_s: float = BEGIN_TIMEOUT_S,
                 end_timeout_s: float = END_TIMEOUT_S) -> None:  # fmt: skip
        self.end_timeout_s = end_timeout_s
        self._running: list[Tracker] = []
        self._done: dict[str, TrackerResult] = {}
        self._order = [t.name for t in trackers]
        prepared = [t for t in trackers if self._try(t, "prepare", begin_timeout_s)]
        self._running = [t for t in prepared if self._try(t, "begin", begin_timeout_s)]

    def _try(self, t: Tracker, phase: str, timeout_s: float) -> bool:
        fn = getattr(t, phase, None)
        if fn is None:
            return True
        try:
            bounded(fn, timeout_s, f"{t.name} {phase}")
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - recorded, never raised
            self._done[t.name] = _status_for(exc, t, "start")
            log.warning("tracker %s: %s", t.name, self._done[t.name].reason)
            return False
        return True

    def stop(self, facts: RunFacts) -> dict[str, dict]:
        """Stop in reverse order of start (the last started wraps the run most tightly)."""
        for t in reversed(self._running):
            try:
                self._done[t.name] = bounded(lambda t=t: t.end(facts), self.end_timeout_s,
                                             f"{t.name} stop")  # fmt: skip
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - recorded, never raised
                self._done[t.name] = _status_for(exc, t, "stop")
                log.warning("tracker %s: %s", t.name, self._done[t.name].reason)
        self._running = []
        return {n: self._done[n].to_dict() for n in self._order if n in self._done}


def start_comparison(names: Iterable[str], settings: TrackerSettings) -> TrackerSession | None:
    """Build and start the requested trackers; None when none was asked for."""
    trackers = build(names, settings)
    return TrackerSession(trackers) if trackers else None


def settings_for_run(log_dir: Path, carbon: dict, interval_s: float,
                     country_code: str | None, region: str | None) -> TrackerSettings:  # fmt: skip
    """Our resolved carbon settings in the form the trackers take (pure)."""
    iso3 = country_code.strip().upper() if country_code and len(country_code.strip()) == 3 else None
    return TrackerSettings(
        log_dir=Path(log_dir), pue=float(carbon.get("pue") or 1.0), interval_s=float(interval_s),
        country_iso3=iso3, region=region, ci_g_per_kwh=carbon.get("ci_g_per_kwh"),
        ci_source=carbon.get("ci_source"),
    )  # fmt: skip


def facts_for_run(sampler_result: Any, wall_s: float, nthreads: int | None,
                  device: str | None = None) -> RunFacts:  # fmt: skip
    """What Green Algorithms needs from our own measurement of the run (the sampler's typed
    result, ``meters.results.SamplerResult``; None when the run never started)."""
    hw = getattr(sampler_result, "hardware", None)  # meters.results.HardwareInfo
    cores = nthreads or (hw.cpu_cores_logical if hw is not None else None) or 1
    gpus = (len(hw.gpus) if hw is not None and (device or "").startswith(("gpu", "cuda"))
            else 0)
    return RunFacts(wall_s=float(wall_s), cpu_s=float(getattr(sampler_result, "cpu_s", 0.0) or 0.0),
                    peak_mem_gb=getattr(sampler_result, "peak_mem_gb", None), cores=int(cores),
                    gpus=gpus)  # fmt: skip
