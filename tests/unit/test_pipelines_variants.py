"""Variant tables: lookup, combination rules, version gates, extra arguments, license order."""

from __future__ import annotations

import pytest

from bids_energy.errors import ExitCode, LicenseError, UsageError
from bids_energy.pipelines import get_pipeline
from bids_energy.pipelines.base import Pipeline, Variant
from bids_energy.pipelines.license import license_candidates, require_license, resolve_license
from bids_energy.pipelines.variants import (
    apply_variants,
    format_variant_table,
    lookup_variant,
    merge_extra_args,
    parse_options,
    render,
    variant_warnings,
)


@pytest.fixture(params=["fmriprep", "fastsurfer", "freesurfer"])
def pipeline(request) -> Pipeline:
    return get_pipeline(request.param)


# --- lookup ----------------------------------------------------------------------------------
def test_parametric_variant_is_filled_in():
    fs = get_pipeline("fastsurfer")
    v = lookup_variant(fs.variants, "threads-8")
    assert v is not None and v.name == "threads-8"
    assert v.set_options == {"--threads": ("8",)}
    assert "8 threads" in v.description


@pytest.mark.parametrize("name", ["threads-0", "threads-", "threads-x", "threads-08", "threads-N"])
def test_bad_parametric_names_are_unknown(name):
    assert lookup_variant(get_pipeline("fastsurfer").variants, name) is None


def test_openmp_n_on_freesurfer():
    v = lookup_variant(get_pipeline("freesurfer").variants, "openmp-12")
    assert v.set_options == {"-openmp": ("12",)}


# --- resolution ------------------------------------------------------------------------------
def test_no_names_gives_defaults(pipeline):
    assert pipeline.resolve_variants([], None) == list(pipeline.default_variants)


def test_unknown_variant_is_usage_error(pipeline):
    with pytest.raises(UsageError) as exc:
        pipeline.resolve_variants(["turbo"], None)
    assert exc.value.exit_code == ExitCode.USAGE == 64
    assert "unknown variant 'turbo'" in str(exc.value)
    assert "baseline" in str(exc.value)  # the known names are listed


@pytest.mark.parametrize(
    "pipe,names,words",
    [
        ("fmriprep", ["nthreads-1", "nthreads-16"], "nthreads"),
        ("fmriprep", ["fs-no-reconall", "fsaverage"], "cannot run together"),
        ("fastsurfer", ["seg-only", "surf-only"], "stage"),
        ("fastsurfer", ["cpu", "gpu"], "device"),
        ("fastsurfer", ["threads-2", "threads-4"], "threads"),
        ("freesurfer", ["autorecon1", "autorecon2"], "stage"),
        ("freesurfer", ["autorecon2", "autorecon3"], "stage"),
        ("freesurfer", ["openmp-2", "openmp-8"], "openmp"),
    ],
)
def test_conflicts_are_refused(pipe, names, words):
    with pytest.raises(UsageError) as exc:
        get_pipeline(pipe).resolve_variants(names, None)
    assert exc.value.exit_code == 64
    assert words in str(exc.value)


def test_same_option_different_values_conflicts_without_group():
    class P(Pipeline):
        name = "p"
        variants = {
            "a": Variant("a", "a", set_options={"--x": ("1",)}),
            "b": Variant("b", "b", set_options={"--x": ("2",)}),
            "c": Variant("c", "c", set_options={"--x": ("1",)}),
        }

        def build_command(self, job):
            return ["p"]

    with pytest.raises(UsageError, match="both set --x"):
        P().resolve_variants(["a", "b"])
    assert P().resolve_variants(["a", "c"]) == ["a", "c"]


@pytest.mark.parametrize(
    "pipe,names",
    [
        ("fastsurfer", ["gpu", "seg-only"]),
        ("fastsurfer", ["cpu", "surf-only", "threads-4", "parallel"]),
        ("fmriprep", ["fs-no-reconall", "sloppy", "low-mem", "res-1", "nthreads-16"]),
        ("fmriprep", ["fsaverage", "res-1"]),
        ("freesurfer", ["parallel", "openmp-4", "autorecon1"]),
    ],
)
def test_compatible_variants_combine_in_order(pipe, names):
    assert get_pipeline(pipe).resolve_variants(names, None) == names


def test_baseline_is_dropped_when_combined_and_duplicates_collapse():
    fp = get_pipeline("fmriprep")
    assert fp.resolve_variants(["baseline", "sloppy", "sloppy"], None) == ["sloppy"]
    assert fp.resolve_variants(["baseline"], None) == ["baseline"]


# --- version gates ---------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["25.0.0", "25.1.2", "26.0.0.dev3"])
def test_aroma_refused_from_25(version):
    with pytest.raises(UsageError) as exc:
        get_pipeline("fmriprep").resolve_variants(["aroma"], version)
    assert exc.value.exit_code == 64
    assert "removed in fMRIPrep 25.0" in str(exc.value)
    assert "fMRIPost-AROMA" in str(exc.value)


@pytest.mark.parametrize(
    "version,warned", [("22.1.1", False), ("23.0.2", False), ("23.1.0", True), ("24.1.1", True)]
)
def test_aroma_no_op_warning_23_1_to_24(version, warned):
    fp = get_pipeline("fmriprep")
    assert fp.resolve_variants(["aroma"], version) == ["aroma"]
    w = variant_warnings(fp, ["aroma"], version)
    assert bool(w) is warned
    if warned:
        assert "ignores it" in w[0]


def test_version_unknown_warns_instead_of_refusing():
    fp = get_pipeline("fmriprep")
    assert fp.resolve_variants(["aroma"], None) == ["aroma"]
    assert "version unknown" in variant_warnings(fp, ["aroma"], None)[0]
    assert variant_warnings(fp, ["sloppy"], None) == []


def test_syn_sdc_needs_21():
    with pytest.raises(UsageError, match="needs fmriprep 21.0 or newer"):
        get_pipeline("fmriprep").resolve_variants(["syn-sdc"], "20.2.7")
    assert get_pipeline("fmriprep").resolve_variants(["syn-sdc"], "21.0.0") == ["syn-sdc"]


# --- applying --------------------------------------------------------------------------------
def test_apply_phases_make_order_irrelevant():
    fp = get_pipeline("fmriprep")
    base = [("--output-spaces", ("MNI152NLin6Asym:res-2",)), ("--nthreads", ("5",))]
    a = apply_variants(base, [fp.get_variant("fsaverage"), fp.get_variant("res-1")])
    b = apply_variants(base, [fp.get_variant("res-1"), fp.get_variant("fsaverage")])
    assert a == b
    assert dict(a)["--output-spaces"] == ("MNI152NLin6Asym:res-1", "fsaverage")


def test_remove_then_add_flag():
    fs = get_pipeline("freesurfer")
    out = apply_variants([("-sd", ("/x",)), ("-all", ())], [fs.get_variant("autorecon2")])
    assert out == [("-sd", ("/x",)), ("-autorecon2", ())]


def test_parse_and_render_round_trip():
    args = ["--output-spaces", "A", "B", "--sloppy", "--mem=100", "--x", "-1"]
    opts = parse_options(args)
    assert opts == [
        ("--output-spaces", ("A", "B")),
        ("--sloppy", ()),
        ("--mem", ("100",)),
        ("--x", ("-1",)),
    ]
    assert render(opts) == ["--output-spaces", "A", "B", "--sloppy", "--mem", "100", "--x", "-1"]
    assert render([("-i", ("a", "b"))], repeat=("-i",)) == ["-i", "a", "-i", "b"]


def test_leading_value_in_extra_args_is_refused():
    with pytest.raises(UsageError, match="does not follow an option"):
        parse_options(["stray", "--x"])


def test_extra_arg_contradicting_variant_is_refused():
    base = [("--nthreads", ("16",))]
    touched = {"--nthreads": "nthreads-16"}
    with pytest.raises(UsageError) as exc:
        merge_extra_args(base, ["--nthreads", "4"], touched)
    assert exc.value.exit_code == 64
    assert "contradicts variant 'nthreads-16'" in str(exc.value)
    # an alias is the same option
    with pytest.raises(UsageError):
        merge_extra_args(base, ["--n_cpus", "4"], touched, {"--n_cpus": "--nthreads"})


def test_extra_arg_repeating_variant_is_dropped_not_doubled():
    out, warn = merge_extra_args([("--sloppy", ())], ["--sloppy"], {"--sloppy": "sloppy"})
    assert out == [("--sloppy", ())]
    assert "repeats variant 'sloppy'" in warn[0]


def test_extra_arg_replaces_baseline_and_appends_new():
    out, warn = merge_extra_args(
        [("--mem-mb", ("30000",)), ("--random-seed", ("1234",))],
        ["--mem_mb", "8000", "--notrack"],
        {},
        {"--mem_mb": "--mem-mb"},
    )
    assert out == [("--mem-mb", ("8000",)), ("--random-seed", ("1234",)), ("--notrack", ())]
    assert "replaces the baseline value" in warn[0]


def test_exclusive_options_count_as_contradiction():
    with pytest.raises(UsageError, match="contradicts variant 'surf-only'"):
        merge_extra_args(
            [("--surf_only", ())],
            ["--seg_only"],
            {"--surf_only": "surf-only"},
            exclusive=(frozenset({"--seg_only", "--surf_only"}),),
        )


# --- the table -------------------------------------------------------------------------------
def test_format_variant_table_lists_every_variant(pipeline):
    text = format_variant_table(pipeline)
    for name, v in pipeline.variants.items():
        assert name in text
        assert v.description.split("{")[0].strip() in text
    assert "* default" in text


def test_fmriprep_table_has_the_ten_study_variants():
    names = list(get_pipeline("fmriprep").variants)
    assert names == [
        "baseline",
        "fs-no-reconall",
        "sloppy",
        "low-mem",
        "fsaverage",
        "aroma",
        "res-1",
        "syn-sdc",
        "nthreads-16",
        "nthreads-1",
    ]
    text = format_variant_table(get_pipeline("fmriprep"))
    assert "<25.0" in text and ">=21.0" in text


# --- device and license needs ----------------------------------------------------------------
def test_devices():
    fs = get_pipeline("fastsurfer")
    assert fs.device(["gpu", "seg-only"]) == "gpu"
    assert fs.device(["cpu"]) == "cpu"
    assert fs.device(["surf-only"]) == "cpu"
    assert get_pipeline("fmriprep").device(["sloppy"]) == "cpu"


def test_fastsurfer_auto_device_reads_proc(tmp_path):
    from bids_energy.pipelines.fastsurfer import FastSurferPipeline, gpu_visible

    assert not gpu_visible(tmp_path, env={})
    (tmp_path / "driver/nvidia/gpus/0000:00:1e.0").mkdir(parents=True)
    assert gpu_visible(tmp_path, env={})
    assert not gpu_visible(tmp_path, env={"CUDA_VISIBLE_DEVICES": ""})
    assert FastSurferPipeline(proc_root=str(tmp_path)).device(["baseline"]) in ("gpu",)


def test_needs_license_for():
    assert get_pipeline("fastsurfer").needs_license_for(["gpu", "seg-only"]) is False
    assert get_pipeline("fastsurfer").needs_license_for(["gpu"]) is True
    assert get_pipeline("fmriprep").needs_license_for(["fs-no-reconall"]) is True
    assert get_pipeline("freesurfer").needs_license_for(["autorecon1"]) is True


def test_license_order(tmp_path):
    flag, envlic, home = tmp_path / "flag.txt", tmp_path / "env.txt", tmp_path / "fs"
    home.mkdir()
    env = {"FS_LICENSE": str(envlic), "FREESURFER_HOME": str(home)}
    assert license_candidates(str(flag), env) == [flag, envlic, home / "license.txt"]
    assert resolve_license(None, env) is None
    (home / "license.txt").write_text("x")
    assert resolve_license(None, env) == (home / "license.txt").resolve()
    envlic.write_text("x")
    assert resolve_license(None, env) == envlic.resolve()
    flag.write_text("x")
    assert resolve_license(str(flag), env) == flag.resolve()


def test_license_flag_to_missing_file_is_exit_126(tmp_path):
    with pytest.raises(LicenseError) as exc:
        resolve_license(str(tmp_path / "nope.txt"), {})
    assert exc.value.exit_code == 126
    with pytest.raises(LicenseError, match="FreeSurfer license is required"):
        require_license(None, {})


def test_pipeline_bin_relative_path_becomes_absolute(tmp_path, monkeypatch):
    exe = tmp_path / "bin" / "recon-all"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    found = get_pipeline("freesurfer").find_executable("bin/recon-all")
    assert found == str(exe.resolve())
