"""The job's root process: a child subreaper that runs the pipeline and reaps everything.

bids-energy starts this shim in a new session; the shim makes itself a child subreaper
(so grandchildren orphaned by a daemonising tool are reparented to it rather than to init),
runs the pipeline in its own process group and waits for every descendant. Because it reaps
them all, the CPU time of every process the pipeline ever ran reaches the shim's
children-time totals, and from there bids-energy's, instead of being lost.
It exits with the pipeline's exit code, or dies of the pipeline's fatal signal.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def set_child_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bids_energy.shim COMMAND [ARGS...]", file=sys.stderr)
        return 64
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
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if wpid == pid:
            main_status = status
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
