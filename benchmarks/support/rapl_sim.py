"""A simulated RAPL package counter driven by the node's real CPU load.

Writes a powercap tree under ROOT (``intel-rapl:0`` with name, energy_uj,
max_energy_range_uj and constraint_0_max_power_uw) and advances ``energy_uj`` HZ times a
second by idle_w x dt + k_w x (busy CPU-seconds in dt), busy time read from the real
/proc/stat, wrapping at max_energy_range_uj. Each write is atomic (temp file + rename), so
a reader never sees half a number. bids-energy reads it with ``--powercap-root ROOT``:
the real RAPL code path on a node whose power is exactly linear in its busy CPUs.

It parses /proc/stat itself rather than through bids_energy, so a bug there is not shared.

    python benchmarks/support/rapl_sim.py ROOT [--idle-w 10] [--k-w 15] [--max-range-uj 100000000]
        [--max-power-uw 30000000] [--hz 50]   (runs until SIGTERM/SIGINT)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

USER_HZ = os.sysconf("SC_CLK_TCK")


def busy_s(stat_path: str = "/proc/stat") -> float:
    with open(stat_path) as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields + [0] * (8 - len(fields))
    return (user + nice + system + irq + softirq + steal) / USER_HZ


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def make_tree(root: Path, max_range_uj: int, max_power_uw: int) -> Path:
    zone = root / "intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "name").write_text("package-0\n")
    (zone / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
    (zone / "constraint_0_max_power_uw").write_text(f"{max_power_uw}\n")
    write_atomic(zone / "energy_uj", "0\n")
    return zone


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--idle-w", type=float, default=10.0)
    ap.add_argument("--k-w", type=float, default=15.0, help="watts per busy CPU")
    ap.add_argument("--max-range-uj", type=int, default=100_000_000)
    ap.add_argument("--max-power-uw", type=int, default=30_000_000)
    ap.add_argument("--hz", type=float, default=50.0)
    a = ap.parse_args(argv)
    zone = make_tree(a.root, a.max_range_uj, a.max_power_uw)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    energy_uj = 0.0
    t_prev, b_prev = time.monotonic(), busy_s()
    (a.root / "ready").write_text("1\n")
    while not stop:
        time.sleep(1.0 / a.hz)
        t, b = time.monotonic(), busy_s()
        energy_uj += (a.idle_w * (t - t_prev) + a.k_w * max(0.0, b - b_prev)) * 1e6
        t_prev, b_prev = t, b
        write_atomic(zone / "energy_uj", f"{int(energy_uj) % a.max_range_uj}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
