"""The process-tree walker's caches: exec detection, kept-open files, the schedstat shortcut.

Real-/proc tests spawn a few short children of this test process; fake-tree tests drive
the schedstat shortcut with files the test controls.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from fake_trees import make_proc, remove_process, set_process  # noqa: E402

from bids_energy.meters.proctree import ProcessTreeWalker  # noqa: E402
from bids_energy.meters.programcpu import split_interval  # noqa: E402

LINUX = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def by_pid(snap):
    return {e.pid: e for e in snap.procs.values()}


@LINUX
def test_exec_keeping_comm_is_renamed_without_the_young_rule():
    # the child execs the same interpreter under another argv[0]: comm does not change, and
    # with name_settle_s=0 only the argv address in stat can reveal the exec
    code = ("import os, sys, time; time.sleep(0.3); "
            "os.execv(sys.executable, ['renamed-tool', '-c', 'import time; time.sleep(5)'])")
    child = subprocess.Popen([sys.executable, "-c", code])
    walker = ProcessTreeWalker("/proc", os.getpid(), name_settle_s=0.0)
    try:
        assert walker.keep_fds
        before = by_pid(walker.snapshot())[child.pid]
        assert before.program != "renamed-tool"

        def exec_done():
            with open(f"/proc/{child.pid}/cmdline", "rb") as fh:
                return fh.read().startswith(b"renamed-tool\0")

        assert wait_for(exec_done)
        after = by_pid(walker.snapshot())[child.pid]
        assert after.program == "renamed-tool"
        assert after.key == before.key  # same process, new program
    finally:
        walker.close()
        child.kill()
        child.wait()


@LINUX
def test_sleeping_entry_reused_and_vanished_processes_release_their_files():
    base = open_fds()
    kids = [subprocess.Popen(["sleep", "30"]) for _ in range(4)]
    walker = ProcessTreeWalker("/proc", os.getpid())
    try:
        assert wait_for(lambda: all(
            Path(f"/proc/{k.pid}/cmdline").read_bytes().startswith(b"sleep") for k in kids))
        s1 = walker.snapshot()
        s2 = walker.snapshot()
        s3 = walker.snapshot()
        for k in kids:
            e2, e3 = by_pid(s2)[k.pid], by_pid(s3)[k.pid]
            assert e3 is e2 and e3.program == "sleep"  # not run: same entry, no re-parse
        out, rates = split_interval(s2, s3, {}, 1.0)
        assert out == {} and rates == {}
        assert open_fds() >= base + 4  # one kept-open file per descendant
        for k in kids[:2]:
            k.kill()
            k.wait()
        s4 = walker.snapshot()
        assert {k.pid for k in kids[:2]}.isdisjoint(by_pid(s4))
        assert {k.pid for k in kids[2:]} <= set(by_pid(s4))
        assert len(s1.procs) >= 4
    finally:
        walker.close()
        for k in kids:
            k.kill()
            k.wait()
    assert open_fds() == base


def stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


@LINUX
def test_busy_child_cpu_is_seen_through_the_shortcut():
    # burns ~0.3 CPU-s, then sleeps: the walker must report exactly what stat says
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.3: pass\ntime.sleep(5)"])
    hz = os.sysconf("SC_CLK_TCK")
    walker = ProcessTreeWalker("/proc", os.getpid())
    try:
        walker.snapshot()
        walker.snapshot()  # the kept file is schedstat from here on (single-threaded child)

        def asleep_after_burn():
            f = stat_fields(child.pid)
            return f[0] == "S" and (int(f[11]) + int(f[12])) / hz >= 0.25

        assert wait_for(asleep_after_burn, timeout=10)
        got = by_pid(walker.snapshot())[child.pid].self_cpu_s
        f = stat_fields(child.pid)
        assert got == pytest.approx((int(f[11]) + int(f[12])) / hz) and got >= 0.25
    finally:
        walker.close()
        child.kill()
        child.wait()


ROOT = 500


def schedstat(proc: Path, pid: int, runtime_ns: int) -> None:
    (proc / str(pid) / "schedstat").write_text(f"{runtime_ns} 0 1\n")


def fake_walker(proc: Path) -> ProcessTreeWalker:
    return ProcessTreeWalker(proc, ROOT, keep_fds=True, max_open_fds=100, use_schedstat=True)


def test_schedstat_shortcut_on_a_fake_tree(tmp_path):
    proc = make_proc(tmp_path / "proc")
    set_process(proc, ROOT, "bids-energy", 1, 0)
    set_process(proc, 600, "flirt", ROOT, 100, start=2000)
    schedstat(proc, 600, 1000)
    walker = fake_walker(proc)
    walker.snapshot()
    walker.snapshot()  # now schedstat is the kept file
    set_process(proc, 600, "flirt", ROOT, 150, start=2000)
    assert by_pid(walker.snapshot())[600].self_cpu_s == pytest.approx(1.0)  # has not "run"
    schedstat(proc, 600, 2000)
    assert by_pid(walker.snapshot())[600].self_cpu_s == pytest.approx(1.5)  # ran: stat re-read
    walker.close()


def test_reparented_sleeper_is_re_read_when_its_parent_is_gone(tmp_path):
    proc = make_proc(tmp_path / "proc")
    set_process(proc, ROOT, "bids-energy", 1, 0)
    set_process(proc, 600, "driver", ROOT, 10, start=2000)
    set_process(proc, 601, "bet", 600, 10, start=2100)
    schedstat(proc, 600, 1000)
    schedstat(proc, 601, 1000)
    walker = fake_walker(proc)
    walker.snapshot()
    assert by_pid(walker.snapshot())[601].ppid == 600
    # driver ends; bet, asleep, is re-parented to root (the subreaper) without running
    remove_process(proc, 600)
    set_process(proc, ROOT, "bids-energy", 1, 0, cutime=10)
    set_process(proc, 601, "bet", ROOT, 10, start=2100)
    snap = walker.snapshot()
    assert by_pid(snap).keys() == {601}
    assert by_pid(snap)[601].ppid == ROOT
    walker.close()


def test_sleepers_stat_refreshed_periodically(tmp_path):
    proc = make_proc(tmp_path / "proc")
    set_process(proc, ROOT, "bids-energy", 1, 0)
    set_process(proc, 600, "flirt", ROOT, 100, start=2000, rss_pages=1000)
    schedstat(proc, 600, 1000)
    walker = fake_walker(proc)
    walker.snapshot()
    walker.snapshot()  # schedstat kept from here on
    set_process(proc, 600, "flirt", ROOT, 100, start=2000, rss_pages=10)  # pages reclaimed
    rss = [by_pid(walker.snapshot())[600].rss_bytes for _ in range(3 * walker.rescan_every)]
    assert rss[0] > rss[-1] == 10 * os.sysconf("SC_PAGE_SIZE")
