"""``run_cleanup``: one participant's cleanup after its run, as the participant level calls it.

Order of work, chosen so that nothing unsafe can happen by accident: refuse (mode off, run
not successful, bad patterns, odd labels) before touching anything; walk only the
participant's own paths, never through links; decide with pure rules; write the manifest;
only then, in ``delete`` mode, unlink files and prune the folders they emptied; finally the
work dir, if it is certainly this job's own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bids_energy.cleanup import workdir
from bids_energy.cleanup.manifest import write_manifest
from bids_energy.cleanup.patterns import DELETE, Classifier
from bids_energy.cleanup.plan import Planned, make_plan, totals
from bids_energy.cleanup.remove import delete_files, emptied_dirs, prune_empty_dirs
from bids_energy.cleanup.rules import default_rules
from bids_energy.cleanup.scope import (
    SCOPE_ROOTS,
    check_label,
    is_within,
    owned_children,
    relpath_posix,
)
from bids_energy.cleanup.walk import list_children, open_root, walk_paths
from bids_energy.errors import UsageError
from bids_energy.labels import session_subdir

MODES = ("off", "dry-run", "delete")
MAX_ERRORS_REPORTED = 20


def participant_scope(root_fd: int, participant: str, session: str | None) -> list[str]:
    """The participant's own paths below the output folder (relative, sorted)."""
    scope: list[str] = []
    for sroot in SCOPE_ROOTS:
        names = list_children(root_fd, sroot)
        for name in owned_children(names, participant, session):
            scope.append(f"{sroot}/{name}" if sroot else name)
    sub = session_subdir(participant, session)
    if sub and f"sub-{participant}" in list_children(root_fd, ""):
        parts = sub.split("/")
        if parts[1] in list_children(root_fd, parts[0]):
            scope.append(sub)
    return sorted(scope)


def _protected_relpaths(paths: Iterable[Path], root: Path) -> set[str]:
    """Relative forms of the caller's protected paths that lie in the tree (others are safe)."""
    out = set()
    for p in paths:
        p = Path(p)
        parent = p.parent.resolve() if p.parent.exists() else p.parent.absolute()
        full = parent / p.name
        if is_within(full, root) and full != root:
            out.add(relpath_posix(full, root))
    return out


def _resolve_rules(
    rules: Mapping[str, Sequence[str]] | None, pipeline: str | None, pipeline_dir: Path
) -> tuple[Mapping[str, Sequence[str]], str]:
    if rules:
        return rules, "adapter"
    name = pipeline or pipeline_dir.name
    found = default_rules(name)
    if found:
        return found, f"default:{name.split('-', 1)[0] if not pipeline else pipeline}"
    return {}, "none"


def _base_summary(mode: str, rules_source: str, classifier: Classifier | None) -> dict[str, Any]:
    return {
        "mode": mode,
        "status": "skipped",
        "reason": None,
        "manifest": None,
        "files_before": None,
        "bytes_before": None,
        "files_to_delete": None,
        "bytes_to_delete": None,
        "files_protected": None,
        "files_removed": 0,
        "bytes_removed": 0,
        "files_after": None,
        "bytes_after": None,
        "dirs_removed": 0,
        "work_dir": None,
        "work_dir_files": None,
        "work_dir_bytes": None,
        "work_dir_removed": False,
        "work_dir_reason": None,
        "rules_source": rules_source,
        "rules": classifier.describe() if classifier else {},
        "errors": [],
        "duration_s": None,
    }


def _manifest_rows(plan: list[Planned], work: dict[str, Any] | None):
    for p in plan:
        e = p.entry
        yield (e.relpath, e.kind, e.size, p.decision.action, p.decision.rule)
    if work is not None:
        action = work["action"]
        yield (work["path"], "dir", work["bytes"], action, work["rule"])


def run_cleanup(
    job,
    rules: Mapping[str, Sequence[str]] | None = None,
    mode: str = "dry-run",
    user_keep: Sequence[str] = (),
    user_delete: Sequence[str] = (),
    status: str = "success",
    protected: Iterable[Path] = (),
    *,
    pipeline: str | None = None,
    work_dir_owned: bool | None = None,
) -> dict[str, Any]:
    """Clean one participant's outputs after its run; returns the footprint's ``cleanup`` dict.

    ``rules`` are the adapter's ``cleanup_rules``; when empty, the defaults for ``pipeline``
    (or the output folder's name) from ``rules.py`` apply. ``work_dir_owned`` says the caller
    made ``job.work_dir`` for this job alone; left None, the work dir goes only when its name
    names the participant (and session).
    """
    if mode not in MODES:
        raise UsageError(f"--cleanup must be one of {', '.join(MODES)}, not {mode!r}")
    t0 = time.perf_counter()
    rules_used, source = _resolve_rules(rules, pipeline, Path(job.pipeline_dir))
    if mode == "off":
        summary = _base_summary(mode, source, None)
        summary["reason"] = "cleanup is off (--cleanup off)"
        return summary
    check_label(job.participant, "participant")
    check_label(job.session, "session")
    manifest_path = Path(job.subject_dir) / f"{job.entity_prefix}_cleanup.tsv"
    classifier = Classifier(
        rules_used,
        user_keep=tuple(user_keep),
        user_delete=tuple(user_delete),
        protected_paths=(),
    )
    summary = _base_summary(mode, source, classifier)
    if status != "success":
        summary["reason"] = (
            f"run status is {status!r}; a failed or interrupted run is never cleaned"
        )
        return summary
    root = Path(job.pipeline_dir)
    if root.is_symlink() or not root.is_dir():
        summary["reason"] = f"output folder {root} is missing or is a symbolic link"
        return summary
    root = root.resolve()
    subject_dir = Path(job.subject_dir)
    if subject_dir.is_symlink() or (
        subject_dir.exists() and not is_within(subject_dir.resolve(), root)
    ):
        summary["reason"] = f"participant folder {subject_dir} is a link; nothing is cleaned"
        return summary
    prot = _protected_relpaths([*protected, manifest_path], root)
    classifier.protected_paths = frozenset(prot)

    root_fd = open_root(root)
    try:
        scope = participant_scope(root_fd, job.participant, job.session)
        walked = walk_paths(root_fd, scope)
        plan = make_plan(walked.entries, classifier)
        t = totals(plan)
        summary.update(t)
        summary["errors"].extend(walked.errors)
        work = _work_dir_plan(job, root, mode, work_dir_owned, summary)

        subject_dir.mkdir(parents=True, exist_ok=True)
        summary["manifest"] = str(write_manifest(manifest_path, _manifest_rows(plan, work)))

        if mode == "delete":
            _apply_delete(root_fd, root, plan, subject_dir, summary)
            summary["status"] = "done"
            if work is not None and work["action"] == DELETE:
                wres = workdir.remove(Path(job.work_dir), work["walked"])
                summary["work_dir_removed"] = not Path(job.work_dir).exists()
                summary["errors"].extend(wres.errors)
        else:
            summary["status"] = "dry-run"
    finally:
        os.close(root_fd)
    summary["files_after"] = summary["files_before"] - summary["files_removed"]
    summary["bytes_after"] = summary["bytes_before"] - summary["bytes_removed"]
    errors = summary["errors"]
    if len(errors) > MAX_ERRORS_REPORTED:
        summary["errors"] = errors[:MAX_ERRORS_REPORTED] + [f"... {len(errors)} errors in all"]
    summary["duration_s"] = round(time.perf_counter() - t0, 3)
    return summary


def _apply_delete(
    root_fd: int, root: Path, plan: list[Planned], subject_dir: Path, summary: dict
) -> None:
    """Unlink what the plan deletes, then the folders that leaves empty (scope roots stay)."""
    entries = sorted((p.entry for p in plan if p.decision.action == DELETE), key=lambda e: e.inode)
    doomed = [(e.relpath, e.size) for e in entries]
    removed = delete_files(root_fd, doomed)
    stops = set(SCOPE_ROOTS) | {relpath_posix(subject_dir, root)}
    prune_empty_dirs(root_fd, emptied_dirs([rp for rp, _ in doomed], stops), removed)
    summary["files_removed"] = removed.files_removed
    summary["bytes_removed"] = removed.bytes_removed
    summary["dirs_removed"] = removed.dirs_removed
    summary["errors"].extend(removed.errors)


def _work_dir_plan(job, root: Path, mode: str, owned: bool | None, summary: dict) -> dict | None:
    """Decide the work dir; fills the summary's work_dir fields, returns its manifest row."""
    wd = getattr(job, "work_dir", None)
    if not wd:
        return None
    wd = Path(wd)
    summary["work_dir"] = str(wd)
    keep_dirs = (
        [root, Path(job.output_root).resolve()] if getattr(job, "output_root", None) else [root]
    )
    why = workdir.refusal(
        wd, keep_dirs, getattr(job, "bids_dir", None), job.participant, job.session, owned
    )
    if why is not None:
        summary["work_dir_reason"] = why
        if not wd.is_dir() or wd.is_symlink():
            return None
        return {
            "path": f"{wd.absolute()}/",
            "bytes": 0,
            "action": "keep",
            "rule": "work-dir:kept",
            "walked": None,
        }
    walked = workdir.measure(wd)
    summary["work_dir_files"] = len(walked.entries)
    summary["work_dir_bytes"] = sum(e.size for e in walked.entries)
    summary["errors"].extend(walked.errors)
    rule = "work-dir:removed-after-success"
    if mode != "delete":
        summary["work_dir_reason"] = "dry run"
    return {
        "path": f"{wd.resolve()}/",
        "bytes": summary["work_dir_bytes"],
        "action": DELETE,
        "rule": rule,
        "walked": walked,
    }
