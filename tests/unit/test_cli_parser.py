"""The parser alone: the BIDS-App contract of arguments, types and usage exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bids_energy.cli.parser import build_parser, parse_args, split_extra


def test_positionals_and_defaults():
    o = parse_args(["ds", "out", "participant"])
    assert o.bids_dir == Path("ds") and o.output_dir == Path("out")
    assert o.analysis_level == ["participant"]
    assert o.pipeline == "demo" and o.variant == [] and o.extra_args == []
    assert o.sampling_interval == 1.0 and o.cleanup == "dry-run" and o.pue is None


@pytest.mark.parametrize("flag", ["--participant-label", "--participant_label"])
def test_participant_labels_with_and_without_prefix(flag):
    o = parse_args(["ds", "out", "participant", flag, "sub-01", "02", "sub-A3"])
    assert o.participant_label == ["01", "02", "A3"]


@pytest.mark.parametrize("bad", ["../etc", "sub-01/..", "0 1", "", "sub-", "a_b", "01;rm"])
def test_bad_labels_are_usage_errors(bad, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["ds", "out", "participant", "--participant-label", bad])
    assert e.value.code == 64
    assert "label" in capsys.readouterr().err


def test_variants_repeat_and_extra_args_after_double_dash():
    o = parse_args(["ds", "out", "participant", "--pipeline", "fastsurfer", "--variant", "gpu",
                    "--variant", "seg-only", "--", "--batch", "4", "--no_cereb"])
    assert o.variant == ["gpu", "seg-only"]
    assert o.extra_args == ["--batch", "4", "--no_cereb"]


def test_split_extra_keeps_later_double_dashes():
    assert split_extra(["a", "--", "x", "--", "y"]) == (["a"], ["x", "--", "y"])


@pytest.mark.parametrize("args", [
    ["--nthreads", "0"], ["--nthreads", "two"], ["--mem-gb", "-1"], ["--mem-gb", "nan"],
    ["--sampling-interval", "0"], ["--sampling-interval", "0.001"], ["--pue", "0.8"],
    ["--pue", "7"], ["--country-code", "Canada"], ["--region", "QC"], ["--region", "CA_QC"],
    ["--cleanup", "yes"], ["--compare-trackers", "experiment-impact-tracker"], ["--attribution", "node"],
    ["--extrapolate", "0"], ["--no-such-flag"], ["--keep", "../*"], ["--delete", ""],
])
def test_bad_values_exit_64(args):
    with pytest.raises(SystemExit) as e:
        parse_args(["ds", "out", "participant", *args])
    assert e.value.code == 64


def test_missing_positionals_exit_64():
    with pytest.raises(SystemExit) as e:
        parse_args(["ds"])
    assert e.value.code == 64


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("bids-energy ")


def test_codes_are_normalised():
    o = parse_args(["ds", "out", "participant", "--country-code", "can", "--region", "ca-qc"])
    assert (o.country_code, o.region) == ("CAN", "CA-QC")


def test_both_levels_in_one_call():
    assert parse_args(["ds", "out", "participant", "group"]).analysis_level == ["participant", "group"]


def test_parser_has_no_side_effects(tmp_path):
    build_parser().parse_args([str(tmp_path / "nope"), str(tmp_path / "out"), "participant"])
    assert list(tmp_path.iterdir()) == []


def test_quality_metric_and_direction_flags():
    o = parse_args(["ds", "out", "group", "--quality-tsv", "group_T1w.tsv",
                    "--quality-metric", "cjv", "--quality-higher-is-better"])
    assert o.quality_metric == "cjv" and o.quality_higher_is_better
    assert not o.quality_lower_is_better
    d = parse_args(["ds", "out", "group"])
    assert d.quality_metric is None and not d.quality_higher_is_better


def test_shared_node_energy_options():
    o = parse_args(["ds", "out", "participant"])
    assert o.powercap_root is None and o.idle_power_w is None
    o = parse_args(["ds", "out", "participant", "--powercap-root", "/host/powercap",
                    "--idle-power-w", "95.5"])
    assert o.powercap_root == Path("/host/powercap") and o.idle_power_w == 95.5
    for bad in (["--idle-power-w", "0"], ["--idle-power-w", "-3"], ["--idle-power-w", "x"]):
        with pytest.raises(SystemExit) as e:
            parse_args(["ds", "out", "participant", *bad])
        assert e.value.code == 64
