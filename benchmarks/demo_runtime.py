"""Issue 14: how long `bids-energy demo` takes end to end, and each variant's share.

Runs ``python -m bids_energy demo --dir TMP`` (synthetic dataset, the ANTs demo pipeline in
baseline / sloppy / affine-only on every participant, then the group level) in a fresh
folder, and prints the total wall time against the 5-minute budget, then per variant the
mean wall time, CPU time, energy and quality (dice_mean) read from the footprints and the
quality files the run wrote.

    python benchmarks/demo_runtime.py [--quick] [--participants N]

``--quick`` (CI): one participant, baseline and affine-only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 300.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 participant, 2 variants (CI)")
    ap.add_argument("--participants", type=int, default=2)
    a = ap.parse_args(argv)
    n = 1 if a.quick else a.participants
    variants = ["baseline", "affine-only"] if a.quick else ["baseline", "sloppy", "affine-only"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "bids_energy", "demo", "--dir", tmp, "--participants", str(n),
             "--variants", *variants],
            capture_output=True, text=True, cwd=ROOT, env=env, check=False)
        total = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"bids-energy demo failed ({proc.returncode}): {proc.stderr[-2000:]}")
        rows = defaultdict(list)
        for fp in sorted(Path(tmp, "out").rglob("*_footprint.json")):
            rec = json.loads(fp.read_text())
            q = fp.with_name(fp.name.replace("_footprint.json", "_desc-quality.json"))
            dice = json.loads(q.read_text())["metrics"]["dice_mean"] if q.exists() else float("nan")
            variant = "+".join(rec["pipeline"]["variants"]) or "baseline"
            rows[variant].append((rec["wall_s"], rec["cpu_s"], rec["energy"]["job_energy_wh"], dice))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"bids-energy demo, {n} participant(s) x {len(variants)} variant(s): {total:.1f} s wall "
          f"(budget {BUDGET_S:.0f} s: {'within' if total <= BUDGET_S else 'OVER'})")
    print(f"{'variant':<14}{'runs':>5}{'wall_s':>9}{'cpu_s':>8}{'energy_wh':>11}{'dice_mean':>11}")
    for variant in variants:
        r = rows.get(variant, [])
        if not r:
            print(f"{variant:<14}{0:>5}")
            continue
        m = [statistics.fmean(col) for col in zip(*r, strict=True)]
        print(f"{variant:<14}{len(r):>5}{m[0]:>9.1f}{m[1]:>8.1f}{m[2]:>11.4f}{m[3]:>11.3f}")
    lines = proc.stdout.strip().splitlines()
    print("group summary (from bids-energy demo):")
    print("\n".join(lines[-(len(variants) + 1):]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
