"""FreeSurfer license lookup, in the order fMRIPrep uses, so users meet no surprise.

fMRIPrep looks at ``--fs-license-file``, then ``$FS_LICENSE``, then
``$FREESURFER_HOME/license.txt``. We do the same before anything runs, so a missing license
is one clear line and exit 126 instead of a failure hours into a run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bids_energy.errors import LicenseError

LICENSE_HELP = (
    "a FreeSurfer license is required: pass --fs-license-file PATH, or set $FS_LICENSE, "
    "or put license.txt in $FREESURFER_HOME (free at "
    "https://surfer.nmr.mgh.harvard.edu/registration.html)"
)


def license_candidates(flag_value: str | os.PathLike | None, env: Mapping[str, str]) -> list[Path]:
    """Where to look, in order; pure so the order itself is testable."""
    out: list[Path] = []
    if flag_value:
        out.append(Path(flag_value))
    if env.get("FS_LICENSE"):
        out.append(Path(env["FS_LICENSE"]))
    if env.get("FREESURFER_HOME"):
        out.append(Path(env["FREESURFER_HOME"]) / "license.txt")
    return out


def resolve_license(
    flag_value: str | os.PathLike | None, env: Mapping[str, str] | None = None
) -> Path | None:
    """The first existing license file (absolute), or None.

    A flag pointing at a missing file is an error of its own rather than a silent fall
    back to ``$FS_LICENSE``: the user named a file and should learn it is not there.
    """
    env = os.environ if env is None else env
    if flag_value and not Path(flag_value).is_file():
        raise LicenseError(f"--fs-license-file {flag_value}: no such file; {LICENSE_HELP}")
    for cand in license_candidates(flag_value, env):
        if cand.is_file():
            return cand.resolve()
    return None


def require_license(
    flag_value: str | os.PathLike | None, env: Mapping[str, str] | None = None
) -> Path:
    """Like ``resolve_license`` but raises LicenseError (exit 126) when none is found."""
    found = resolve_license(flag_value, env)
    if found is None:
        raise LicenseError(LICENSE_HELP)
    return found
