"""The Python side of the phase protocol: what ``bids_energy.phase`` writes."""

from __future__ import annotations

import multiprocessing

import pytest

import bids_energy
from bids_energy.phases import PHASE_FILE_ENV, clean_name, mark


def test_phase_is_a_noop_outside_a_measured_run(monkeypatch, tmp_path):
    monkeypatch.delenv(PHASE_FILE_ENV, raising=False)
    with bids_energy.phase("registration") as name:
        assert name == "registration"
    assert list(tmp_path.iterdir()) == []


def test_phase_writes_timestamped_begin_and_end(monkeypatch, tmp_path):
    log = tmp_path / "phases.log"
    monkeypatch.setenv(PHASE_FILE_ENV, str(log))
    with bids_energy.phase("bias correction"):
        pass
    lines = log.read_text().splitlines()
    assert [ln.split()[1:] for ln in lines] == [["begin", "bias-correction"], ["end", "bias-correction"]]
    t0, t1 = (float(ln.split()[0]) for ln in lines)
    assert 1e9 < t0 <= t1


def test_phase_ends_on_exception(monkeypatch, tmp_path):
    log = tmp_path / "phases.log"
    monkeypatch.setenv(PHASE_FILE_ENV, str(log))
    with pytest.raises(RuntimeError), bids_energy.phase("x"):
        raise RuntimeError("boom")
    assert log.read_text().splitlines()[-1].endswith("end x")


def test_bad_names_and_events_are_refused():
    with pytest.raises(ValueError):
        clean_name("  ")
    with pytest.raises(ValueError):
        mark("start", "x", env={PHASE_FILE_ENV: "/nonexistent/never-written"})


def _writer(path: str, tag: str) -> None:
    for i in range(200):
        mark("begin", f"{tag}{i}", env={PHASE_FILE_ENV: path})


def test_concurrent_writers_never_interleave_inside_a_line(tmp_path):
    log = tmp_path / "phases.log"
    procs = [multiprocessing.Process(target=_writer, args=(str(log), t)) for t in "abcd"]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = log.read_text().splitlines()
    assert len(lines) == 800
    assert all(len(ln.split()) == 3 and ln.split()[1] == "begin" for ln in lines)


def test_an_unwritable_phase_file_warns_but_never_raises(monkeypatch, tmp_path):
    monkeypatch.setenv(PHASE_FILE_ENV, str(tmp_path / "missing-dir" / "phases.log"))
    with pytest.warns(RuntimeWarning, match="cannot write phase marker"), \
            bids_energy.phase("x"):
        pass
