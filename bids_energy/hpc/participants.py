"""Which participants an array job covers: one Slurm array task per participant.

Read from ``participants.tsv`` when the dataset has one (the list the researcher curated),
else from the ``sub-*`` folders. Plain file reading, no pybids: the submit node only needs
the labels, and indexing a large dataset there would waste minutes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from bids_energy.errors import InputMissingError, NothingSelectedError
from bids_energy.labels import strip_entity


def strip_sub(label: str) -> str:
    """Labels may be given with or without ``sub-`` (BIDS-App convention)."""
    return strip_entity(label, "sub")


def labels_from_tsv(text: str) -> list[str]:
    """Participant labels from the text of a ``participants.tsv`` (column ``participant_id``)."""
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if "participant_id" not in header:
        return []
    col = header.index("participant_id")
    labels = [strip_sub(r[col]) for r in rows[1:] if len(r) > col and r[col].strip()]
    return list(dict.fromkeys(labels))


def labels_from_folders(names: Iterable[str]) -> list[str]:
    """Participant labels from directory names such as ``sub-01``."""
    return sorted({strip_sub(n) for n in names if n.startswith("sub-") and len(n) > 4})


def select(available: list[str], wanted: Iterable[str] | None) -> list[str]:
    """Keep ``available`` order; with ``wanted``, keep only those (all must exist)."""
    if not wanted:
        return list(available)
    wanted_l = [strip_sub(w) for w in wanted]
    unknown = [w for w in wanted_l if w not in available]
    if unknown:
        raise NothingSelectedError(
            f"participant label(s) not in the dataset: {', '.join(unknown)}"
        )
    return [a for a in available if a in set(wanted_l)]


def discover_participants(bids_dir: str | Path, wanted: Iterable[str] | None = None) -> list[str]:
    """Participant labels (without ``sub-``) of a BIDS dataset, optionally filtered.

    ``participants.tsv`` wins when it lists participants whose folders exist; folders not
    listed there are ignored (the researcher excluded them), listed ones without a folder
    are dropped (nothing to run on).
    """
    root = Path(bids_dir)
    if not root.is_dir():
        raise InputMissingError(f"BIDS directory not found: {root}")
    folders = labels_from_folders(p.name for p in root.iterdir() if p.is_dir())
    tsv = root / "participants.tsv"
    listed = labels_from_tsv(tsv.read_text()) if tsv.is_file() else []
    available = [lab for lab in listed if lab in set(folders)] if listed else folders
    chosen = select(available, wanted)
    if not chosen:
        raise NothingSelectedError(f"no participants found in {root}")
    return chosen
