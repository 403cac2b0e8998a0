"""Participant scope, link handling in the plan, work-dir refusals, the manifest format."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bids_energy.cleanup.manifest import read_manifest, write_manifest
from bids_energy.cleanup.patterns import DELETE, KEEP, Classifier
from bids_energy.cleanup.plan import link_target_relpath, make_plan, totals
from bids_energy.cleanup.remove import emptied_dirs
from bids_energy.cleanup.scope import check_label, names_participant, owned_children, owns_name
from bids_energy.cleanup.walk import FILE, OTHER, SYMLINK, Entry
from bids_energy.cleanup.workdir import refusal
from bids_energy.errors import UsageError


def test_owns_name_without_session() -> None:
    names = [
        "sub-01",
        "sub-01.html",
        "sub-01_footprint.json",
        "sub-010",
        "sub-010.html",
        "sub-02",
        "dataset_description.json",
        "logs",
        "sub-01x",
        "sub-01-extra",
    ]
    assert owned_children(names, "01", None) == ["sub-01", "sub-01.html", "sub-01_footprint.json"]


def test_owns_name_with_session() -> None:
    assert owns_name("sub-01_ses-A", "01", "A")
    assert owns_name("sub-01_ses-A.html", "01", "A")
    assert not owns_name("sub-01_ses-AB", "01", "A")
    assert not owns_name("sub-01", "01", "A")  # the subject folder holds other sessions
    assert not owns_name("sub-01.html", "01", "A")


@pytest.mark.parametrize("label", ["", "0/1", "*", "..", "01 ", "a-b"])
def test_odd_labels_are_refused(label: str) -> None:
    with pytest.raises(UsageError):
        check_label(label, "participant")
    check_label(None, "session")


def test_names_participant() -> None:
    assert names_participant("sub-01", "01", None)
    assert names_participant("fmriprep_sub-01_wf", "01", None)
    assert not names_participant("sub-010", "01", None)
    assert not names_participant("work", "01", None)
    assert names_participant("sub-01_ses-A", "01", "A")
    assert not names_participant("sub-01", "01", "A")


def _e(path: str, kind: str = FILE, target: str | None = None, size: int = 10) -> Entry:
    return Entry(path, kind, size, target)


def test_link_target_relpath() -> None:
    assert link_target_relpath("a/surf/lh.pial", "lh.pial.T1") == "a/surf/lh.pial.T1"
    assert link_target_relpath("a/b/l", "../c") == "a/c"
    assert link_target_relpath("a/l", "../../etc/passwd") is None
    assert link_target_relpath("l", "/etc/passwd") is None
    assert link_target_relpath("a/l", "..") is None


def test_kept_link_keeps_its_target_and_chains() -> None:
    c = Classifier({"keep": ["keep-*"], "delete": ["**"]})
    entries = [
        _e("d/keep-link", SYMLINK, "mid-link"),
        _e("d/mid-link", SYMLINK, "../t/target.mgz"),
        _e("t/target.mgz"),
        _e("t/other.mgz"),
        _e("d/keep-dirlink", SYMLINK, "../folder"),
        _e("folder/a"),
        _e("folder/b/c"),
        _e("folder-not/x"),
    ]
    plan = {p.entry.relpath: p.decision for p in make_plan(entries, c)}
    assert plan["d/mid-link"].action == KEEP
    assert plan["t/target.mgz"].action == KEEP
    assert plan["t/target.mgz"].rule == "kept:target-of-kept-link:d/mid-link"
    assert plan["t/other.mgz"].action == DELETE
    assert plan["folder/a"].action == KEEP
    assert plan["folder/b/c"].action == KEEP
    assert plan["folder-not/x"].action == DELETE


def test_deleted_link_does_not_protect_target_and_special_files_stay() -> None:
    c = Classifier({"delete": ["**"]})
    plan = make_plan([_e("l", SYMLINK, "f"), _e("f"), _e("fifo", OTHER, size=0)], c)
    actions = {p.entry.relpath: p.decision.action for p in plan}
    assert actions == {"l": DELETE, "f": DELETE, "fifo": KEEP}
    t = totals(plan)
    assert (t["files_before"], t["files_to_delete"], t["bytes_to_delete"]) == (3, 2, 20)


def test_emptied_dirs_stop_at_scope_roots() -> None:
    got = emptied_dirs(["sub-01/anat/x/a.nii", "sub-01/b.nii", "top.html"], {"", "sub-01"})
    assert got == ["sub-01/anat", "sub-01/anat/x"]


def test_manifest_round_trip_with_odd_names(tmp_path: Path) -> None:
    rows = [
        ("a\tb/c\nd.nii", "file", 3, "delete", "user-delete:*"),
        ('q"uote é.nii', "file", 0, "keep", "default:keep-unmatched"),
    ]
    path = write_manifest(tmp_path / "m.tsv", rows)
    back = read_manifest(path)
    assert [(r["path"], int(r["size_bytes"]), r["action"]) for r in back] == [
        (r[0], r[2], r[3]) for r in rows
    ]
    assert not list(tmp_path.glob(".*.tmp"))


def test_work_dir_refusals(tmp_path: Path) -> None:
    out = tmp_path / "out"
    pdir = out / "fmriprep"
    pdir.mkdir(parents=True)
    bids = tmp_path / "bids"
    bids.mkdir()
    keep = [pdir.resolve(), out.resolve()]
    work = tmp_path / "work" / "sub-01"
    work.mkdir(parents=True)
    assert refusal(work, keep, bids, "01", None, None) is None
    assert "does not name" in refusal(tmp_path / "work", keep, bids, "01", None, None)
    assert refusal(tmp_path / "work", keep, bids, "01", None, True) is None
    assert "is or contains" in refusal(tmp_path, keep, bids, "01", None, True)
    assert "is or contains" in refusal(pdir, keep, bids, "01", None, True)
    inside = bids / "sub-01"
    inside.mkdir()
    assert "input dataset" in refusal(inside, keep, bids, "01", None, True)
    link = tmp_path / "sub-01-link"
    os.symlink(work, link)
    assert "symbolic link" in refusal(link, keep, bids, "01", None, True)
    assert "does not exist" in refusal(tmp_path / "nope", keep, bids, "01", None, True)
    assert "not this job's" in refusal(work, keep, bids, "01", None, False)
    assert "does not name" in refusal(work, keep, bids, "01", "A", None)
