"""Turn walked entries into decisions: pure, so the whole policy is testable without files.

Beyond the rule precedence in ``patterns.Classifier`` one safety pass runs here: a kept link
whose target (inside the tree) a rule would delete keeps its target too, so keeping
``lh.pial`` (a link to ``lh.pial.T1`` in FreeSurfer 7) can never leave a dangling link.
"""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from bids_energy.cleanup.patterns import DELETE, KEEP, Classifier, Decision
from bids_energy.cleanup.walk import OTHER, SYMLINK, Entry


@dataclass(frozen=True)
class Planned:
    entry: Entry
    decision: Decision


def link_target_relpath(link_relpath: str, target: str) -> str | None:
    """Where a relative link points, as a relpath of the same root; None if outside/absolute."""
    if not target or target.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(link_relpath), target))
    if joined == ".." or joined.startswith("../") or joined == ".":
        return None
    return joined


def _promote_link_targets(plan: list[Planned]) -> None:
    """Keep whatever a kept link points at (in place); repeats for chains of links."""
    paths = [p.entry.relpath for p in plan]  # sorted by construction
    changed = True
    while changed:
        changed = False
        for p in plan:
            if p.entry.kind != SYMLINK or p.decision.action == DELETE:
                continue
            target = link_target_relpath(p.entry.relpath, p.entry.link_target or "")
            if target is None:
                continue
            lo = bisect.bisect_left(paths, target)
            hi = bisect.bisect_left(paths, target + "0")  # "0" sorts right after "/"
            for k in range(lo, hi):
                q = plan[k]
                under = q.entry.relpath == target or q.entry.relpath.startswith(target + "/")
                if under and q.decision.action == DELETE:
                    rule = f"kept:target-of-kept-link:{p.entry.relpath}"
                    plan[k] = Planned(q.entry, Decision(KEEP, rule))
                    changed = True


def make_plan(entries: Sequence[Entry], classifier: Classifier) -> list[Planned]:
    """Decide every entry; special files (fifos, sockets, devices) are always kept."""
    plan = []
    for e in sorted(entries, key=lambda x: x.relpath):
        if e.kind == OTHER:
            plan.append(Planned(e, Decision(KEEP, "kept:not-a-regular-file")))
        else:
            plan.append(Planned(e, classifier.classify(e.relpath)))
    _promote_link_targets(plan)
    return plan


def totals(plan: Sequence[Planned]) -> dict[str, int]:
    """Files and bytes before, and those the plan deletes."""
    files_before = len(plan)
    bytes_before = sum(p.entry.size for p in plan)
    doomed = [p for p in plan if p.decision.action == DELETE]
    return {
        "files_before": files_before,
        "bytes_before": bytes_before,
        "files_to_delete": len(doomed),
        "bytes_to_delete": sum(p.entry.size for p in doomed),
        "files_protected": sum(1 for p in plan if p.decision.action == "protected"),
    }
