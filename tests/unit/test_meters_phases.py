"""The phase protocol's parser and the per-phase tally (pure)."""

from __future__ import annotations

import pytest

from bids_energy.footprint import phases_block
from bids_energy.meters.phaselog import (
    NO_PHASE,
    PhaseEvent,
    parse_line,
    parse_lines,
    split_complete,
)
from bids_energy.meters.phasetally import PhaseFileTail, PhaseTally


@pytest.mark.parametrize("line,expected", [
    ("begin registration", PhaseEvent("begin", "registration", None)),
    ("  begin   reg\n", PhaseEvent("begin", "reg", None)),
    ("1732900000.25 begin reg", PhaseEvent("begin", "reg", 1732900000.25)),
    ("end", PhaseEvent("end", None, None)),
    ("END reg", PhaseEvent("end", "reg", None)),
    ("1732900001 end", PhaseEvent("end", None, 1732900001.0)),
])
def test_parse_valid_lines(line, expected):
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", [
    "begin", "begin two words", "start reg", "1732900000", "nan begin x", "-5 begin x",
    "end a b", "\x00\x01garbage", "begin " + "x" * 300, f"begin {NO_PHASE}",
])
def test_parse_refuses_garbage(line):
    assert parse_line(line) is None


def test_parse_lines_counts_bad_but_not_blank():
    events, bad = parse_lines(["begin a", "", "   ", "oops", "end"])
    assert [e.kind for e in events] == ["begin", "end"]
    assert bad == ["oops"]


def test_split_complete_keeps_the_unfinished_line():
    assert split_complete("begin a\nend a\nbeg") == (["begin a", "end a"], "beg")


def _tally(events_at, intervals, dt=1.0):
    """events_at: {interval_index: [(event, t or None)]}; intervals: per-interval cpu."""
    t = PhaseTally()
    for i, cpu in enumerate(intervals):
        t_end = (i + 1) * dt
        evs = events_at.get(i, [])
        t.add_events([e for e in evs], t_end, lambda u: u)
        t.add_interval(t_end, dt, cpu, cpu / 100.0, final=i == len(intervals) - 1)
    return t


def test_pro_rata_by_time_and_shares_sum_to_one():
    evs = {0: [PhaseEvent("begin", "a", 0.5)], 2: [PhaseEvent("begin", "b", 2.25)],
           3: [PhaseEvent("end", "b", 3.5)]}
    rec = phases_block(_tally(evs, [1.0, 1.0, 1.0, 1.0]).summary())
    rows = {r["phase"]: r for r in rec["rows"]}
    assert rows["a"]["time_s"] == pytest.approx(1.75)
    assert rows["b"]["time_s"] == pytest.approx(1.25)
    assert rows[NO_PHASE]["time_s"] == pytest.approx(1.0)
    assert rows["a"]["cpu_s"] == pytest.approx(1.75)
    assert sum(r["cpu_share"] for r in rec["rows"]) == pytest.approx(1.0, abs=1e-3)
    assert sum(r["energy_share"] for r in rec["rows"]) == pytest.approx(1.0, abs=1e-3)
    assert rows["a"]["first_seen_s"] == 0.5 and rows["a"]["last_seen_s"] == 2.25
    assert rec["spans"] == [["a", 0.5, 2.25], ["b", 2.25, 3.5]]
    assert [r["phase"] for r in rec["rows"]] == ["a", "b", NO_PHASE]


def test_untimed_lines_count_when_read_and_last_begin_wins():
    evs = {0: [PhaseEvent("begin", "a", None)], 1: [PhaseEvent("begin", "b", None)],
           2: [PhaseEvent("end", "a", None)]}  # "end a" after b began: b goes on
    rows = {r["phase"]: r for r in phases_block(_tally(evs, [1.0, 1.0, 1.0, 1.0]).summary())["rows"]}
    assert rows["a"]["time_s"] == pytest.approx(1.0)
    assert rows["b"]["time_s"] == pytest.approx(2.0)


def test_occurrences_count_re_entries():
    evs = {i: [PhaseEvent("begin", "epoch" if i % 2 else "eval", i + 0.5)] for i in range(6)}
    rows = {r["phase"]: r for r in phases_block(_tally(evs, [1.0] * 6).summary())["rows"]}
    assert rows["epoch"]["occurrences"] == 3 and rows["eval"]["occurrences"] == 3


def test_no_marker_no_block_and_bad_lines_warn():
    t = _tally({}, [1.0, 1.0])
    assert phases_block(t.summary()) is None and t.warning() is None
    t.add_bad(["what"])
    assert phases_block(t.summary())["ignored_lines"] == 1
    assert "1 unparseable" in t.warning()


def test_events_before_start_and_after_end_are_clamped():
    evs = {0: [PhaseEvent("begin", "a", -100.0)], 1: [PhaseEvent("end", None, 1e6)]}
    rows = {r["phase"]: r for r in phases_block(_tally(evs, [1.0, 1.0]).summary())["rows"]}
    assert rows["a"]["time_s"] == pytest.approx(2.0)
    assert NO_PHASE not in rows


def test_file_tail_reads_only_complete_new_lines(tmp_path):
    f = tmp_path / "phases"
    tail = PhaseFileTail(f)
    assert tail.read() == ([], [])  # not there yet
    f.write_text("begin a\nbeg")
    assert [e.name for e in tail.read()[0]] == ["a"]
    with open(f, "a") as fh:
        fh.write("in b\nnonsense\n")
    events, bad = tail.read()
    assert [e.name for e in events] == ["b"] and bad == ["nonsense"]
