"""Mark phases of a measured job from Python: ``with bids_energy.phase("registration"):``.

Energy by step sees programs; it is blind inside one process (a Python pipeline's stages, a
training loop's epochs). The job marks its phases by appending lines to the file named by
``BIDS_ENERGY_PHASE_FILE`` (set by bids-energy for every measured job); the sampler reads that
file while it samples and shares each interval's energy among the phases active in it. The
protocol (what a line may say) is parsed in ``bids_energy.meters.phaselog``; this module only
writes it, so any language can do the same (``echo "begin NAME" >> "$BIDS_ENERGY_PHASE_FILE"``).

Outside a measured run the variable is unset and ``phase`` does nothing, so code can keep it.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

#: The environment variable naming the phase file (the one home of this name).
PHASE_FILE_ENV = "BIDS_ENERGY_PHASE_FILE"

#: Phase names are one token without spaces (the line format splits on whitespace).
_SPACE = re.compile(r"\s+")


def clean_name(name: str) -> str:
    """A phase name as one token: inner whitespace becomes '-', so it survives the line format."""
    cleaned = _SPACE.sub("-", str(name).strip())
    if not cleaned:
        raise ValueError("a phase needs a non-empty name")
    return cleaned


def mark(event: str, name: str | None = None, *, env: Mapping[str, str] | None = None,
         now: float | None = None) -> bool:
    """Append one ``<unix time> begin|end [NAME]`` line to the phase file; False where unset.

    One ``write`` on a file opened for appending: POSIX appends of a short line land whole
    even with several writers, so concurrent processes cannot interleave inside a line.
    """
    env = os.environ if env is None else env
    path = env.get(PHASE_FILE_ENV)
    if not path:
        return False
    if event not in ("begin", "end"):
        raise ValueError(f"phase event must be 'begin' or 'end', not {event!r}")
    stamp = time.time() if now is None else now
    line = f"{stamp:.6f} {event}" + (f" {clean_name(name)}" if name is not None else "") + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as exc:  # a marker must never take the job down: the phase is lost, said once
        warnings.warn(f"bids-energy: cannot write phase marker to {path}: {exc.strerror}",
                      RuntimeWarning, stacklevel=3)
        return False
    return True


@contextmanager
def phase(name: str) -> Iterator[str]:
    """Mark the block as phase ``name`` of the measured job (a no-op outside one).

    Phases do not nest: entering a phase ends the one that was current, and leaving it
    returns to no phase (not to the enclosing one).
    """
    cleaned = clean_name(name)
    mark("begin", cleaned)
    try:
        yield cleaned
    finally:
        mark("end", cleaned)
