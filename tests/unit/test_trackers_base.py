"""The part every library wrapper shares (trackers/base.py): the row in its name, stopping
once, and closing the captured logs when the library's start raises.

A stand-in library object plays the library; the real ones run in
tests/integration/test_trackers_real.py.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bids_energy.trackers.base import (
    FAILED,
    OK,
    Bills,
    RunFacts,
    StartStopTracker,
    TrackerResult,
    TrackerSettings,
)

BILLS = Bills(scope="whole machine", cpu="c", memory="m", gpu="g", pue_included=False, grid="x")
FACTS = RunFacts(wall_s=1.0, cpu_s=1.0, peak_mem_gb=None, cores=1)
LOGGER = "bids_energy_test_library"


class Library:
    def __init__(self, fail_start: BaseException | None = None) -> None:
        self.fail_start, self.stops = fail_start, 0

    def start(self) -> None:
        logging.getLogger(LOGGER).error("started")
        if self.fail_start is not None:
            raise self.fail_start

    def stop(self) -> float:
        self.stops += 1
        return 2.5


class Wrapper(StartStopTracker):
    name = "stand-in"
    dist = "pytest"  # an installed distribution, so the row records a version
    loggers = (LOGGER,)

    def __init__(self, settings: TrackerSettings, library: Library) -> None:
        super().__init__(settings)
        self.library = library

    def result(self, status: str, **kw: Any) -> TrackerResult:
        return self._row(status, BILLS, **kw)

    def prepare(self) -> None:
        self._construct(lambda: self.library)

    def _finish(self, tracker: Any) -> TrackerResult:
        with self._quiet:
            energy = tracker.stop()
        return self.result(OK, energy_wh=energy, notes=list(self._logged))


def test_start_stop_once_with_its_logs_kept_and_the_row_in_its_name(tmp_path):
    lib = Library()
    t = Wrapper(TrackerSettings(log_dir=tmp_path / "logs"), lib)
    t.prepare()
    assert (tmp_path / "logs").is_dir()
    t.begin()
    r = t.end(FACTS)
    assert (r.name, r.status, r.energy_wh, r.notes) == ("stand-in", OK, 2.5, ["started"])
    assert r.version and r.log_dir == str(tmp_path / "logs")
    again = t.end(FACTS)  # handed over once: no second stop
    assert again.status == FAILED and again.reason == "end() without a started tracker"
    assert lib.stops == 1


@pytest.mark.parametrize("exc", [RuntimeError("no counter"), SystemExit(70)])
def test_a_failed_start_closes_the_capture_and_reraises(tmp_path, exc):
    lg = logging.getLogger(LOGGER)
    before = (lg.level, lg.propagate, list(lg.handlers))
    t = Wrapper(TrackerSettings(log_dir=tmp_path), Library(fail_start=exc))
    t.prepare()
    assert lg.propagate is False  # captured while the library runs
    with pytest.raises(type(exc)):
        t.begin()
    assert (lg.level, lg.propagate, list(lg.handlers)) == before
    assert t.end(FACTS).status == FAILED


def test_a_failed_construction_closes_the_capture_and_reraises(tmp_path):
    lg = logging.getLogger(LOGGER)
    before = (lg.level, lg.propagate, list(lg.handlers))
    t = Wrapper(TrackerSettings(log_dir=tmp_path), Library())

    def broken() -> Any:
        raise OSError("read-only package directory")

    with pytest.raises(OSError):
        t._construct(broken)
    assert (lg.level, lg.propagate, list(lg.handlers)) == before
    assert t.end(FACTS).status == FAILED
