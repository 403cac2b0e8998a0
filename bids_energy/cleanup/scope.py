"""Which paths belong to one participant: the only paths a participant's cleanup may touch.

Pure logic on names, so array tasks writing into one output folder can be shown never to
reach each other's files: ``sub-01`` owns ``sub-01/``, ``sub-01.html``, ``sub-01_*`` and
``sourcedata/freesurfer/sub-01*``, never ``sub-010`` nor dataset-level files. With a session
it owns only ``sub-01/ses-A/`` and names starting ``sub-01_ses-A``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from bids_energy.errors import UsageError
from bids_energy.labels import entity_prefix

# Folders (relative to the pipeline's output folder) whose children are per-participant.
SCOPE_ROOTS: tuple[str, ...] = ("", "sourcedata/freesurfer")

_LABEL = re.compile(r"[A-Za-z0-9]+")


def check_label(label: str | None, what: str) -> None:
    """BIDS labels are alphanumeric; anything else could smuggle a path or a wildcard."""
    if label is not None and not _LABEL.fullmatch(label):
        raise UsageError(f"{what} label {label!r} is not alphanumeric; cleanup refuses it")


def owns_name(name: str, participant: str, session: str | None) -> bool:
    """True when a direct child of a scope root named ``name`` is this participant's own."""
    prefix = entity_prefix(participant, session)
    if name == prefix:
        return True
    return name.startswith(prefix) and name[len(prefix)] in "._"


def owned_children(names: list[str], participant: str, session: str | None) -> list[str]:
    """Select the participant's entries among a scope root's children (sorted)."""
    return sorted(n for n in names if owns_name(n, participant, session))


def is_within(path: Path, root: Path) -> bool:
    """Both real (resolved) paths: ``path`` is ``root`` or below it."""
    return path == root or root in path.parents


def is_same_or_ancestor(path: Path, other: Path) -> bool:
    """True when deleting ``path`` would delete ``other`` (both resolved)."""
    return path == other or path in other.parents


def names_participant(name: str, participant: str, session: str | None) -> bool:
    """A folder name that mentions ``sub-<label>`` (and ``ses-<label>``) as whole entities."""

    def has(token: str) -> bool:
        return re.search(rf"(?<![A-Za-z0-9]){re.escape(token)}(?![A-Za-z0-9])", name) is not None

    return has(f"sub-{participant}") and (session is None or has(f"ses-{session}"))


def relpath_posix(path: Path, root: Path) -> str:
    return PurePosixPath(*path.relative_to(root).parts).as_posix()
