"""The interface every wrapped pipeline implements, and the job description it receives.

A pipeline adapter is pure description: how to find its executable and version, which
inputs a participant needs, the exact argv for a job, where outputs go, its variants, its
junk rules and its program-to-step map. Running and measuring are done elsewhere, the same
way for every pipeline, so a new adapter cannot get measurement wrong.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bids_energy.errors import UsageError  # noqa: F401  (re-exported for adapters)
from bids_energy.labels import describe, entity_prefix, session_subdir
from bids_energy.pipelines import variants as vt
from bids_energy.pipelines.variant import (  # noqa: F401  (re-exported for adapters)
    NEUTRAL,
    Option,
    Variant,
    version_tuple,
)


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
        return self.pipeline_dir / (session_subdir(self.participant, self.session)
                                    or f"sub-{self.participant}")

    @property
    def entity_prefix(self) -> str:
        return entity_prefix(self.participant, self.session)


class Pipeline:
    """Base adapter. Subclasses set the class attributes and override what differs."""

    name: str = ""
    description: str = ""
    executable_names: tuple[str, ...] = ()
    variants: Mapping[str, Variant] = {}
    default_variants: tuple[str, ...] = ("baseline",)
    needs_license: bool = False
    # cleanup and the per-step accounting read these; data, not code paths
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
        return vt.resolve_variant_names(self, names, version)

    def get_variant(self, name: str) -> Variant | None:
        """The variant called ``name``, parametric ones (``threads-8``) filled in."""
        return vt.lookup_variant(self.variants, name)

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

    # --- the command: one template, small hooks ----------------------------------------
    # Adapters whose tool takes "--option value" arguments give their baseline options and
    # these data; the template applies the variants, folds in the user's extra arguments
    # with the same refusal rules for every pipeline, and renders the argv. An adapter
    # with a command of another shape (demo, command) overrides build_command itself.
    thread_option: str = ""  # the option that carries job.nthreads (warned if a variant sets it)
    option_aliases: Mapping[str, str] = {}  # other spellings of an option -> its name
    exclusive_options: Sequence[frozenset[str]] = ()  # options that cannot go together
    repeat_options: tuple[str, ...] = ()  # rendered once per value ("-i a -i b")

    def baseline_options(self, job: Job) -> list[Option]:
        """The options of the baseline command, before variants and extra arguments."""
        raise NotImplementedError(f"{type(self).__name__} defines no baseline_options")

    def positional_args(self, job: Job) -> list[str]:
        """Arguments between the executable and the options (BIDS Apps: bids out level)."""
        return []

    def finish_options(self, job: Job, options: list[Option]) -> list[Option]:
        """Last quirk hook, after variants and extra arguments (e.g. a root-only flag)."""
        return options

    def build_command(self, job: Job) -> list[str]:
        """The exact argv of one participant's run."""
        variants = [v for v in (self.get_variant(n) for n in job.variants) if v is not None]
        options = vt.apply_variants(self.baseline_options(job), variants)
        touched = vt.touched_options(variants)
        if self.thread_option:
            vt.warn_if_variant_overrides_threads(job, options, touched, self.thread_option)
        options, warn = vt.merge_extra_args(
            options, job.extra_args, touched, self.option_aliases, self.exclusive_options
        )
        vt.add_warnings(job.warnings, warn)
        vt.add_warnings(job.warnings, vt.variant_warnings(self, job.variants, job.version))
        options = self.finish_options(job, options)
        exe = job.executable or self.executable_names[0]
        return [exe, *self.positional_args(job), *vt.render(options, repeat=self.repeat_options)]

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
        vs = [v for v in variants if v not in NEUTRAL]
        return self.name if not vs else f"{self.name}-{'+'.join(vs)}"

    def writes_dataset_description(self) -> bool:
        """True when the wrapped tool writes its own dataset_description.json."""
        return False


def parse_version_text(text: str) -> str | None:
    """Pull the first dotted version number out of a tool's --version output."""
    import re

    m = re.search(r"(\d+\.\d+(?:\.\d+)?(?:[\w.+-]*)?)", text or "")
    return m.group(1) if m else None


# --- helpers shared by the FreeSurfer-family adapters ----------------------------------------
def select_t1w(
    layout, participant: str, session: str | None, all_runs: bool = False
) -> tuple[list[Path], list[str]]:
    """Pick the participant's T1w image(s) with pybids; return (files, warnings).

    Rule (docs/pipelines.md): with ``session`` given, that session only; without it, the
    first session in sorted order (others are named in a warning). Within it, the first run
    in run order, or every run when ``all_runs`` (recon-all averages several T1w inputs).
    No T1w at all: ParticipantSkipped.
    """
    from bids_energy.bids import t1w_files
    from bids_energy.errors import ParticipantSkipped

    files = t1w_files(layout, participant, session)
    if not files:
        where = describe(participant, session)
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
