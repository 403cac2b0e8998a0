"""Flattening footprints into the group table, and what gets skipped."""

import json
import logging

import pytest

from bids_energy.analysis import collect
from tests.fixtures.footprints import make_footprint, write_footprint


def test_flatten_example_record_units_and_labels():
    rec = make_footprint(
        participant="sub-07",
        session="ses-2",
        variants=["fs-no-reconall", "sloppy"],
        wall_s=7200,
        cpu_s=3600,
        energy_wh=12.5,
        co2e_g=0.5,
        codecarbon_wh=40.0,
        steps=[
            {"step": "registration", "cpu_s": 10, "energy_wh": 2.0},
            {"step": "surface reconstruction", "energy_wh": 9.0},
            {"no": "step name"},
        ],
    )
    row, steps = collect.flatten(rec, "x/sub-07_footprint.json")
    assert row["participant"] == "07" and row["session"] == "2"
    assert row["variant"] == "fs-no-reconall+sloppy"
    assert row["wall_h"] == 2.0 and row["cpu_h"] == 1.0
    assert row["energy_wh"] == 12.5 and row["co2e_g"] == 0.5
    assert row["cpu_energy_wh"] == pytest.approx(12.5 * 0.95)
    assert row["cpu_method"] == "estimated: tdp-model"
    assert row["codecarbon_energy_wh"] == 40.0
    assert row["n_steps"] == 2 and row["top_step"] == "surface reconstruction"
    assert [s["step"] for s in steps] == ["registration", "surface reconstruction"]
    assert set(collect.COLUMNS) <= set(row)


def test_variant_label():
    assert collect.variant_label(["baseline"]) == "baseline"
    assert collect.variant_label([]) == "baseline"
    assert collect.variant_label(None) == "baseline"
    assert collect.variant_label(["a", "b"]) == "a+b"


@pytest.mark.parametrize(
    "rec, reason",
    [
        ([1, 2], "not a JSON object"),
        ({"foo": "bar"}, "not a bids-energy footprint"),
        ({**make_footprint(), "schema_version": "2.0.0"}, "unsupported schema_version"),
        ({**make_footprint(), "status": "weird"}, "status"),
        ({**make_footprint(), "wall_s": None}, "partial"),
        ({**make_footprint(), "energy": {}}, "partial"),
    ],
)
def test_flatten_rejects(rec, reason):
    with pytest.raises(collect.SkipRecord, match=reason):
        collect.flatten(rec)


def test_failed_run_without_numbers_is_kept():
    rec = make_footprint(status="failed")
    rec["energy"] = None
    rec["carbon"] = "garbage"
    row, _ = collect.flatten(rec)
    assert row["status"] == "failed" and row["energy_wh"] is None


def test_collect_skips_with_one_warning_each(tmp_path, caplog):
    write_footprint(tmp_path, make_footprint(participant="01"))
    write_footprint(tmp_path, make_footprint(participant="02", status="interrupted"))
    (tmp_path / "bad_footprint.json").write_text("{truncated")
    (tmp_path / "foreign_footprint.json").write_text(json.dumps({"emissions": 1}))
    (tmp_path / "ignored.json").write_text("{}")  # not *_footprint.json: not even looked at
    with caplog.at_level(logging.WARNING):
        got = collect.collect(tmp_path)
    assert len(got.runs) == 2
    assert sorted(f for f, _ in got.skipped) == ["bad_footprint.json", "foreign_footprint.json"]
    assert len([r for r in caplog.records if "skipping" in r.message]) == 2
    assert got.runs["energy_wh"].dtype == float


def test_collect_keeps_latest_duplicate(tmp_path):
    old = make_footprint(participant="01", energy_wh=1.0, start_utc="2026-01-01T00:00:00Z")
    new = make_footprint(participant="01", energy_wh=2.0, start_utc="2026-02-01T00:00:00Z")
    write_footprint(tmp_path / "a", old)
    write_footprint(tmp_path / "b", new)
    got = collect.collect(tmp_path)
    assert len(got.runs) == 1 and got.duplicates == 1
    assert got.runs.iloc[0]["energy_wh"] == 2.0


def test_timeline_is_cut_only_when_safe():
    rec = make_footprint(timeline_rows=50)
    text = json.dumps(rec)
    fast = collect.load_without_timeline(text)
    assert fast["timeline"]["rows"] == [] and fast["steps"] == rec["steps"]
    assert {k: v for k, v in fast.items() if k != "timeline"} == {
        k: v for k, v in rec.items() if k != "timeline"
    }
    # Strings inside rows: the cut would break the JSON, so the full parse is used.
    odd = json.dumps({"timeline": {"rows": [[1, "x]"], [2, 3]]}, "a": 1})
    assert collect.load_without_timeline(odd) == json.loads(odd)
    with pytest.raises(json.JSONDecodeError):
        collect.load_without_timeline('{"rows": [1, 2')


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"wall_s": "1 h"},
        {"status": "done"},
        {"energy": {"method": 7}},
        {"participant": None},
        {"carbon": {"co2e_g": "x"}},
    ],
)
def test_fast_schema_check_agrees_with_jsonschema(change):
    """The group reader's compiled check says what footprint.validation_errors says."""
    from bids_energy.footprint import validation_errors

    rec = make_footprint()
    for key, value in change.items():
        if isinstance(value, dict):
            rec[key] = {**rec[key], **value}
        else:
            rec[key] = value
    assert (collect.schema_problem(rec) is None) == (validation_errors(rec) == [])


def test_collect_skips_schema_breakers(tmp_path):
    rec = make_footprint(participant="01")
    rec["energy"]["method"] = 7
    write_footprint(tmp_path, rec)
    write_footprint(tmp_path, make_footprint(participant="02"))
    got = collect.collect(tmp_path)
    assert len(got.runs) == 1 and "schema" in got.skipped[0][1]
