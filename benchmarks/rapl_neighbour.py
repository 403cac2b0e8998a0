"""Issue 13: the job's RAPL figure on the real code path, alone and beside a neighbour.

A simulated RAPL package counter (benchmarks/support/rapl_sim.py) under a temporary
``--powercap-root`` is advanced from the node's real /proc/stat: energy = idle x t + k x
busy CPU-seconds, wrapping at a small max_energy_range_uj (so the run crosses several
wraps and the sampling interval is capped so that no interval can hide two). A fixed
amount of pure-Python work runs through the real CLI (``run.py ... participant --pipeline
command --powercap-root DIR --idle-power-w IDLE -- python work.py``), alternating alone and
beside a process burning the other core.

The node's power is exactly linear in its busy CPUs here, so by the shared-node definition
the job's figure must be k x its CPU time + its idle share (idle x its CPU time / node CPUs
when it holds no allocation), whatever the neighbour does. Printed: the job's energy, that
expectation, their ratio, and the neighbour/alone ratios (raw, and per CPU-second of the
job, since the job's own CPU time moves a few % on a shared VM), with CodeCarbon in machine
mode over the same runs (``--compare-trackers codecarbon``: it reads the real machine, not
the simulated counter) for the whole-machine figure fMRIPrep's ``--track-carbon`` reports.

    python benchmarks/rapl_neighbour.py [--quick] [--repeats N] [--no-idle]
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
from pathlib import Path

from support.neighbour import FIXED_WORK, alternate

ROOT = Path(__file__).resolve().parents[1]
IDLE_W, K_W = 10.0, 15.0


def participant(bids: Path, out: Path, work: Path, pc_root: Path, idle: bool) -> dict:
    cmd = [sys.executable, str(ROOT / "run.py"), str(bids), str(out), "participant",
           "--pipeline", "command", "--powercap-root", str(pc_root), "--region", "CA-QC",
           "--cleanup", "off", "--no-report", "--compare-trackers", "codecarbon"]  # fmt: skip
    if idle:
        cmd += ["--idle-power-w", str(IDLE_W)]
    cmd += ["--", sys.executable, str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"run.py failed ({proc.returncode}): {proc.stderr[-1000:]}")
    (fp,) = out.rglob("*_footprint.json")
    rec = json.loads(fp.read_text())
    cpu = rec["energy"]["components"]["cpu"]
    if not cpu["method"].startswith("measured: rapl"):
        raise SystemExit(f"not the RAPL path: {cpu['method']} ({rec.get('warnings')})")
    node_cpus = cpu["split"]["node_cpus"]
    held = cpu["split"]["held_cpus"]
    job_j = cpu["job_energy_wh"] * 3600
    cpu_s = rec["cpu_s"]
    idle_share_j = (IDLE_W * held * rec["wall_s"] / node_cpus if held
                    else IDLE_W * cpu_s / node_cpus)
    return {
        "job_j": job_j,
        "expected_j": K_W * cpu_s + idle_share_j,
        "cpu_s": cpu_s,
        "per_cpu_s": job_j / cpu_s,
        "node_busy_cores": rec["attribution"]["node_busy_cpu_s"] / rec["wall_s"],
        "node_j": cpu["node_energy_wh"] * 3600,
        "dropped": cpu["inputs"].get("dropped_intervals", 0),
        "interval_warning": next((w for w in rec.get("warnings", []) if "capped" in w), ""),
        "idle_method": cpu["split"]["idle_power_method"],
        "idle_w": cpu["split"]["idle_power_w"],
        "held": cpu["split"]["held_cpus_source"],
        "cc_wh": rec["trackers"]["codecarbon-machine"]["energy_wh"],
        "cc_cpu_wh": rec["trackers"]["codecarbon-machine"]["components_wh"]["cpu"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, a short job (CI)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=25_000_000,
                    help="loop iterations of the fixed-work job (about 2 CPU-s here)")
    ap.add_argument("--no-idle", action="store_true",
                    help="do not pass --idle-power-w (idle power estimated or assumed)")
    a = ap.parse_args(argv)
    repeats = 1 if a.quick else a.repeats
    from bids_energy.synthetic import make_synthetic_dataset

    with tempfile.TemporaryDirectory() as tmp:
        bids = make_synthetic_dataset(Path(tmp) / "bids", n_subjects=1)
        work = Path(tmp) / "fixed_work.py"
        work.write_text(FIXED_WORK.format(n=a.iterations // (5 if a.quick else 1)))
        pc = Path(tmp) / "powercap"
        sim_py = ROOT / "benchmarks" / "support" / "rapl_sim.py"
        sim = subprocess.Popen([sys.executable, str(sim_py), str(pc),
                                "--idle-w", str(IDLE_W), "--k-w", str(K_W)])
        try:
            for _ in range(100):
                if (pc / "ready").exists():
                    break
                time.sleep(0.05)
            rows = alternate(
                lambda name: participant(bids, Path(tmp) / name, work, pc, not a.no_idle), repeats)
        finally:
            sim.terminate()
            sim.wait()
    print(f"machine: {os.cpu_count()} logical CPUs; simulated node {IDLE_W} W idle + {K_W} W per "
          f"busy CPU; repeats {repeats}; shared with other users' work")
    first = rows["alone"][0]
    print(f"idle power: {first['idle_w']} W ({first['idle_method']}); held CPUs: {first['held']}")
    print(f"sampling: {first['interval_warning'] or 'interval not capped'}")
    print("case       job_J  expected_J  job/exp   cpu_s  J/cpu_s  node_busy_cores  node_J  dropped")
    med = {}
    for case, rs in rows.items():
        m = {k: statistics.median(x[k] for x in rs)
             for k in ("job_j", "expected_j", "cpu_s", "per_cpu_s", "node_busy_cores", "node_j",
                       "dropped", "cc_wh", "cc_cpu_wh")}
        ratio = statistics.median(x["job_j"] / x["expected_j"] for x in rs)
        med[case] = m
        print(f"{case:9s} {m['job_j']:6.2f}  {m['expected_j']:10.2f}  {ratio:7.3f}  "
              f"{m['cpu_s']:6.2f}  {m['per_cpu_s']:7.2f}  {m['node_busy_cores']:15.2f}  "
              f"{m['node_j']:6.1f}  {m['dropped']:7.0f}   codecarbon {m['cc_wh']:.5f} Wh "
              f"(cpu {m['cc_cpu_wh']:.5f})")
        print(f"          job/expected per run: {[round(x['job_j'] / x['expected_j'], 3) for x in rs]}")
    a_, n_ = med["alone"], med["neighbour"]
    print(f"neighbour/alone: job energy x{n_['job_j'] / a_['job_j']:.3f}, per CPU-s "
          f"x{n_['per_cpu_s'] / a_['per_cpu_s']:.3f}, node energy x{n_['node_j'] / a_['node_j']:.2f}; "
          f"codecarbon (whole machine, its own counters) total x{n_['cc_wh'] / a_['cc_wh']:.2f}, "
          f"cpu x{n_['cc_cpu_wh'] / a_['cc_cpu_wh']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
