"""Measure a Python script from inside: ``with bids_energy.measure(out, label="resnet18"):``.

A training script or a Python pipeline is not a command bids-energy can wrap from outside
without losing what it knows (which model, which epoch). ``measure`` runs the very meters
of the participant level (``meters.select.choose``, ``meters.cputime.choose_attribution``,
``meters.sampler.Sampler`` rooted at this process, so children count too) around a block and
writes the same footprint JSON and HTML, validated against the same schema. Phases marked
with ``bids_energy.phase`` inside the block are tallied, like any measured job's.

Where it writes fits what the group level collects (``analysis.collect.find_footprints`` finds
``*_footprint.json`` anywhere under the output folder): ``OUT/<label>/<label>[_desc-<variant>]
_footprint.json``, or ``OUT/<label>/sub-<p>/sub-<p>[_ses-<s>][_desc-<variant>]_footprint.json``
when a participant is named.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from bids_energy.errors import UsageError
from bids_energy.labels import desc_label
from bids_energy.phases import PHASE_FILE_ENV
from bids_energy.pipelines.variant import BASELINE, NEUTRAL

log = logging.getLogger("bids_energy")

_LABEL = re.compile(r"^[A-Za-z0-9]+$")
_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _bids_label(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    label = str(value)
    for prefix in ("sub-", "ses-"):
        if label.startswith(prefix):
            label = label[len(prefix):]
    if not _LABEL.match(label):
        raise UsageError(f"measure(): {what} {value!r} is not a BIDS label (letters and digits)")
    return label


def footprint_location(output_dir: str | Path, label: str, participant: str | None = None,
                       session: str | None = None, variant: str | None = None) -> tuple[Path, Path]:
    """Where ``measure`` writes its JSON and HTML (pure): see the module docstring."""
    folder = Path(output_dir) / (_SAFE.sub("-", label).strip("-.") or "measured")
    if participant:
        folder = folder / f"sub-{participant}"
        stem = f"sub-{participant}" + (f"_ses-{session}" if session else "")
    else:
        stem = folder.name
    if variant and variant not in NEUTRAL:
        stem += "_desc-" + desc_label([variant])
    return folder / f"{stem}_footprint.json", folder / f"{stem}_footprint.html"


def model_metadata(params: int | None = None, flops: float | None = None, model=None,
                   input_shape: tuple[int, ...] | None = None,
                   forward_passes: int = 1) -> dict | None:
    """``params``/``flops`` as given; from ``model`` where missing: parameters counted from
    ``model.parameters()`` and FLOPs by ptflops (2 x MACs of one forward pass at
    ``input_shape``, times ``forward_passes``) when ptflops is installed. Never required."""
    out: dict = {}
    if params is not None:
        out["params"] = int(params)
    if flops is not None:
        out["flops"] = float(flops)
        out["flops_source"] = "user"
    if model is not None:
        if "params" not in out and hasattr(model, "parameters"):
            out["params"] = int(sum(p.numel() for p in model.parameters()))
        if "flops" not in out and input_shape is not None:
            try:
                from ptflops import get_model_complexity_info
            except ImportError:
                out["flops_source"] = "not computed: ptflops is not installed"
            else:
                macs, _ = get_model_complexity_info(model, tuple(input_shape), as_strings=False,
                                                    print_per_layer_stat=False, verbose=False)
                out["flops"] = 2.0 * float(macs) * max(1, int(forward_passes))
                out["flops_source"] = (f"ptflops: 2 x {int(macs)} MACs per forward pass at input "
                                       f"{tuple(input_shape)} x {int(forward_passes)} pass(es)")
    return out or None


class Measurement:
    """The context manager ``measure`` returns; after the block, ``record`` and ``path``."""

    def __init__(self, output_dir: str | Path, label: str = "python", *,
                 participant: str | None = None, session: str | None = None,
                 variant: str | None = None, params: int | None = None,
                 flops: float | None = None, model=None,
                 input_shape: tuple[int, ...] | None = None, forward_passes: int = 1,
                 interval_s: float = 1.0, attribution: str = "auto",
                 country_code: str | None = None, region: str | None = None,
                 pue: float | None = None, report: bool = True) -> None:
        if not str(label).strip():
            raise UsageError("measure(): label must not be empty")
        self.output_dir = Path(output_dir)
        self.label = str(label).strip()
        self.participant = _bids_label(participant, "participant")
        self.session = _bids_label(session, "session")
        self.variant = variant or BASELINE
        self.model = model_metadata(params, flops, model, input_shape, forward_passes)
        self.interval_s = interval_s
        self.attribution = attribution
        self.carbon_args = (country_code, region, pue)
        self.report = report
        self.path, self.html_path = footprint_location(self.output_dir, self.label,
                                                       self.participant, self.session,
                                                       self.variant)
        self.record: dict | None = None
        self._scratch: str | None = None
        self._saved_env: str | None = None

    def __enter__(self) -> Measurement:
        from bids_energy.footprint import carbon_settings
        from bids_energy.meters import create_sampler

        self.carbon, self._warnings = carbon_settings(*self.carbon_args)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"measure(): cannot create {self.path.parent}: {exc.strerror}") from None
        self._scratch = tempfile.mkdtemp(prefix="bids-energy-measure-")
        phase_file = Path(self._scratch) / "phases.log"
        phase_file.write_bytes(b"")
        self._saved_env = os.environ.get(PHASE_FILE_ENV)
        os.environ[PHASE_FILE_ENV] = str(phase_file)
        self._sampler = create_sampler(root_pid=os.getpid(), interval_s=self.interval_s,
                                       attribution=self.attribution, phase_file=phase_file,
                                       include_root=True)
        self._start_ts = time.time()
        self._sampler.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        try:
            result = self._sampler.stop()
            end_ts = time.time()
        finally:
            self._restore_env()
        status, code, warnings = "success", 0, list(self._warnings)
        if exc_type is not None:
            interrupted = issubclass(exc_type, KeyboardInterrupt)
            status, code = ("interrupted", 130) if interrupted else ("failed", 1)
            warnings.append(f"the measured block raised {exc_type.__name__}: {exc}"[:300])
        try:
            self._write(result, status, code, end_ts, warnings)
        except Exception as write_exc:
            if exc_type is None:
                raise
            log.warning("measure(): could not write the footprint %s: %s", self.path, write_exc)
        return False  # the block's exception, if any, goes on

    def _restore_env(self) -> None:
        if self._saved_env is None:
            os.environ.pop(PHASE_FILE_ENV, None)
        else:
            os.environ[PHASE_FILE_ENV] = self._saved_env
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _write(self, result, status: str, code: int, end_ts: float, warnings: list[str]) -> None:
        from bids_energy.app.outputs import write_outputs
        from bids_energy.context import detect_container, detect_slurm
        from bids_energy.footprint import build_record

        device = "gpu" if result.component("gpu") is not None else "cpu"
        command = [a for a in (sys.executable, *sys.argv) if a] or ["python"]
        self.record = build_record(
            participant=self.participant, session=self.session, status=status, exit_code=code,
            signal=None, oom=False, name=self.label, version=None, variants=[self.variant],
            device=device, executable=sys.executable, command=command,
            output_dir=self.path.parent, inputs={}, start_ts=self._start_ts, end_ts=end_ts,
            sampler_result=result, carbon=self.carbon, container=detect_container(),
            slurm=detect_slurm(), work_dir=os.getcwd(), user_args=list(sys.argv[1:]),
            cleanup=None, trackers={}, warnings=warnings, model=self.model,
        )
        self.record["context"]["api"] = "bids_energy.measure"
        attribution = self.record.get("attribution")
        if isinstance(attribution, dict) and isinstance(attribution.get("note"), str):
            attribution["note"] += (" bids_energy.measure(): the measuring process's own CPU "
                                    "and memory count as the job's, the sampler thread's "
                                    "included.")
        write_outputs(self.record, self.path, self.html_path, report=self.report)


def measure(output_dir: str | Path, label: str = "python", **kwargs) -> Measurement:
    """Measure the current process and its children for the ``with`` block.

    Writes ``pipeline.name = label`` footprints the group level aggregates like any other;
    ``variant`` tells runs of one label apart, ``participant``/``session`` are optional.
    Model metadata: ``params=``, ``flops=`` (the block's total FLOPs), or ``model=`` a torch
    model with ``input_shape=`` (ptflops, when installed). On an exception the footprint
    is written with status ``failed`` and the exception propagates.
    """
    return Measurement(output_dir, label, **kwargs)
