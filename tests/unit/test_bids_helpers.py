"""Dataset checks, participant selection and the derivative-dataset helpers."""

from __future__ import annotations

import json
import threading

import pytest

from bids_energy import bids as B
from bids_energy.errors import (
    BidsValidationError,
    InputMissingError,
    NothingSelectedError,
    OutputError,
    ParticipantSkipped,
)


def test_check_bids_dir_errors(tmp_path):
    with pytest.raises(InputMissingError):
        B.check_bids_dir(tmp_path / "missing")
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputMissingError):
        B.check_bids_dir(tmp_path / "f")
    with pytest.raises(BidsValidationError, match="dataset_description.json is missing"):
        B.check_bids_dir(tmp_path)
    (tmp_path / "dataset_description.json").write_text("{not json")
    with pytest.raises(BidsValidationError, match="not valid JSON"):
        B.check_bids_dir(tmp_path)
    (tmp_path / "dataset_description.json").write_text('{"Name": "x"}')
    with pytest.raises(BidsValidationError, match="BIDSVersion"):
        B.check_bids_dir(tmp_path)


def test_output_inside_input_refused(synthetic_bids):
    with pytest.raises(OutputError):
        B.check_output_dir(synthetic_bids / "derivatives" / "x", synthetic_bids)
    with pytest.raises(OutputError):
        B.check_output_location(synthetic_bids, synthetic_bids)


def test_selection_and_t1w(synthetic_bids):
    layout = B.load_layout(synthetic_bids)
    assert B.select_participants(layout, None) == ["01", "02", "03"]
    assert B.select_participants(layout, ["02", "02"]) == ["02"]
    with pytest.raises(NothingSelectedError, match="sub-09"):
        B.select_participants(layout, ["09"])
    assert B.find_t1w(layout, "01", None).name == "sub-01_T1w.nii.gz"


def test_missing_t1w_is_a_skip(synthetic_bids):
    for f in (synthetic_bids / "sub-02" / "anat").iterdir():
        f.unlink()
    layout = B.load_layout(synthetic_bids)
    with pytest.raises(ParticipantSkipped, match="sub-02"):
        B.find_t1w(layout, "02", None)


def test_empty_t1w_file_is_not_usable(synthetic_bids):
    (synthetic_bids / "sub-03" / "anat" / "sub-03_T1w.nii.gz").write_bytes(b"")
    layout = B.load_layout(synthetic_bids)
    with pytest.raises(ParticipantSkipped):
        B.find_t1w(layout, "03", None)


def test_sessions(synthetic_bids_sessions):
    layout = B.load_layout(synthetic_bids_sessions)
    assert B.sessions_for(layout, "01", None) == ["1", "2"]
    assert B.sessions_for(layout, "01", ["2"]) == ["2"]
    assert B.find_t1w(layout, "01", "2").name == "sub-01_ses-2_T1w.nii.gz"


def test_derivative_description_merges_with_existing(tmp_path, synthetic_bids):
    d = tmp_path / "fmriprep"
    d.mkdir()
    (d / "dataset_description.json").write_text(json.dumps({
        "Name": "fMRIPrep - fMRI PREProcessing workflow", "BIDSVersion": "1.4.0",
        "DatasetType": "derivative", "GeneratedBy": [{"Name": "fMRIPrep", "Version": "24.1.1"}]}))
    B.ensure_derivative_dataset(d, "fmriprep", synthetic_bids, {"runtime": "docker", "image": "x"})
    B.ensure_derivative_dataset(d, "fmriprep", synthetic_bids, {"runtime": "docker", "image": "x"})
    data = json.loads((d / "dataset_description.json").read_text())
    assert data["Name"].startswith("fMRIPrep")
    assert [g["Name"] for g in data["GeneratedBy"]] == ["fMRIPrep", "bids-energy"]
    assert data["GeneratedBy"][1]["Container"] == {"Type": "docker", "Tag": "x"}
    assert "*_footprint.json" in (d / ".bidsignore").read_text().splitlines()


def test_concurrent_description_updates_stay_valid(tmp_path, synthetic_bids):
    d = tmp_path / "demo"
    errors = []

    def work():
        try:
            for _ in range(10):
                B.ensure_derivative_dataset(d, "demo", synthetic_bids)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = json.loads((d / "dataset_description.json").read_text())
    assert data["DatasetType"] == "derivative"
    assert len(data["GeneratedBy"]) == 1
    assert sorted(p.name for p in d.iterdir()) == [".bidsignore", "dataset_description.json"]
