"""Property-based tests (hypothesis) for the label parser and the footprint reader/writer."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bids_energy.bids import normalize_label
from bids_energy.errors import DataError, UsageError
from bids_energy.footprint import read_footprint, validation_errors, write_footprint

ALNUM = string.ascii_letters + string.digits


@given(st.text(alphabet=ALNUM, min_size=1, max_size=20), st.booleans())
def test_valid_labels_round_trip(label, prefixed):
    assert normalize_label(("sub-" if prefixed else "") + label) == label


@given(st.text(min_size=0, max_size=30))
def test_label_parser_never_returns_path_characters(text):
    try:
        out = normalize_label(text)
    except UsageError:
        return
    assert out and all(c in ALNUM for c in out)
    assert "/" not in out and ".." not in out


@pytest.fixture(scope="module")
def example():
    from pathlib import Path

    return json.loads((Path(__file__).resolve().parents[2] / "docs/footprint-example.json").read_text())


def test_example_record_is_valid(example):
    assert validation_errors(example) == []


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["status", "energy", "carbon", "participant", "wall_s", "pipeline",
                            "attribution", "start_utc", "generated_by", "cpu_s"]),
       value=JSONISH)
def test_reader_rejects_or_accepts_but_never_crashes(tmp_path_factory, example, key, value):
    """A hand-edited file is either a valid footprint or a DataError: nothing else."""
    rec = json.loads(json.dumps(example))
    rec[key] = value
    path = tmp_path_factory.mktemp("fp") / "sub-01_footprint.json"
    path.write_text(json.dumps(rec))
    try:
        got = read_footprint(path)
    except DataError:
        return
    assert got[key] == value


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_reader_on_garbage_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fp") / "x_footprint.json"
    path.write_bytes(blob)
    with pytest.raises(DataError):
        read_footprint(path)


def test_writer_refuses_invalid_records(tmp_path, example):
    bad = dict(example, status="maybe")
    with pytest.raises(DataError):
        write_footprint(tmp_path / "f.json", bad)
    assert not (tmp_path / "f.json").exists()


def test_writer_refuses_nan(tmp_path, example):
    bad = json.loads(json.dumps(example))
    bad["energy"]["job_energy_wh"] = float("nan")
    with pytest.raises((DataError, ValueError)):
        write_footprint(tmp_path / "f.json", bad)
    assert not (tmp_path / "f.json").exists()
