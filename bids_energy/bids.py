"""BIDS dataset access (pybids) and the derivative-dataset helpers, in one place."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Sequence
from pathlib import Path

from bids_energy import __version__
from bids_energy.atomic_io import atomic_write_text
from bids_energy.errors import (
    BidsValidationError,
    InputMissingError,
    NothingSelectedError,
    OutputError,
    ParticipantSkipped,
    WriteError,
)
from bids_energy.labels import LABEL_RE, describe, normalize_label  # noqa: F401  (re-exported)

BIDSIGNORE_LINES = ("*_footprint.json", "*_footprint.html", "*_cleanup.tsv", "group_footprint.*",
                    "logs/", "sacct_*.tsv")


def check_bids_dir(bids_dir: Path) -> dict:
    """Refuse a missing/unreadable dataset (66) or one without a valid description (16)."""
    if not bids_dir.exists():
        raise InputMissingError(f"bids_dir does not exist: {bids_dir}")
    if not bids_dir.is_dir() or not os.access(bids_dir, os.R_OK | os.X_OK):
        raise InputMissingError(f"bids_dir is not a readable folder: {bids_dir}")
    desc = bids_dir / "dataset_description.json"
    if not desc.is_file():
        raise BidsValidationError(f"not a BIDS dataset: {desc} is missing")
    try:
        data = json.loads(desc.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BidsValidationError(f"{desc} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or "BIDSVersion" not in data or "Name" not in data:
        raise BidsValidationError(f"{desc} must be an object with Name and BIDSVersion")
    return data


def check_output_location(output_dir: Path, bids_dir: Path) -> None:
    """The output may not live inside the input dataset (checked without creating anything)."""
    out = output_dir.resolve()
    inp = bids_dir.resolve()
    if out == inp or inp in out.parents:
        raise OutputError(f"output_dir {output_dir} is inside bids_dir {bids_dir}; "
                          "write derivatives elsewhere (the input must stay untouched)")


def check_output_dir(output_dir: Path, bids_dir: Path) -> None:
    """The output may not live inside the input dataset, and must be creatable."""
    check_output_location(output_dir, bids_dir)
    out = output_dir.resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output_dir {output_dir}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output_dir is not writable: {output_dir}")


def load_layout(bids_dir: Path):
    """Index the dataset with pybids (no validation: our own checks give clearer errors)."""
    import warnings

    from bids import BIDSLayout

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return BIDSLayout(str(bids_dir), validate=False, derivatives=False)
        except Exception as exc:  # pybids raises several kinds for broken datasets
            raise BidsValidationError(f"pybids could not index {bids_dir}: {exc}") from None


def select_participants(layout, requested: Sequence[str] | None) -> list[str]:
    available = sorted(layout.get_subjects())
    if not requested:
        if not available:
            raise NothingSelectedError("the dataset has no sub-* folders with data")
        return available
    missing = [p for p in requested if p not in available]
    if missing:
        raise NothingSelectedError(
            "participant(s) not in the dataset: " + ", ".join(f"sub-{m}" for m in missing)
            + (f" (available: {', '.join(available[:10])}{'...' if len(available) > 10 else ''})"
               if available else "")
        )
    return list(dict.fromkeys(requested))


def sessions_for(layout, participant: str, requested: Sequence[str] | None) -> list[str | None]:
    """The sessions to run for one participant: all of them, a requested subset, or [None]."""
    have = sorted(layout.get_sessions(subject=participant))
    if not have:
        return [None]
    if not requested:
        return list(have)
    return [s for s in have if s in requested]


def t1w_files(layout, participant: str, session: str | None, return_type: str = "object"):
    """The participant's T1w images (``anat/*_T1w.nii[.gz]``), of one session when given.

    The one T1w query: the demo's ``find_t1w``, the FreeSurfer family's ``select_t1w`` and
    fMRIPrep's input check all start from it and keep their own choice among the runs.
    """
    query = dict(subject=participant, suffix="T1w", extension=[".nii", ".nii.gz"])
    if session:
        query["session"] = session
    return layout.get(return_type=return_type, **query)


def find_t1w(layout, participant: str, session: str | None) -> Path:
    """The participant's T1w: the first run in sorted order, raising ParticipantSkipped if none.

    Several runs or acquisitions: the sort on the full path is deterministic and recorded
    in the footprint (inputs.t1w), so a reader can see which image was used.
    """
    files = sorted(t1w_files(layout, participant, session, return_type="filename"))
    for f in files:
        p = Path(f)
        try:
            if p.stat().st_size > 0:
                return p
        except OSError:
            continue
    raise ParticipantSkipped(f"{describe(participant, session)}: no usable T1w image")


# --- derivatives -----------------------------------------------------------------------

@contextlib.contextmanager
def locked(path: Path):
    """An exclusive advisory lock on the folder holding ``path``, so concurrent array tasks
    don't lose each other's updates (flock on the directory: no stray lock file)."""
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def generated_by_entry(container: dict | None = None) -> dict:
    entry = {"Name": "bids-energy", "Version": __version__,
             "Description": "energy and carbon footprint of each participant's run",
             "CodeURL": "https://github.com/bids-energy/bids-energy"}
    if container and container.get("runtime"):
        c = {"Type": container["runtime"]}
        if container.get("image"):
            c["Tag"] = container["image"]
        entry["Container"] = c
    return entry


def ensure_derivative_dataset(pipeline_dir: Path, pipeline_name: str, source_dir: Path,
                              container: dict | None = None) -> None:
    """Create or update dataset_description.json and .bidsignore of a derivatives folder.

    A wrapped tool (fMRIPrep) may already have written its own description: we add our
    GeneratedBy entry rather than overwrite it. Updates are locked and atomic, so sixteen
    array tasks writing into one folder leave valid JSON with every entry present.
    """
    try:
        pipeline_dir.mkdir(parents=True, exist_ok=True)
        desc = pipeline_dir / "dataset_description.json"
        with locked(desc):
            data: dict = {}
            if desc.exists():
                try:
                    data = json.loads(desc.read_text())
                except (OSError, json.JSONDecodeError):
                    data = {}
            if not isinstance(data, dict):
                data = {}
            data.setdefault("Name", f"{pipeline_name} outputs with bids-energy footprints")
            data.setdefault("BIDSVersion", "1.9.0")
            data["DatasetType"] = "derivative"
            gen = data.get("GeneratedBy")
            gen = gen if isinstance(gen, list) else []
            entry = generated_by_entry(container)
            gen = [g for g in gen if not (isinstance(g, dict) and g.get("Name") == "bids-energy")]
            gen.append(entry)
            data["GeneratedBy"] = gen
            src = {"URL": f"file://{source_dir.resolve()}"}
            sources = data.get("SourceDatasets") if isinstance(data.get("SourceDatasets"), list) else []
            if src not in sources:
                sources.append(src)
            data["SourceDatasets"] = sources
            atomic_write_text(desc, json.dumps(data, indent=2) + "\n")
            ignore = pipeline_dir / ".bidsignore"
            have = ignore.read_text().splitlines() if ignore.exists() else []
            missing = [line for line in BIDSIGNORE_LINES if line not in have]
            if missing:
                atomic_write_text(ignore, "\n".join(have + missing) + "\n")
    except OSError as exc:
        raise WriteError(f"cannot write derivatives metadata in {pipeline_dir}: {exc.strerror}") from None


def footprint_paths(subject_dir: Path, prefix: str) -> tuple[Path, Path]:
    return subject_dir / f"{prefix}_footprint.json", subject_dir / f"{prefix}_footprint.html"

