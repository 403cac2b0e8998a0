"""Phase markers from inside a measured job: ``with phase("registration"): ...``.

Minimal stand-in for the phase protocol (issue 14, item 1): appends ``<unix time> begin NAME``
and ``<unix time> end NAME`` lines to the file named by ``BIDS_ENERGY_PHASE_FILE``; a no-op
when the variable is unset, so code can keep its markers outside a measured run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

ENV_VAR = "BIDS_ENERGY_PHASE_FILE"


def _mark(word: str, name: str) -> None:
    path = os.environ.get(ENV_VAR)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.time():.3f} {word} {name}\n")


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Mark the block as phase ``name`` (begin line before, end line after, also on error)."""
    _mark("begin", name)
    try:
        yield
    finally:
        _mark("end", name)
