"""BIDS participant and session labels: the one place that adds or strips ``sub-``/``ses-``.

Pure string functions (no pybids), so the CLI, cleanup, Slurm and the group level can all
agree on what ``sub-01_ses-2`` means without importing the dataset layer.
"""

from __future__ import annotations

import re

from bids_energy.errors import UsageError

LABEL_RE = re.compile(r"^[A-Za-z0-9]+$")


def strip_entity(value: str, entity: str = "sub") -> str:
    """``sub-01`` -> ``01``; a bare label is returned as given (stripped of spaces)."""
    v = value.strip()
    prefix = f"{entity}-"
    return v[len(prefix):] if v.startswith(prefix) else v


def normalize_label(value: str, entity: str = "sub") -> str:
    """``sub-01`` or ``01`` -> ``01``; anything but letters and digits is refused (no ``../``)."""
    v = strip_entity(value, entity)
    if not LABEL_RE.match(v):
        raise UsageError(f"invalid {entity} label {value!r}: BIDS labels are letters and digits only")
    return v


def entity_prefix(participant: str, session: str | None) -> str:
    """``sub-01_ses-2`` (file-name prefix), ``sub-01`` without a session."""
    return f"sub-{participant}_ses-{session}" if session else f"sub-{participant}"


def session_subdir(participant: str, session: str | None) -> str | None:
    """``sub-01/ses-2``: the session folder inside the subject folder, None without a session."""
    return f"sub-{participant}/ses-{session}" if session else None


def describe(participant: str, session: str | None) -> str:
    """``sub-01 ses-2``: how messages and report titles name a participant's run."""
    return f"sub-{participant}" + (f" ses-{session}" if session else "")


def desc_label(variants: list[str]) -> str:
    """A ``desc-`` entity value for named variants: ``["res-1", "sloppy"]`` -> ``Res1Sloppy``
    (title-cased, letters and digits only); the participant level and ``measure()`` both
    name footprints of a variant this way."""
    return re.sub(r"[^A-Za-z0-9]+", "", "".join(v.title() for v in variants))
