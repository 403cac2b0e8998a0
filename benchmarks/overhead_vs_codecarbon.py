"""Wall-time overhead of measuring: a fixed CPU-bound job bare, under bids-energy's sampler,
and under CodeCarbon (OfflineEmissionsTracker, machine mode, as fMRIPrep runs it).

Paired design: each repeat runs the three modes back to back (order rotated), and the
overhead is the ratio of each wrapped run to the bare run of the same repeat, so slow
drifts of a shared machine cancel. Start-up and stop of each tracker are inside the timing,
because a user pays for them. The CPU time of this process (the trackers' own threads, not
the job) is printed too: on a busy shared machine it is steadier than wall time.

    python benchmarks/overhead_vs_codecarbon.py [--quick] [--repeats N] [--work-s S]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = "import time\nwhile time.process_time() < {s}: pass\n"


def _job(work_s: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", JOB.format(s=work_s)])


def run_bare(work_s: float) -> float:
    t0 = time.perf_counter()
    _job(work_s).wait()
    return time.perf_counter() - t0


def run_bids_energy(work_s: float, interval_s: float) -> float:
    from bids_energy.meters.sampler import create_sampler

    t0 = time.perf_counter()
    child = _job(work_s)
    sampler = create_sampler(root_pid=child.pid, interval_s=interval_s)
    sampler.start()
    child.wait()
    sampler.stop()
    return time.perf_counter() - t0


def run_codecarbon(work_s: float, interval_s: float) -> float:
    from bids_energy.trackers.base import RunFacts, TrackerSettings
    from bids_energy.trackers.codecarbon_tracker import CodeCarbonTracker

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cc = CodeCarbonTracker(TrackerSettings(log_dir=Path(tmp), interval_s=interval_s,
                                               country_iso3="CAN"), "machine")  # fmt: skip
        cc.prepare()
        cc.begin()
        _job(work_s).wait()
        res = cc.end(RunFacts(wall_s=work_s, cpu_s=work_s, peak_mem_gb=None, cores=1))
        wall = time.perf_counter() - t0
    if res.status != "ok":
        raise SystemExit(f"codecarbon failed: {res.reason}")
    return wall


def summarize(ratios: list[float]) -> str:
    return (f"median x{statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
            f"max {max(ratios):.3f}, n={len(ratios)})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 s job, 2 repeats (CI)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--work-s", type=float, default=10.0, help="CPU seconds of the job")
    ap.add_argument("--interval-s", type=float, default=1.0)
    a = ap.parse_args(argv)
    if a.quick:
        a.repeats, a.work_s = 2, 1.0
    modes = {
        "bare": lambda: run_bare(a.work_s),
        "bids-energy": lambda: run_bids_energy(a.work_s, a.interval_s),
        "codecarbon": lambda: run_codecarbon(a.work_s, a.interval_s),
    }
    order = list(modes)
    walls: dict[str, list[float]] = {m: [] for m in modes}
    own_cpu: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(a.repeats):
        for m in order[r % 3 :] + order[: r % 3]:
            c0 = time.process_time()  # this process only: the tracker's threads, not the job
            walls[m].append(modes[m]())
            own_cpu[m].append(time.process_time() - c0)
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}, job {a.work_s:g} CPU-s, interval {a.interval_s:g} s")  # fmt: skip
    for m in modes:
        print(f"{m:12s} wall s: median {statistics.median(walls[m]):.3f}  "
              f"runs {[round(w, 3) for w in walls[m]]}; tracker CPU s (this process) median "
              f"{statistics.median(own_cpu[m]):.3f}")  # fmt: skip
    for m in ("bids-energy", "codecarbon"):
        ratios = [w / b for w, b in zip(walls[m], walls["bare"], strict=True)]
        extra = [w - b for w, b in zip(walls[m], walls["bare"], strict=True)]
        print(f"{m:12s} / bare: {summarize(ratios)}; extra wall s median "
              f"{statistics.median(extra):.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
