"""Run the wrapped pipeline as a child and survive what clusters do to it.

SIGTERM/SIGINT/SIGHUP (Slurm's time limit, Ctrl-C) go to the pipeline's whole process
group, which then gets a grace period before SIGKILL; the caller learns it was interrupted
and by what, so the footprint is still written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bids_energy import shim

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class RunOutcome:
    exit_code: int  # shell convention: 128+N when killed by signal N
    signal: int | None  # the signal that ended the pipeline, if any
    interrupted_by: int | None  # the signal bids-energy received, if any
    killed_after_grace: bool
    wall_s: float
    # descendants still running when the shim stopped waiting for them (pid, name, cpu_s)
    left_running: list[dict] = field(default_factory=list)
    descendant_grace_s: float | None = None

    def left_running_warning(self) -> str | None:
        if not self.left_running:
            return None
        return shim.describe_left(self.left_running, self.descendant_grace_s or 0.0)

    @property
    def status(self) -> str:
        if self.interrupted_by is not None:
            return "interrupted"
        return "success" if self.exit_code == 0 else "failed"


def run_command(argv: Sequence[str], env: Mapping[str, str] | None = None,
                cwd: Path | None = None, grace_s: float = 20.0,
                on_start=None, descendant_grace_s: float = shim.DEFAULT_GRACE_S) -> RunOutcome:
    """Run ``argv`` under the reaping shim in a new session; forward signals to its group.

    ``descendant_grace_s``: how long the shim waits, after the main process exits, for the
    processes it left running before it stops waiting and reports them."""
    cmd = [sys.executable, "-m", "bids_energy.shim", *argv]
    t0 = time.monotonic()
    fd, report = tempfile.mkstemp(prefix="bids-energy-shim-", suffix=".json")
    os.close(fd)
    child_env = dict(os.environ if env is None else env)
    child_env[shim.GRACE_ENV] = str(descendant_grace_s)
    child_env[shim.REPORT_ENV] = report
    proc = subprocess.Popen(cmd, env=child_env, cwd=str(cwd) if cwd else None,
                            start_new_session=True)
    if on_start is not None:
        on_start(proc.pid)
    received: list[int] = []
    killed = threading.Event()

    def _kill_later():
        if proc.poll() is None:
            killed.set()
            _signal_group(proc.pid, signal.SIGKILL)

    def _handler(signum, _frame):
        if not received:
            received.append(signum)
            _signal_group(proc.pid, signum)
            t = threading.Timer(grace_s, _kill_later)
            t.daemon = True
            t.start()
        elif signum == signal.SIGINT:  # a second Ctrl-C: no more waiting
            _kill_later()

    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in FORWARDED:
            old[sig] = signal.signal(sig, _handler)
    try:
        rc = proc.wait()
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    sig = -rc if rc < 0 else None
    return RunOutcome(
        exit_code=128 + sig if sig else rc,
        signal=sig,
        interrupted_by=received[0] if received else None,
        killed_after_grace=killed.is_set(),
        wall_s=time.monotonic() - t0,
        left_running=_read_report(report),
        descendant_grace_s=descendant_grace_s,
    )


def _read_report(path: str) -> list[dict]:
    """The shim's list of descendants left running ([] when none, or no report)."""
    try:
        with open(path) as fh:
            text = fh.read()
        return list(json.loads(text).get("left_running", [])) if text.strip() else []
    except (OSError, ValueError, AttributeError):
        return []
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def oom_verdict(outcome: RunOutcome, oom_before: int | None, oom_after: int | None) -> tuple[bool, str | None]:
    """Was the pipeline OOM-killed? (pure) Returns (oom, warning or None).

    The kernel's OOM killer sends SIGKILL; our own SIGKILL after the grace period is not it.
    The cgroup's oom_kill counter decides where readable; where it is not, a SIGKILL from
    outside is reported as a likely OOM (or scheduler) kill, not asserted.
    """
    if outcome.signal != 9 or outcome.killed_after_grace:
        return False, None
    if oom_before is not None and oom_after is not None:
        if oom_after > oom_before:
            return True, "the pipeline was killed by the kernel's OOM killer (out of memory)"
        return False, "the pipeline was killed by SIGKILL from outside (not the OOM killer)"
    return False, ("the pipeline was killed by SIGKILL from outside: likely the OOM killer or "
                   "the scheduler (the cgroup's OOM counter is not readable here)")


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class HeldSignals:
    """Around the bookkeeping of a run (meters starting, footprint writing), a SIGTERM or
    SIGINT is noted rather than fatal, so a second signal from the scheduler cannot cut
    the footprint of the run it interrupted. ``signum`` is the first one noted."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict = {}

    def _note(self, signum, _frame) -> None:
        if self.signum is None:
            self.signum = signum

    def __enter__(self) -> HeldSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in FORWARDED:
                self._old[sig] = signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def oom_kill_count(proc_root: str | Path = "/proc", sys_root: str | Path = "/sys") -> int | None:
    """The kernel's OOM-kill count for our memory cgroup (v2 memory.events or v1
    memory.oom_control), found the way the meters find it; None where unreadable."""
    from bids_energy.meters.cgroup import resolve

    paths = resolve(str(proc_root), str(sys_root))
    if paths.mem_dir is None:
        return None
    name = "memory.events" if paths.mem_version == 2 else "memory.oom_control"
    try:
        for line in (paths.mem_dir / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        return None
    return None


PHASE_FILE_NAME = "bids-energy-phases.log"


def prepare_phase_file(work_dir: Path) -> dict[str, str]:
    """A fresh, empty phase file in the run's work area and the environment naming it.

    Every measured job gets ``BIDS_ENERGY_PHASE_FILE`` (protocol: ``meters.phaselog``); it
    lives beside the job's scratch files, never in the input dataset, and starts empty so a
    rerun does not read the previous run's phases.
    """
    from bids_energy.phases import PHASE_FILE_ENV

    path = Path(work_dir) / PHASE_FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return {PHASE_FILE_ENV: str(path)}
