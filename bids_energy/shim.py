"""The job's root process: a child subreaper that runs the pipeline and reaps everything.

bids-energy starts this shim in a new session; the shim makes itself a child subreaper
(so grandchildren orphaned by a daemonising tool are reparented to it rather than to init),
runs the pipeline in its own process group and reaps its descendants. Because it reaps
them, the CPU time of every process the pipeline ran reaches the shim's children-time
totals, and from there bids-energy's, instead of being lost.

After the pipeline's main process exits, the shim waits a bounded grace period
(``BIDS_ENERGY_DESCENDANT_GRACE_S``, default 10 s) for the descendants still running, then
stops waiting: a daemon the pipeline left behind (a server, a stuck worker) must not keep
the run, and its measurement, open for ever. What was left (pid, name, CPU time so far) is
printed as a warning and, when ``BIDS_ENERGY_SHIM_REPORT`` names a file, written there as
JSON for the footprint. Leftovers are not killed: the shim only stops waiting for them.
It exits with the pipeline's exit code, or dies of the pipeline's fatal signal.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
GRACE_ENV = "BIDS_ENERGY_DESCENDANT_GRACE_S"
REPORT_ENV = "BIDS_ENERGY_SHIM_REPORT"
DEFAULT_GRACE_S = 10.0


def set_child_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(root_pid: int, proc_root: str = "/proc") -> list[dict]:
    """Live descendants of ``root_pid`` (pid, name, command, CPU seconds so far), oldest first.

    Imported lazily: the shim starts before every pipeline and must stay light."""
    from bids_energy.meters import procfs

    stats = {}
    for pid in procfs.list_pids(proc_root):
        st = procfs.read_pid_stat(proc_root, pid)
        if st is not None:
            stats[pid] = st
    found: list[int] = []
    frontier = [root_pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, st in stats.items() if st.ppid == parent and p not in found]
        found.extend(kids)
        frontier.extend(kids)
    out = []
    for pid in sorted(found, key=lambda p: stats[p].start_ticks):
        st = stats[pid]
        if st.state == "Z":
            continue
        out.append({"pid": pid, "name": st.comm,
                    "command": " ".join(procfs.read_cmdline(proc_root, pid))[:200],
                    "cpu_s": round(st.self_cpu_s + st.children_cpu_s, 3)})
    return out


def describe_left(left: list[dict], grace_s: float) -> str:
    """The one-line warning about descendants still running after the grace period."""
    items = ", ".join(f"{d['name']} (pid {d['pid']}, {d['cpu_s']:.1f} CPU-s)" for d in left[:10])
    more = f" and {len(left) - 10} more" if len(left) > 10 else ""
    total = sum(d["cpu_s"] for d in left)
    return (f"{len(left)} process(es) the pipeline started were still running {grace_s:g} s "
            f"after it exited and were left running, not waited for: {items}{more}; their "
            f"{total:.1f} CPU-s so far are not in the job's CPU time")


def _grace_s(env: dict) -> float:
    try:
        return max(0.0, float(env.get(GRACE_ENV, DEFAULT_GRACE_S)))
    except ValueError:
        return DEFAULT_GRACE_S


def reap_until(deadline: float) -> bool:
    """Reap children until none are left (True) or ``deadline`` passes (False)."""
    while True:
        try:
            wpid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if wpid == 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bids_energy.shim COMMAND [ARGS...]", file=sys.stderr)
        return 64
    grace_s = _grace_s(os.environ)
    report = os.environ.pop(REPORT_ENV, None)
    os.environ.pop(GRACE_ENV, None)
    set_child_subreaper()
    # The signal reaches the whole process group from bids-energy; the shim itself must
    # outlive the pipeline to reap it, so it ignores the signal in a Python handler (handlers,
    # unlike SIG_IGN, are reset to default in the exec'd child).
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)
    try:
        pid = os.fork()
    except OSError as exc:
        print(f"bids-energy: cannot fork: {exc}", file=sys.stderr)
        return 75
    if pid == 0:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            print(f"bids-energy: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127 if exc.errno == 2 else 126)
    main_status = None
    while True:  # block until the main child exits, reaping others on the way
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if wpid == pid:
            main_status = status
            break
    if main_status is not None and not reap_until(time.monotonic() + grace_s):
        left = descendants(os.getpid())
        if left:
            print(f"bids-energy: warning: {describe_left(left, grace_s)}", file=sys.stderr)
        if report:
            try:
                with open(report, "w") as fh:
                    json.dump({"grace_s": grace_s, "left_running": left}, fh)
            except OSError:
                pass
    if main_status is None:
        return 1
    if os.WIFSIGNALED(main_status):
        sig = os.WTERMSIG(main_status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.WEXITSTATUS(main_status)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
