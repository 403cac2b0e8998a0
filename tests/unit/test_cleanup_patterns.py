"""The glob syntax and the precedence of cleanup rules (pure logic)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bids_energy.cleanup.patterns import (
    DEFAULT_RULE,
    DELETE,
    KEEP,
    PROTECTED,
    Classifier,
    PatternSet,
    normalise_rules,
    translate,
    validate_glob,
)
from bids_energy.cleanup.rules import DEFAULTS, default_rules
from bids_energy.errors import UsageError


def matches(glob: str, path: str) -> bool:
    return re.fullmatch(translate(glob), path, re.DOTALL) is not None


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("*preproc*", "sub-01/anat/sub-01_desc-preproc_T1w.nii.gz", True),
        ("*preproc*", "sub-01/preproc_dir/x.nii", True),  # folder name: all below it
        ("*.svg", "sub-01/figures/a.svg", True),
        ("*.svg", "sub-01/figures/a.svg.gz", False),
        ("figures/", "sub-01/figures/a.svg", True),
        ("figures/", "sub-01/figures", False),  # trailing slash: folders only
        ("sub-*/mri/orig*", "sub-01/mri/orig.mgz", True),
        ("sub-*/mri/orig*", "sub-01/mri/orig/001.mgz", True),
        ("sub-*/mri/orig*", "x/sub-01/mri/orig.mgz", False),  # anchored
        ("/sub-*/", "sub-01/anat/a.nii", True),
        ("/sub-*/", "sourcedata/freesurfer/sub-01/mri/a.mgz", False),
        ("sub-*/", "sourcedata/freesurfer/sub-01/mri/a.mgz", True),  # floats, as gitignore
        ("sub-*/*.nii", "sub-01/anat/a.nii", False),  # * does not cross /
        ("sub-*/**/*.nii", "sub-01/anat/a.nii", True),
        ("sub-*/**/*.nii", "sub-01/a.nii", True),  # ** may be empty
        ("**/*IsRunning*", "sub-01/scripts/IsRunning.lh+rh", True),
        ("surf/?h.white", "surf/lh.white", True),
        ("surf/?h.white", "surf/lhh.white", False),
        ("surf/[lr]h.pial", "surf/rh.pial", True),
        ("surf/[!l]h.pial", "surf/rh.pial", True),
        ("surf/[!l]h.pial", "surf/lh.pial", False),
        ("a[b", "a[b", True),  # unclosed set is literal
        ("name+with(parens).txt", "d/name+with(parens).txt", True),
        ("*", "any/thing\nwith newline", True),
    ],
)
def test_glob_syntax(glob: str, path: str, expected: bool) -> None:
    assert matches(glob, path) is expected


def test_set_never_matches_separator() -> None:
    assert not matches("a[!x]b", "a/b")
    assert not matches("a?b", "a/b")


@pytest.mark.parametrize("bad", ["", "/", "../x", "a/../b", "./a", "a\x00b"])
def test_validate_glob_refuses_paths_leaving_the_tree(bad: str) -> None:
    with pytest.raises(UsageError):
        validate_glob(bad)


def test_pattern_set_names_the_first_matching_glob() -> None:
    ps = PatternSet(["*.nii", "sub-*/anat/", "*.nii"])
    assert ps.globs == ("*.nii", "sub-*/anat/")  # duplicates dropped
    assert ps.match("sub-01/anat/a.nii") == "*.nii"
    assert ps.match("sub-01/anat/a.tsv") == "sub-*/anat/"
    assert ps.match("sub-01/func/a.tsv") is None
    assert not PatternSet([])
    assert PatternSet([]).match("x") is None


def test_precedence_user_keep_beats_user_delete_beats_pipeline() -> None:
    c = Classifier(
        {"keep": ["*preproc*"], "delete": ["/sub-*/"]},
        user_keep=["*_desc-aseg_dseg*"],
        user_delete=["*desc-preproc_bold*"],
    )
    assert c.classify("sub-01/anat/sub-01_desc-aseg_dseg.nii.gz").action == KEEP
    assert c.classify("sub-01/anat/sub-01_desc-aseg_dseg.nii.gz").rule.startswith("user-keep:")
    d = c.classify("sub-01/func/sub-01_desc-preproc_bold.nii.gz")
    assert (d.action, d.rule) == (DELETE, "user-delete:*desc-preproc_bold*")
    d = c.classify("sub-01/anat/sub-01_desc-preproc_T1w.nii.gz")
    assert (d.action, d.rule) == (KEEP, "pipeline-keep:*preproc*")
    d = c.classify("sub-01/anat/sub-01_label-GM_probseg.nii.gz")
    assert (d.action, d.rule) == (DELETE, "pipeline-delete:/sub-*/")
    d = c.classify("sourcedata/other.txt")
    assert (d.action, d.rule) == (KEEP, DEFAULT_RULE)


def test_protected_beats_everything() -> None:
    c = Classifier({"delete": ["**"]}, user_delete=["**"], protected_paths={"sub-01/x.json"})
    for path in (
        "dataset_description.json",
        ".bidsignore",
        "logs/CITATION.md",
        "sub-01/sub-01_footprint.json",
        "sub-01/ses-A/sub-01_ses-A_footprint.html",
        "sub-01/sub-01_cleanup.tsv",
        "sub-01/x.json",
    ):
        assert c.classify(path).action == PROTECTED, path
    assert c.classify("sub-01/y.json").action == DELETE


def test_normalise_rules() -> None:
    assert normalise_rules(None) == {"keep": (), "delete": ()}
    assert normalise_rules({"keep": "*.nii"}) == {"keep": ("*.nii",), "delete": ()}
    with pytest.raises(UsageError):
        normalise_rules({"remove": ["x"]})
    with pytest.raises(UsageError):
        Classifier({"delete": ["../etc"]})


def test_default_rules_lookup() -> None:
    assert default_rules("fmriprep") == default_rules("fmriprep-sloppy+fs-no-reconall")
    assert default_rules("fmriprep")["keep"][0] == "*preproc*"
    assert default_rules("nosuchpipeline") == {}
    assert default_rules(None) == {}
    for name, rules in DEFAULTS.items():
        Classifier(dict(rules))  # every default set compiles
        assert name in ("fmriprep", "fastsurfer", "freesurfer", "demo", "command")


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("sub-01/mri/orig.mgz", DELETE),
        ("sub-01/mri/orig/001.mgz", DELETE),
        ("sub-01/mri/nu.mgz", DELETE),
        ("sub-01/mri/T1.mgz", DELETE),
        ("sub-01/mri/brainmask.auto.mgz", DELETE),
        ("sub-01/scripts/IsRunning.lh+rh", DELETE),
        ("sub-01/surf/lh.orig.nofix", DELETE),
        ("sub-01/mri/aparc.DKTatlas+aseg.deep.mgz", KEEP),
        ("sub-01/mri/aseg.mgz", KEEP),
        ("sub-01/stats/aseg+DKT.stats", KEEP),
        ("sub-01/surf/lh.white", KEEP),
        ("sub-01/surf/rh.pial", KEEP),
        ("sub-01/surf/lh.thickness", KEEP),
        ("sub-01/surf/rh.sphere.reg", KEEP),
        ("sub-01/surf/lh.area", KEEP),
        ("sub-01/scripts/recon-all.log", KEEP),
        ("sub-01/mri/wm.mgz", KEEP),  # not named by any rule: kept by default
    ],
)
def test_freesurfer_defaults(path: str, action: str) -> None:
    assert Classifier(default_rules("freesurfer")).classify(path).action == action


# --- properties ----------------------------------------------------------------------------

segment = st.text(
    alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))
relpaths = st.lists(segment, min_size=1, max_size=5).map("/".join)
simple_globs = st.sampled_from(
    ["*", "**", "*.nii*", "sub-*/", "/sub-*/", "*preproc*", "a*/b?", "**/x*", "[a-m]*", "*_bold*"]
)


@settings(max_examples=200, deadline=None)
@given(
    dirs=st.lists(segment, max_size=3),
    name=st.sampled_from(
        [
            "dataset_description.json",
            ".bidsignore",
            "sub-01_footprint.json",
            "x_footprint.html",
            "sub-01_ses-A_cleanup.tsv",
        ]
    ),
    delete=st.lists(simple_globs, max_size=4),
    user_delete=st.lists(simple_globs, max_size=3),
)
def test_protected_names_are_never_deleted(dirs, name, delete, user_delete) -> None:
    c = Classifier({"delete": delete}, user_delete=user_delete)
    assert c.classify("/".join([*dirs, name])).action == PROTECTED


@settings(max_examples=200, deadline=None)
@given(
    path=relpaths,
    keep=st.lists(simple_globs, min_size=1, max_size=3),
    delete=st.lists(simple_globs, max_size=3),
    user_delete=st.lists(simple_globs, max_size=3),
)
def test_user_keep_always_wins(path, keep, delete, user_delete) -> None:
    c = Classifier({"delete": delete}, user_keep=keep, user_delete=user_delete)
    matched = PatternSet(keep).match(path) is not None
    if matched:
        assert c.classify(path).action != DELETE


@settings(max_examples=200, deadline=None)
@given(path=relpaths, keep=st.lists(simple_globs, max_size=3))
def test_nothing_is_deleted_without_a_delete_rule(path, keep) -> None:
    assert Classifier({"keep": keep}).classify(path).action != DELETE


@settings(max_examples=200, deadline=None)
@given(path=relpaths, glob=simple_globs)
def test_a_folder_match_covers_everything_below(path, glob) -> None:
    if matches(glob, path):
        assert matches(glob, path + "/child")


name_alphabet = st.sampled_from(list("ab.-_*?[]!x"))


@settings(max_examples=300, deadline=None)
@given(
    glob=st.text(alphabet=name_alphabet, min_size=1, max_size=6).filter(
        lambda g: "**" not in g and g not in (".", "..")
    ),
    name=st.text(alphabet=st.sampled_from(list("ab.-_x[]")), min_size=1, max_size=6),
)
def test_basename_patterns_agree_with_fnmatch(glob, name) -> None:
    import fnmatch

    if name in (".", ".."):
        return
    assert matches(glob, name) == fnmatch.fnmatchcase(name, glob)
