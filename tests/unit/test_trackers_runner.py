"""The trackers' interface, registry and runner: pure parts and failure handling.

The runner is exercised with small stand-in trackers (the real ones run in
tests/integration/test_trackers_real.py): whatever a tracker does in begin/end ends up in
its own row, never in an exception out of the runner.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bids_energy.meters.results import GpuInfo, HardwareInfo
from bids_energy.trackers import registry, runner
from bids_energy.trackers.base import (
    FAILED,
    OK,
    UNAVAILABLE,
    Bills,
    RunFacts,
    TrackerResult,
    TrackerSettings,
    Unavailable,
    captured_logs,
)
from bids_energy.trackers.codecarbon_tracker import codecarbon_location
from bids_energy.trackers.eco2ai_tracker import eco2ai_location
from bids_energy.trackers.green_algorithms_row import GreenAlgorithmsRow, ga_inputs

BILLS = Bills(scope="whole machine", cpu="c", memory="m", gpu="g", pue_included=True, grid="x")
FACTS = RunFacts(wall_s=10.0, cpu_s=5.0, peak_mem_gb=2.0, cores=2)


class StandIn:
    """A tracker whose begin/end do what the test says."""

    def __init__(self, name, begin=None, end=None, prepare=None):
        self.name, self._begin, self._end, self._prepare = name, begin, end, prepare
        self.calls = []

    def result(self, status, **kw):
        return TrackerResult(name=self.name, status=status, bills=BILLS, **kw)

    def prepare(self):
        self.calls.append("prepare")
        if self._prepare:
            self._prepare()

    def begin(self):
        self.calls.append("begin")
        if self._begin:
            self._begin()

    def end(self, facts):
        if self._end:
            return self._end()
        return self.result(OK, energy_wh=1.5, pue=1.5)


def _raise(exc):
    def f():
        raise exc

    return f


def test_statement_and_it_energy():
    r = TrackerResult(name="t", status=OK, bills=BILLS, energy_wh=3.0, pue=1.5)
    assert r.it_energy_wh == pytest.approx(2.0)
    d = r.to_dict()
    assert d["bills"].startswith("whole machine; CPU: c; memory: m; GPU: g; PUE included")
    assert d["it_energy_wh"] == pytest.approx(2.0) and d["bills_detail"]["pue_included"]
    no_pue = TrackerResult(name="t", status=OK, energy_wh=3.0, pue=1.5,
                           bills=Bills("s", "c", "m", "g", False, "none"))
    assert no_pue.it_energy_wh == 3.0 and "no PUE" in no_pue.bills.statement()
    assert TrackerResult(name="t", status=FAILED, bills=BILLS).it_energy_wh is None


def test_registry_rows():
    assert registry.row_names(["codecarbon"]) == [
        "codecarbon-machine", "codecarbon-process", "green-algorithms"]
    assert registry.row_names(["all"]) == [
        "codecarbon-machine", "codecarbon-process", "eco2ai", "carbontracker", "zeus",
        "green-algorithms"]
    assert registry.row_names([]) == []
    with pytest.raises(ValueError, match="experiment"):
        registry.row_names(["experiment-impact-tracker"])
    s = TrackerSettings(log_dir=Path("/nonexistent"))
    assert [t.name for t in registry.build(["zeus", "eco2ai"], s)] == [
        "eco2ai", "zeus", "green-algorithms"]


def test_locations_for_each_library():
    assert codecarbon_location(None, "CA-QC") == ("CAN", "quebec")
    assert codecarbon_location("US", "US-NY") == ("USA", "new york")
    assert codecarbon_location("FRA", None) == ("FRA", None)
    assert codecarbon_location(None, None) == ("CAN", None)
    assert eco2ai_location(None, "CA-QC") == ("CA", "QC")
    assert eco2ai_location(None, None) == ("World", None)
    assert eco2ai_location("DEU", None)[1] is None


def test_settings_and_facts_from_the_run():
    s = runner.settings_for_run(Path("/w"), {"pue": 1.2, "ci_g_per_kwh": 30.0, "ci_source": "x"},
                                0.5, "can", "CA-QC")
    assert s.country_iso3 == "CAN" and s.region == "CA-QC" and s.pue == 1.2
    assert runner.settings_for_run(Path("/w"), {}, 1, "CA", None).country_iso3 is None

    class Res:
        cpu_s, peak_mem_gb = 7.0, 1.5
        hardware = HardwareInfo("x", 8, 4, 16.0, (GpuInfo(0, "H100", "GPU-0", True),))

    f = runner.facts_for_run(Res(), 10.0, None, "gpu")
    assert (f.cores, f.gpus, f.cpu_s) == (8, 1, 7.0)
    assert runner.facts_for_run(Res(), 10.0, 2, "cpu").cores == 2
    assert runner.facts_for_run(None, 0.0, None).cores == 1


def test_green_algorithms_row_is_the_formula():
    s = TrackerSettings(log_dir=Path("/w"), pue=1.5, ci_g_per_kwh=100.0, ci_source="test")
    x = ga_inputs(FACTS, 1.5)
    assert x.usage == pytest.approx(0.25) and x.cores == 2
    r = GreenAlgorithmsRow(s).end(FACTS)
    # 10 s x (2 cores x 12 W x 0.25 + 2 GB x 0.3725 W/GB) x PUE 1.5
    expect_wh = 10 / 3600 * (2 * 12 * 0.25 + 2 * 0.3725) * 1.5
    assert r.status == OK and r.energy_wh == pytest.approx(expect_wh)
    assert r.co2e_g == pytest.approx(expect_wh / 1000 * 100.0)
    assert r.it_energy_wh == pytest.approx(expect_wh / 1.5)
    assert "12 W per core" in r.bills.statement()


def test_runner_records_every_kind_of_trouble():
    trackers = [
        StandIn("fine"),
        StandIn("missing", begin=_raise(ImportError("No module named 'foo'"))),
        StandIn("no-hw", begin=_raise(Unavailable("RAPL is not supported on this CPU."))),
        StandIn("start-crash", begin=_raise(RuntimeError("lock file"))),
        StandIn("prep-crash", prepare=_raise(OSError("read-only file system"))),
        StandIn("stop-crash", end=_raise(ValueError("bad CSV"))),
        StandIn("stop-exit", end=_raise(SystemExit(70))),
    ]
    session = runner.TrackerSession(trackers)
    # every tracker is prepared before any window opens
    assert [t.calls for t in trackers][0] == ["prepare", "begin"]
    rows = session.stop(FACTS)
    assert list(rows) == [t.name for t in trackers]
    assert rows["fine"]["status"] == OK and rows["fine"]["it_energy_wh"] == pytest.approx(1.0)
    assert rows["missing"]["status"] == UNAVAILABLE
    assert "bids-energy[trackers]" in rows["missing"]["reason"]
    assert rows["no-hw"] == {**rows["no-hw"], "status": UNAVAILABLE,
                             "reason": "RAPL is not supported on this CPU."}
    assert rows["start-crash"]["status"] == FAILED and "lock file" in rows["start-crash"]["reason"]
    assert rows["stop-crash"]["reason"] == "stop: ValueError: bad CSV"
    assert "read-only" in rows["prep-crash"]["reason"] and trackers[-3].calls == ["prepare"]
    assert rows["stop-exit"]["status"] == FAILED and "SystemExit" in rows["stop-exit"]["reason"]
    for r in rows.values():
        if r["status"] != OK:
            assert r["energy_wh"] is None and r["co2e_g"] is None  # never a 0 that looks measured


def test_a_hung_stop_is_abandoned():
    gate = threading.Event()
    hung = StandIn("hung", end=lambda: gate.wait(30))
    try:
        rows = runner.TrackerSession([hung], end_timeout_s=0.2).stop(FACTS)
    finally:
        gate.set()
    assert rows["hung"]["status"] == FAILED and "within 0.2 s" in rows["hung"]["reason"]


def test_captured_logs_restore_the_logger():
    import logging

    lg = logging.getLogger("some.tracker")
    lg.setLevel(logging.WARNING)
    with captured_logs("some.tracker") as got:
        logging.getLogger("some.tracker.child").info("its own reason")
    assert got == ["its own reason"]
    assert lg.level == logging.WARNING and lg.propagate and not lg.handlers
