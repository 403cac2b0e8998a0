"""Sampler overhead: CPU seconds per hour of pipeline and resident memory, 200-process tree.

Spawns N sleeping children (``sleep``), runs the sampler at 1 s for D seconds while the main
thread sleeps, and reports this process's CPU over that time (all of it is the sampler's)
scaled to one hour, and its peak RSS. Targets: < 0.5 % of one core (18 CPU-s/h), < 60 MB.

    python benchmarks/sampler_overhead.py            # 60 s, 200 children
    python benchmarks/sampler_overhead.py --quick    # 10 s, for CI
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import time

from bids_energy.meters import create_sampler


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s instead of 60 s")
    ap.add_argument("--children", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args()
    seconds = args.seconds or (10.0 if args.quick else 60.0)

    kids = [subprocess.Popen(["sleep", str(seconds + 30)]) for _ in range(args.children)]
    try:
        rss_before = rss_mb()
        sampler = create_sampler(root_pid=os.getpid(), interval_s=args.interval)
        t0, c0 = time.monotonic(), os.times()
        sampler.start()
        time.sleep(seconds)
        result = sampler.stop()
        t1, c1 = time.monotonic(), os.times()
    finally:
        for k in kids:
            k.terminate()
        for k in kids:
            k.wait()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    wall = t1 - t0
    per_hour = cpu / wall * 3600
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"children: {args.children}, interval: {args.interval} s, wall: {wall:.1f} s, "
          f"rows: {len(result.timeline['rows'])}")
    print(f"sampler CPU: {cpu:.3f} s -> {per_hour:.1f} CPU-s per hour "
          f"= {100 * cpu / wall:.3f} % of one core (target < 0.5 %)")
    print(f"RSS: {rss_mb():.1f} MB now, peak {peak_mb:.1f} MB, before sampler {rss_before:.1f} MB "
          f"(target < 60 MB)")


if __name__ == "__main__":
    main()
