"""The interface every wrapped pipeline implements, and the job description it receives.

A pipeline adapter is pure description: how to find its executable and version, which
inputs a participant needs, the exact argv for a job, where outputs go, its variants, its
junk rules and its program-to-step map. Running and measuring are done elsewhere, the same
way for every pipeline, so a new adapter cannot get measurement wrong.
"""

from __future__ import annotations

import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bids_energy.errors import UsageError  # noqa: F401  (re-exported for adapters)


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
    # Added for issue 3 (all defaulted, so older tables keep working):
    append_options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()  # names (or "prefix-N" patterns) it cannot run with
    parametric: bool = False  # name is "<prefix>-N"; "{n}" in option values is filled in
    needs_license: bool | None = None  # None: the pipeline's default
    version_warnings: tuple[tuple[str | None, str | None, str], ...] = ()  # (min, max, text)
    refused_note: str = ""  # why it is refused outside [min_version, max_version)


@dataclass
class Job:
    """Everything one participant run needs; built by the CLI, read by adapters."""

    bids_dir: Path
    output_root: Path  # the user's output_dir
    pipeline_dir: Path  # <output_root>/<pipeline>[-<variants>] (a derivatives dataset)
    work_dir: Path
    participant: str  # label without "sub-"
    session: str | None
    variants: list[str]
    nthreads: int | None = None
    mem_gb: float | None = None
    extra_args: list[str] = field(default_factory=list)
    executable: str | None = None
    version: str | None = None
    license_file: Path | None = None
    inputs: dict = field(default_factory=dict)  # filled by Pipeline.inputs()
    options: dict = field(default_factory=dict)  # pipeline-specific CLI options (e.g. command template)
    warnings: list[str] = field(default_factory=list)  # adapters append; copied into the footprint

    @property
    def subject_dir(self) -> Path:
        """Where this participant's own outputs (and footprint) live inside pipeline_dir."""
        d = self.pipeline_dir / f"sub-{self.participant}"
        return d / f"ses-{self.session}" if self.session else d

    @property
    def entity_prefix(self) -> str:
        s = f"sub-{self.participant}"
        return f"{s}_ses-{self.session}" if self.session else s


class Pipeline(ABC):
    """Base adapter. Subclasses set the class attributes and override what differs."""

    name: str = ""
    description: str = ""
    executable_names: tuple[str, ...] = ()
    variants: Mapping[str, Variant] = {}
    default_variants: tuple[str, ...] = ("baseline",)
    needs_license: bool = False
    # issue 4 (cleanup) and issue 9 (steps) read these; data, not code paths
    cleanup_rules: Mapping[str, Sequence[str]] = {}
    step_map: Sequence[tuple[str, str]] = ()  # (program glob, step name)

    # --- discovery -------------------------------------------------------------------
    def find_executable(self, override: str | None = None) -> str | None:
        if override:
            p = Path(override)
            # absolute: the command runs with the work folder as its current directory
            return str(p.resolve()) if p.exists() else shutil.which(override)
        for exe in self.executable_names:
            found = shutil.which(exe)
            if found:
                return found
        return None

    def version(self, executable: str) -> str | None:
        """Ask the executable for its version (``--version``); None when it will not say."""
        try:
            out = subprocess.run(
                [executable, "--version"], capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return self.parse_version(out.stdout + "\n" + out.stderr)

    def parse_version(self, text: str) -> str | None:
        """The version number in the tool's ``--version`` output (adapters may override)."""
        return parse_version_text(text)

    # --- per job ----------------------------------------------------------------------
    def resolve_variants(self, names: Sequence[str], version: str | None = None) -> list[str]:
        """Validate and order variant names; unknown, conflicting or version-excluded
        ones are usage errors (exit 64). Rules live in ``variants.py`` as data checks."""
        from bids_energy.pipelines.variants import resolve_variant_names

        return resolve_variant_names(self, names, version)

    def get_variant(self, name: str) -> Variant | None:
        """The variant called ``name``, parametric ones (``threads-8``) filled in."""
        from bids_energy.pipelines.variants import lookup_variant

        return lookup_variant(self.variants, name)

    def needs_license_for(self, variants: Sequence[str]) -> bool:
        """Whether these variants need a FreeSurfer license (e.g. FastSurfer seg-only does not)."""
        needed = self.needs_license
        for n in variants:
            v = self.get_variant(n)
            if v is not None and v.needs_license is not None:
                needed = v.needs_license
        return needed

    def inputs(self, job: Job, layout) -> dict:
        """Find what this participant needs (raise ParticipantSkipped when it lacks it)."""
        return {}

    @abstractmethod
    def build_command(self, job: Job) -> list[str]:
        """The exact argv of one participant's run (every adapter defines its own)."""

    def environment(self, job: Job) -> dict[str, str]:
        """Extra environment variables for the run (merged over os.environ)."""
        return {}

    def device(self, variants: Sequence[str]) -> str:
        for v in variants:
            d = self.get_variant(v)
            if d is not None and d.device:
                return d.device
        return "cpu"

    def pipeline_dir_name(self, variants: Sequence[str]) -> str:
        vs = [v for v in variants if v not in ("baseline", "default")]
        return self.name if not vs else f"{self.name}-{'+'.join(vs)}"

    def writes_dataset_description(self) -> bool:
        """True when the wrapped tool writes its own dataset_description.json."""
        return False


def parse_version_text(text: str) -> str | None:
    """Pull the first dotted version number out of a tool's --version output."""
    import re

    m = re.search(r"(\d+\.\d+(?:\.\d+)?(?:[\w.+-]*)?)", text or "")
    return m.group(1) if m else None


def version_tuple(v: str | None) -> tuple[int, ...]:
    import re

    if not v:
        return ()
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])



# --- helpers shared by the FreeSurfer-family adapters (issue 3) -------------------------------
def select_t1w(
    layout, participant: str, session: str | None, all_runs: bool = False
) -> tuple[list[Path], list[str]]:
    """Pick the participant's T1w image(s) with pybids; return (files, warnings).

    Rule (docs/pipelines.md): with ``session`` given, that session only; without it, the
    first session in sorted order (others are named in a warning). Within it, the first run
    in run order, or every run when ``all_runs`` (recon-all averages several T1w inputs).
    No T1w at all: ParticipantSkipped.
    """
    from bids_energy.errors import ParticipantSkipped

    query = dict(subject=participant, suffix="T1w", extension=[".nii", ".nii.gz"])
    if session:
        query["session"] = session
    files = layout.get(return_type="object", **query)
    if not files:
        where = f"sub-{participant}" + (f" ses-{session}" if session else "")
        raise ParticipantSkipped(f"{where} has no T1w image (anat/*_T1w.nii[.gz])")
    warnings: list[str] = []
    sessions = sorted({str(f.entities.get("session")) for f in files if f.entities.get("session")})
    if not session and len(sessions) > 1:
        chosen = sessions[0]
        files = [f for f in files if str(f.entities.get("session")) == chosen]
        warnings.append(
            f"sub-{participant} has sessions {', '.join(sessions)}; using ses-{chosen} "
            "(pass --session-label to choose another)"
        )

    def run_key(f) -> tuple:
        run = f.entities.get("run")
        return (int(run) if run is not None else -1, f.path)

    files = sorted(files, key=run_key)
    if len(files) > 1 and not all_runs:
        warnings.append(
            f"sub-{participant} has {len(files)} T1w images; using {Path(files[0].path).name}"
        )
        files = files[:1]
    return [Path(f.path) for f in files], warnings


def find_existing_subject(
    preferred_dir: Path, output_root: Path, pipeline_name: str, subject_id: str, marker: str
) -> Path | None:
    """Subjects dir holding ``<subject_id>/<marker>`` for a run that continues earlier work.

    Stage variants (FastSurfer surf-only, recon-all -autorecon2/3) continue a subject in
    place; the earlier stage may live in a sibling folder (``fastsurfer-seg-only``), so the
    job's own folder is tried first, then ``<output_root>/<pipeline>*`` newest first.
    """
    if (preferred_dir / subject_id / marker).exists():
        return preferred_dir
    siblings = [
        d
        for d in output_root.glob(f"{pipeline_name}*")
        if d.is_dir() and d != preferred_dir and (d / subject_id / marker).exists()
    ]
    if not siblings:
        return None
    return max(siblings, key=lambda d: (d / subject_id / marker).stat().st_mtime)
