"""One variant row and the names every module agrees on; imported by base and variants.

Kept apart from ``base`` (the adapter interface) and ``variants`` (the rules that read these
rows) so neither imports the other's module for it: base -> variants -> variant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Variant names that mean "the pipeline's own defaults": they change no flag, add no
# suffix to the output folder, and count as the baseline a variant is compared against.
NEUTRAL = ("baseline", "default")
BASELINE = NEUTRAL[0]

# One option of a command line: ("--nthreads", ("5",)); a switch has no values.
Option = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class Variant:
    """A named set of flag changes applied on top of a pipeline's baseline command.

    ``set_options`` replaces (or adds) an option with its values, ``add_flags`` adds
    switches, ``remove_options`` drops options from the baseline. ``group`` names a set of
    mutually exclusive variants (two variants with the same non-empty group conflict).
    ``min_version``/``max_version`` bound the pipeline versions it applies to
    (inclusive min, exclusive max, as "MAJOR.MINOR" strings); ``device`` is "cpu"/"gpu"
    when the variant decides where the work runs.
    """

    name: str
    description: str
    set_options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    add_flags: tuple[str, ...] = ()
    remove_options: tuple[str, ...] = ()
    group: str = ""
    min_version: str | None = None
    max_version: str | None = None
    device: str | None = None
    # All defaulted, so older tables keep working:
    append_options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()  # names (or "prefix-N" patterns) it cannot run with
    parametric: bool = False  # name is "<prefix>-N"; "{n}" in option values is filled in
    needs_license: bool | None = None  # None: the pipeline's default
    version_warnings: tuple[tuple[str | None, str | None, str], ...] = ()  # (min, max, text)
    refused_note: str = ""  # why it is refused outside [min_version, max_version)


def version_tuple(v: str | None) -> tuple[int, ...]:
    if not v:
        return ()
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])
