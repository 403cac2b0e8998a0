"""The runner: exit codes, signals forwarded to the whole group, grace then SIGKILL."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from bids_energy.runner import RunOutcome, oom_kill_count, oom_verdict, run_command


def test_exit_codes():
    assert run_command(["sh", "-c", "exit 0"]).status == "success"
    out = run_command(["sh", "-c", "exit 3"])
    assert (out.exit_code, out.status, out.signal) == (3, "failed", None)
    assert run_command(["/nonexistent/tool"]).exit_code == 127


def test_killed_by_signal_reports_signal():
    out = run_command(["sh", "-c", "kill -9 $$"])
    assert out.signal == 9 and out.exit_code == 137 and out.status == "failed"


def _send_later(sig, delay=0.5):
    def go():
        time.sleep(delay)
        os.kill(os.getpid(), sig)
    threading.Thread(target=go, daemon=True).start()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="main thread")
def test_sigterm_reaches_grandchildren_and_grace_then_kill(tmp_path):
    marker = tmp_path / "grandchild_done"
    # a grandchild that ignores TERM, a parent that waits for it
    script = f"sh -c 'trap \"\" TERM; sleep 30; touch {marker}' & wait"
    _send_later(signal.SIGTERM)
    t0 = time.monotonic()
    out = run_command(["sh", "-c", script], grace_s=1.0)
    assert out.interrupted_by == signal.SIGTERM and out.status == "interrupted"
    assert out.killed_after_grace
    assert time.monotonic() - t0 < 10
    time.sleep(0.2)
    assert not marker.exists()


def test_sigint_graceful_exit_within_grace():
    _send_later(signal.SIGINT)
    out = run_command([sys.executable, "-c", "import time\ntry:\n time.sleep(30)\nexcept KeyboardInterrupt:\n raise SystemExit(5)"],
                      grace_s=10)
    assert out.interrupted_by == signal.SIGINT and not out.killed_after_grace
    assert out.exit_code == 5


def test_oom_count_from_fake_cgroup_v2(tmp_path):
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text("0::/job42\n")
    (proc / "mountinfo").write_text(
        "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
    ev = tmp_path / "sys" / "fs" / "cgroup" / "job42"
    ev.mkdir(parents=True)
    (ev / "memory.current").write_text("4096\n")
    (ev / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    assert oom_kill_count(tmp_path / "proc", tmp_path / "sys") == 2


def test_oom_count_from_fake_cgroup_v1_hybrid(tmp_path):
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    (proc / "cgroup").write_text("4:memory:/job7\n0::/\n")
    (proc / "mountinfo").write_text(
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    mem = tmp_path / "sys" / "fs" / "cgroup" / "memory" / "job7"
    mem.mkdir(parents=True)
    (mem / "memory.usage_in_bytes").write_text("4096\n")
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
    assert oom_kill_count(tmp_path / "proc", tmp_path / "sys") == 5


def test_oom_count_unknown_is_none(tmp_path):
    assert oom_kill_count(tmp_path / "none", tmp_path / "none") is None


def _outcome(sig, killed=False):
    return RunOutcome(exit_code=128 + sig if sig else 0, signal=sig, interrupted_by=None,
                      killed_after_grace=killed, wall_s=1.0)


@pytest.mark.parametrize("sig,killed,before,after,oom,note", [
    (9, False, 0, 1, True, "OOM killer"),
    (9, False, 2, 2, False, "not the OOM killer"),
    (9, False, None, None, False, "likely the OOM killer"),
    (9, True, 0, 1, False, None),      # our own SIGKILL after the grace period
    (11, False, 0, 1, False, None),    # a segfault is not an OOM kill
    (None, False, 0, 0, False, None),
])
def test_oom_verdict(sig, killed, before, after, oom, note):
    got, msg = oom_verdict(_outcome(sig, killed), before, after)
    assert got is oom
    assert (msg is None) if note is None else (note in msg)


def test_held_signals_note_instead_of_dying():
    from bids_energy.runner import HeldSignals

    before = signal.getsignal(signal.SIGTERM)
    with HeldSignals() as held:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        # a pipeline run inside installs its own forwarding handlers and restores ours
        out = run_command(["sh", "-c", "exit 0"])
        assert out.status == "success"
        assert signal.getsignal(signal.SIGTERM) == held._note
    assert held.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_second_sigterm_during_bookkeeping_keeps_the_footprint(synthetic_bids, tmp_path):
    """Slurm sends SIGTERM, then again: the footprint of the interrupted run is still written."""
    import json
    import subprocess

    from tests.conftest import REPO

    script = tmp_path / "slow.py"
    started = tmp_path / "started"
    script.write_text(f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(60)\n")
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, str(REPO / "run.py"), str(synthetic_bids), str(out),
                          "participant", "--participant-label", "01", "--pipeline", "command",
                          "--grace-period", "1", "--", sys.executable, str(script)],
                         env=dict(os.environ, PYTHONPATH=str(REPO)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if started.exists():
            break
        time.sleep(0.05)
    fp = out / "command" / "sub-01" / "sub-01_footprint.json"
    p.send_signal(signal.SIGTERM)
    for _ in range(200):  # keep knocking until the record exists: each knock lands before it
        time.sleep(0.02)
        if p.poll() is not None or fp.exists():
            break
        p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM, err
    rec = json.loads(fp.read_text())
    assert rec["status"] == "interrupted"


def test_daemon_left_behind_does_not_keep_the_run_open(tmp_path):
    """The main process exits at once, leaving a detached sleeper that burns a little CPU
    first: the run ends after the grace period, with the leftover named and its CPU time."""
    script = ("python3 -c 'import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n"
              "time.sleep(60)' </dev/null >/dev/null 2>&1 &\nexit 4")
    t0 = time.monotonic()
    out = run_command(["sh", "-c", script], descendant_grace_s=1.5)
    elapsed = time.monotonic() - t0
    assert out.exit_code == 4
    assert elapsed < 30  # not the sleeper's 60 s
    assert len(out.left_running) == 1
    left = out.left_running[0]
    assert left["name"].startswith("python") and left["cpu_s"] >= 0.2
    warning = out.left_running_warning()
    assert "still running 1.5 s after it exited" in warning and f"pid {left['pid']}" in warning
    os.kill(left["pid"], signal.SIGKILL)


def test_descendants_finishing_within_the_grace_period_are_waited_for(tmp_path):
    marker = tmp_path / "done"
    out = run_command(["sh", "-c", f"(sleep 0.5; touch {marker}) & exit 0"], descendant_grace_s=20)
    assert out.exit_code == 0 and out.left_running == [] and out.left_running_warning() is None
    assert marker.exists()  # the shim waited for it: its CPU time reaches the job's
