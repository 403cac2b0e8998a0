"""Sampler overhead: CPU seconds per hour of pipeline and resident memory, 200-process tree.

Spawns N children (N-1 ``sleep`` plus, unless ``--spawn-rate 0``, one shell loop that starts
short-lived ``true`` processes, so names of young processes and ended children keep the
step breakdown busy), runs the sampler at 1 s for D seconds while the main thread sleeps,
and reports the sampler's CPU over that time scaled to one hour, per interval, and peak RSS.
The step breakdown is always on (the sampler has no switch for it); its own share (splitting
each interval's CPU among programs and the per-step tally) is timed separately, and the
command-line reads it causes are counted. Targets: < 0.5 % of one core (18 CPU-s/h), < 60 MB.

    python benchmarks/sampler_overhead.py              # 60 s, 200 children, 3 repeats
    python benchmarks/sampler_overhead.py --quick      # 10 s, 1 repeat, for CI (< 60 s)

CPU is this process's (``time.process_time``, ns resolution): the main thread only sleeps,
so all of it is the sampler's. Machine load is printed with the figures: on a shared machine
the sampler's reads of /proc are slower, so read the median and spread.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# measure the checkout this script sits in, not whatever copy is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bids_energy.meters.procfs as procfs  # noqa: E402
import bids_energy.meters.sampler as sampler_mod  # noqa: E402
from bids_energy.meters import create_sampler  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Timed:
    """Wraps a callable, summing the calling thread's CPU time spent inside it."""

    def __init__(self, fn):
        self.fn, self.cpu_s, self.calls = fn, 0.0, 0

    def __call__(self, *a, **kw):
        t = time.thread_time()
        try:
            return self.fn(*a, **kw)
        finally:
            self.cpu_s += time.thread_time() - t
            self.calls += 1


def spawn_tree(children: int, spawn_rate: float, seconds: float) -> list[subprocess.Popen]:
    life = str(seconds + 30)
    kids = []
    if spawn_rate > 0 and children > 0:
        loop = f"end=$(( $(date +%s) + {int(seconds) + 30} )); " \
               f"while [ $(date +%s) -lt $end ]; do /bin/true; sleep {1 / spawn_rate:.3f}; done"
        kids.append(subprocess.Popen(["sh", "-c", loop]))
    kids += [subprocess.Popen(["sleep", life]) for _ in range(children - len(kids))]
    return kids


def one_run(seconds: float, interval: float) -> dict:
    """Set up, start, sleep, stop one sampler in this process; returns its figures."""
    split = Timed(sampler_mod.split_interval)
    cmdline = Timed(procfs.read_cmdline)
    sampler_mod.split_interval = split
    procfs.read_cmdline = cmdline
    try:
        c_setup = time.process_time()
        sampler = create_sampler(root_pid=os.getpid(), interval_s=interval)
        tally = Timed(sampler.steps.add_interval)
        sampler.steps.add_interval = tally
        t0, c0 = time.monotonic(), time.process_time()
        sampler.start()
        c_started = time.process_time()
        time.sleep(seconds)
        result = sampler.stop()
        t1, c1 = time.monotonic(), time.process_time()
    finally:
        sampler_mod.split_interval = split.fn
        procfs.read_cmdline = cmdline.fn
    wall, cpu = t1 - t0, c1 - c0
    n = max(1, len(result.timeline.rows))
    return {
        "wall_s": wall, "cpu_s": cpu, "intervals": n,
        "setup_ms": (c0 - c_setup) * 1e3, "start_ms": (c_started - c0) * 1e3,
        "per_hour_s": cpu / wall * 3600, "pct_core": 100 * cpu / wall,
        "per_interval_ms": (c1 - c_started) / n * 1e3,
        "steps_ms": (split.cpu_s + tally.cpu_s) / n * 1e3,
        "steps_pct_core": 100 * (split.cpu_s + tally.cpu_s) / wall,
        "cmdline_reads": cmdline.calls,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "steps": [s.step for s in result.steps],
    }


def summary(name: str, values: list[float], fmt: str) -> str:
    med = statistics.median(values)
    spread = f" (min {min(values):{fmt}}, max {max(values):{fmt}})" if len(values) > 1 else ""
    return f"{name}: {med:{fmt}}{spread}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s, 1 repeat, instead of 60 s x 3")
    ap.add_argument("--children", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--spawn-rate", type=float, default=5.0,
                    help="short-lived processes started per second by one child (0: none)")
    args = ap.parse_args()
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    repeats = args.repeats or (1 if args.quick else 3)

    rss_before = rss_mb()
    print(f"code: {Path(sampler_mod.__file__).resolve().parents[2]}")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}, load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"children: {args.children} ({'1 spawning ' + str(args.spawn_rate) + '/s, ' if args.spawn_rate > 0 else ''}"
          f"rest sleeping), interval: {args.interval} s, {seconds:.0f} s x {repeats}")
    runs = []
    for i in range(repeats):
        kids = spawn_tree(args.children, args.spawn_rate, seconds)
        try:
            time.sleep(0.5)  # let the children exec before the baseline
            r = one_run(seconds, args.interval)
        finally:
            for k in kids:
                k.terminate()
            for k in kids:
                k.wait()
        runs.append(r)
        print(f"  run {i + 1}: {r['cpu_s']:.3f} CPU-s in {r['wall_s']:.1f} s = "
              f"{r['pct_core']:.3f} % of one core; {r['per_interval_ms']:.2f} ms/interval "
              f"({r['intervals']} intervals), step breakdown {r['steps_ms']:.3f} ms/interval; "
              f"set-up {r['setup_ms']:.1f} ms, start {r['start_ms']:.1f} ms; "
              f"cmdline reads {r['cmdline_reads']}; steps {r['steps']}; "
              f"load {os.getloadavg()[0]:.2f}")
    col = {k: [r[k] for r in runs] for k in runs[0] if k != "steps"}
    print("steps on (median of runs):")
    print("  " + summary("CPU seconds per hour of pipeline", col["per_hour_s"], ".1f"))
    print("  " + summary("% of one core", col["pct_core"], ".3f") + "  (target < 0.5 %)")
    print("  " + summary("per-interval ms", col["per_interval_ms"], ".2f"))
    print("  " + summary("peak RSS MB", col["peak_rss_mb"], ".1f") +
          f"  (target < 60 MB; {rss_before:.1f} MB before any sampler)")
    print("the step breakdown alone (split + tally):")
    print("  " + summary("per-interval ms", col["steps_ms"], ".3f"))
    print("  " + summary("% of one core", col["steps_pct_core"], ".4f"))
    print("  " + summary("cmdline reads per run", col["cmdline_reads"], ".0f"))


if __name__ == "__main__":
    main()
