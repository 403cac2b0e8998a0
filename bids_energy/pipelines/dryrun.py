"""What ``--dry-run`` can plan without the wrapped pipeline or a FreeSurfer license.

On a login node the pipeline usually lives only in the container image, and the license is
mounted into the job, not present where the plan is checked. A real run refuses both cases
(exit 66 without the executable, 126 without a license) before anything runs; a dry run
instead prints every participant's command and says, once, what it could not check here.
What the plan itself gets wrong (unknown or conflicting variants, a variant the version
refuses, bad labels) is still an error with its usual exit code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bids_energy.errors import LicenseError
from bids_energy.pipelines.base import Pipeline


@dataclass(frozen=True)
class KnownVersion:
    """The newest release of a pipeline we know of, and where that was read."""

    version: str
    source: str


# Version-gated variants (fMRIPrep's aroma, syn-sdc, --session-label) are checked against
# these when the executable is not here to ask. Update when a newer release is checked.
NEWEST_KNOWN: Mapping[str, KnownVersion] = {
    "fmriprep": KnownVersion(
        "25.2.7", "PyPI release history of fmriprep, read 2026-11-29"),
    "fastsurfer": KnownVersion(
        "2.6.1", "Deep-MI/FastSurfer GitHub releases, v2.6.1 marked Latest, read 2026-11-29"),
    "freesurfer": KnownVersion(
        "8.2", "FastSurfer 2.6.0 release notes, which build on FreeSurfer 8.2 binaries; its "
        "patch release was not checked"),
}


@dataclass
class DryRunPlan:
    """What a dry run resolved, and what it could not check (one sentence per item)."""

    executable: str | None
    version: str | None
    variants: list[str]
    license_file: Path | None
    notes: list[str] = field(default_factory=list)


def plan_executable(pipeline: Pipeline, pipeline_bin: str | None) -> tuple[str | None, str | None, list[str]]:
    """(executable for the printed command, version the variants are checked against, notes).

    Found here: its own ``--version``, as for a real run. Not found: the name the command
    will call (``--pipeline-bin`` as given, else the adapter's usual name) and the newest
    version we know of, said on stderr so nobody mistakes it for a check of their image."""
    executable = pipeline.find_executable(pipeline_bin)
    if executable is not None:
        return executable, pipeline.version(executable), []
    if pipeline.name == "command" or not pipeline.executable_names:
        return None, None, []
    where = f"--pipeline-bin {pipeline_bin}" if pipeline_bin else (
        f"{' or '.join(pipeline.executable_names)} not found on PATH")
    if pipeline_bin:
        where += " not found here"
    known = NEWEST_KNOWN.get(pipeline.name)
    if known is None:
        return pipeline_bin, None, [f"{where}: its version is unknown, so version-dependent "
                                    "variants were not checked"]
    return pipeline_bin, known.version, [
        f"{where}: version-dependent flags checked against the newest known version "
        f"{pipeline.name} {known.version} ({known.source}); give --pipeline-bin to check "
        "against the one that will run"
    ]


def plan_license(
    pipeline: Pipeline, variants: Sequence[str], flag_value: str | os.PathLike | None,
    env: Mapping[str, str],
) -> tuple[Path | None, list[str]]:
    """(license for the printed command, notes). Where a real run would exit 126, say so."""
    from bids_energy.pipelines.license import LICENSE_HELP, resolve_license

    if not pipeline.needs_license_for(variants):
        return None, []
    try:
        found = resolve_license(flag_value, env)
    except LicenseError:  # the flag names a file that is not here (it may be in the job's)
        return Path(flag_value).absolute(), [
            f"--fs-license-file {flag_value}: no such file here: the real run would exit 126 "
            "unless it exists where the job runs"
        ]
    if found is None:
        return None, [f"no FreeSurfer license: the real run would exit 126; {LICENSE_HELP}"]
    return found, []


def plan_dry_run(
    pipeline: Pipeline, pipeline_bin: str | None, variant_names: Sequence[str],
    license_flag: str | os.PathLike | None, env: Mapping[str, str],
) -> DryRunPlan:
    """Resolve a dry run's settings like a real run, except that a missing executable or
    license becomes a note instead of an error. Variant errors still raise (exit 64)."""
    executable, version, notes = plan_executable(pipeline, pipeline_bin)
    variants = pipeline.resolve_variants(variant_names, version)
    license_file, license_notes = plan_license(pipeline, variants, license_flag, env)
    return DryRunPlan(executable, version, variants, license_file, notes + license_notes)
