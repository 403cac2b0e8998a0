"""Quality tables as researchers have them (analysis/quality.py, pure)."""

from __future__ import annotations

import pandas as pd
import pytest

from bids_energy.analysis.quality import bids_entities, direction_for, normalize
from bids_energy.errors import DataError


def test_bids_entities_from_mriqc_bids_name():
    assert bids_entities("sub-01_ses-1_run-2_T1w") == {"participant": "01", "session": "1"}
    assert bids_entities("sub-A2_T1w") == {"participant": "A2"}
    assert bids_entities("group") == {}


def test_mriqc_table_needs_a_metric_choice_and_knows_directions():
    raw = pd.DataFrame({"bids_name": ["sub-01_ses-1_T1w", "sub-01_ses-1_run-2_T1w",
                                      "sub-02_ses-1_T1w"],
                        "cjv": ["0.5", "0.7", "0.4"], "cnr": ["3", "3", "4"],
                        "inu_med": ["0.9", "1.2", "1.0"]})
    with pytest.raises(DataError, match="--quality-metric"):
        normalize(raw)
    qt = normalize(raw, metric="cjv")
    assert qt.keys == ["participant", "session"] and not qt.higher_is_better
    assert "Lower values are better" in qt.direction_source
    rows = qt.table.set_index("participant")["cjv"]
    assert rows["01"] == pytest.approx(0.6) and rows["02"] == pytest.approx(0.4)
    assert any("averaged" in n for n in qt.notes)
    assert normalize(raw, metric="cnr").higher_is_better
    inu = normalize(raw, metric="inu_med")
    assert inu.metric == "|inu_med - 1|" and not inu.higher_is_better
    assert inu.table.set_index("participant")[inu.metric]["02"] == pytest.approx(0.0)


def test_user_direction_wins_and_unknown_metric_is_higher():
    assert direction_for("cjv", False)[0] == "higher"
    assert direction_for("accuracy", None) == (
        "higher", "not a known IQM: higher is better assumed (--quality-lower-is-better to flip)")


def test_bids_style_table_strips_prefixes():
    raw = pd.DataFrame({"participant_id": ["sub-01", "sub-02"], "session_id": ["ses-a", "ses-b"],
                        "dice": ["0.8", "0.9"], "sex": ["F", "M"]})
    qt = normalize(raw)
    assert qt.metric == "dice" and qt.keys == ["participant", "session"]
    assert qt.table["participant"].tolist() == ["01", "02"]
    assert qt.table["session"].tolist() == ["a", "b"]


def test_label_only_table_for_measured_models():
    qt = normalize(pd.DataFrame({"pipeline": ["resnet18", "resnet50"], "accuracy": ["0.7", "0.76"]}))
    assert qt.keys == ["pipeline"] and qt.metric == "accuracy" and qt.higher_is_better


@pytest.mark.parametrize("raw,match", [
    (pd.DataFrame({"who": ["01"], "snr": ["1"]}), "no key column"),
    (pd.DataFrame({"participant": ["01"], "snr": ["good"]}), "no numeric"),
    (pd.DataFrame({"participant": ["01"], "a": ["1"], "b": ["2"]}), "--quality-metric"),
])
def test_unusable_tables_are_data_errors(raw, match):
    with pytest.raises(DataError, match=match) as err:
        normalize(raw)
    assert err.value.exit_code == 65


def test_missing_metric_column_names_the_candidates():
    with pytest.raises(DataError, match="no column 'snr_total'.*cjv"):
        normalize(pd.DataFrame({"bids_name": ["sub-01_T1w"], "cjv": ["1"]}), metric="snr_total")
