"""Tracker rows in the participant report and their ratios in the group report (pure)."""

from __future__ import annotations

import pandas as pd
import pytest

from bids_energy.analysis import trackers as rt
from tests.fixtures.footprints import codecarbon_row


def _rec(trackers: dict, ours: float = 2.0) -> dict:
    return {"energy": {"job_energy_wh": ours}, "trackers": trackers}


def test_ratio_is_before_pue_and_never_for_a_failed_row():
    rec = _rec({
        "codecarbon-machine": codecarbon_row(6.0, pue=1.5),  # 4 Wh before its PUE
        "zeus": {"status": "unavailable", "reason": "RAPL is not supported", "energy_wh": None,
                 "bills": "whole devices"},
        "codecarbon": {"status": "ok", "energy_wh": 3.0},  # a record from before per-mode rows
    })
    rows = {r["name"]: r for r in rt.participant_rows(rec)}
    assert rows["codecarbon-machine"]["ratio"] == pytest.approx(2.0)
    assert rows["codecarbon-machine"]["label"] == "CodeCarbon (machine mode)"
    assert "whole machine" in rows["codecarbon-machine"]["bills"]
    assert rows["zeus"]["ratio"] is None and rows["zeus"]["reason"].startswith("RAPL")
    assert rows["codecarbon"]["ratio"] == pytest.approx(1.5)
    assert "CodeCarbon bills the whole machine" in rows["codecarbon"]["bills"]
    ratios = rt.run_ratios(rec)
    assert set(ratios) == set(rt.RATIO_COLUMNS)
    assert ratios["ratio_codecarbon_machine"] == pytest.approx(2.0)  # the legacy "codecarbon" row does not overwrite it
    assert ratios["ratio_zeus"] is None


def test_participant_rows_survive_odd_records():
    assert rt.participant_rows({}) == []
    assert rt.participant_rows({"trackers": {"x": None}, "energy": None})[0]["ratio"] is None


def test_group_table_mean_and_spread_per_variant_and_tracker():
    runs = pd.DataFrame([
        {"pipeline": "p", "variant": "baseline", "device": "cpu", "status": "success",
         "ratio_codecarbon_machine": r, "ratio_zeus": None}
        for r in (2.0, 4.0)
    ] + [
        {"pipeline": "p", "variant": "sloppy", "device": "cpu", "status": "success",
         "ratio_codecarbon_machine": 3.0, "ratio_zeus": None},
        {"pipeline": "p", "variant": "sloppy", "device": "cpu", "status": "failed",
         "ratio_codecarbon_machine": 100.0, "ratio_zeus": None},
    ])
    table = rt.group_ratio_table(runs)
    assert [(r["variant"], r["tracker"], r["n"]) for r in table] == [
        ("baseline", "CodeCarbon (machine mode)", 2), ("sloppy", "CodeCarbon (machine mode)", 1)]
    base, sloppy = table
    assert base["ratio_mean"] == 3.0 and base["ratio_sd"] == pytest.approx(2 ** 0.5)
    assert (base["ratio_min"], base["ratio_max"]) == (2.0, 4.0)
    assert sloppy["ratio_mean"] == 3.0 and sloppy["ratio_sd"] is None  # failed run left out
    assert rt.group_ratio_table(pd.DataFrame()) == []
