"""The phase protocol: parse the lines a job appends to ``$BIDS_ENERGY_PHASE_FILE`` (pure).

A line is ``[UNIX_TIME] begin NAME`` or ``[UNIX_TIME] end [NAME]``. ``begin`` starts NAME and
ends whatever phase was current (phases do not nest; with several writers the last ``begin``
wins); ``end`` ends the current phase, ``end NAME`` only if NAME is the current one (so a
writer closing a phase another writer already replaced does not end the newer one). Without a
leading time, the moment the sampler reads the line counts. Anything else is counted as
unparseable and reported in a warning, never fatal: a typo in a job's marker must not cost
the measurement. The writer side (Python) is ``bids_energy.phases``; shell users
``echo "begin NAME" >> "$BIDS_ENERGY_PHASE_FILE"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

NO_PHASE = "(no phase)"  # the row for time outside any phase, so shares sum to the whole
_MAX_NAME = 200


@dataclass(frozen=True)
class PhaseEvent:
    kind: str  # "begin" or "end"
    name: str | None  # None only for a bare "end"
    unix_s: float | None  # None: the time the sampler read the line counts


def parse_line(line: str) -> PhaseEvent | None:
    """One protocol line -> event; None for a line that is not one (blank lines included)."""
    parts = line.split()
    if not parts:
        return None
    unix_s = None
    try:
        unix_s = float(parts[0])
    except ValueError:
        pass
    else:
        if not math.isfinite(unix_s) or unix_s < 0:
            return None
        parts = parts[1:]
    if not parts:
        return None
    kind = parts[0].lower()
    if kind == "begin" and len(parts) == 2 and len(parts[1]) <= _MAX_NAME:
        name = parts[1]
        return None if name == NO_PHASE else PhaseEvent("begin", name, unix_s)
    if kind == "end" and len(parts) <= 2:
        return PhaseEvent("end", parts[1] if len(parts) == 2 else None, unix_s)
    return None


def parse_lines(lines: Iterable[str]) -> tuple[list[PhaseEvent], list[str]]:
    """Events in file order, and the lines that could not be parsed (blank lines ignored)."""
    events: list[PhaseEvent] = []
    bad: list[str] = []
    for line in lines:
        ev = parse_line(line)
        if ev is not None:
            events.append(ev)
        elif line.strip():
            bad.append(line.strip())
    return events, bad


def split_complete(buffer: str) -> tuple[list[str], str]:
    """Complete lines of ``buffer`` and the unfinished tail (a writer may be mid-line)."""
    *lines, tail = buffer.split("\n")
    return lines, tail
