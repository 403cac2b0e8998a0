"""Issue 13: the job's RAPL figure on the real code path, alone and beside a neighbour.

A simulated RAPL package counter (benchmarks/support/rapl_sim.py) under a temporary
``--powercap-root`` is advanced from the node's real /proc/stat: energy = idle x t + k x
busy CPU-seconds, wrapping at a small max_energy_range_uj (so the run crosses several
wraps and the sampling interval is capped so that no interval can hide two). A fixed-work
job runs through the real CLI (``run.py ... participant --pipeline command --powercap-root
DIR --idle-power-w IDLE -- python work.py``), alternating alone and beside a process burning
the other core.

Two fixed-work jobs: one fixed in its own CPU-seconds (a loop until ``time.process_time()``
reaches N s), one fixed in instructions (25 M loop iterations). On a shared VM the same
instructions cost a different CPU time run to run (host frequency, the host's hyper-threads),
and the definition bills CPU time the job really used, so only the first can be held to
"the job's figure moves by less than 3 %"; the second is reported per CPU-second of the job.

The node's power is exactly linear in its busy CPUs here, so by the shared-node definition
the job's figure must be k x its CPU time + its idle share (idle x its CPU time / node CPUs
when it holds no allocation), whatever the neighbour does. Printed per job: the job's
energy, that expectation, their ratio, the neighbour/alone ratios, what the pre-#13 split
(node energy x job CPU time / node CPU capacity) would have billed, and CodeCarbon in
machine mode over the same runs (``--compare-trackers codecarbon``: it reads the real
machine, not the simulated counter), the whole-machine figure fMRIPrep's ``--track-carbon``
reports. Ends with PASS/FAIL lines for the two targets.

    python benchmarks/rapl_neighbour.py [--quick] [--repeats N] [--work both|cpu-seconds|iterations]
        [--cpu-seconds S] [--iterations N] [--no-idle]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.neighbour import FIXED_CPU_WORK, FIXED_WORK, ROOT, alternate, run_participant

IDLE_W, K_W = 10.0, 15.0


def participant(bids: Path, out: Path, work: Path, pc_root: Path, idle: bool) -> dict:
    options = ["--pipeline", "command", "--powercap-root", str(pc_root), "--region", "CA-QC",
               "--cleanup", "off", "--no-report", "--compare-trackers", "codecarbon"]  # fmt: skip
    if idle:
        options += ["--idle-power-w", str(IDLE_W)]
    rec = run_participant(bids, out, [*options, "--", sys.executable, str(work)])
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
        "capacity_split_j": cpu["node_energy_wh"] * 3600 * cpu_s / (node_cpus * rec["wall_s"]),
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


def summarise(name: str, rows: dict[str, list[dict]]) -> dict:
    """Print one job's table; return its neighbour/alone ratios and per-run expectation fits."""
    print(f"\njob: {name}")
    print("case       job_J  expected_J  job/exp   cpu_s  J/cpu_s  node_busy_cores  node_J  "
          "dropped")
    med = {}
    for case, rs in rows.items():
        m = {k: statistics.median(x[k] for x in rs)
             for k in ("job_j", "expected_j", "cpu_s", "per_cpu_s", "node_busy_cores", "node_j",
                       "dropped", "cc_wh", "cc_cpu_wh", "capacity_split_j")}
        ratio = statistics.median(x["job_j"] / x["expected_j"] for x in rs)
        med[case] = m
        print(f"{case:9s} {m['job_j']:6.2f}  {m['expected_j']:10.2f}  {ratio:7.3f}  "
              f"{m['cpu_s']:6.2f}  {m['per_cpu_s']:7.2f}  {m['node_busy_cores']:15.2f}  "
              f"{m['node_j']:6.1f}  {m['dropped']:7.0f}   codecarbon {m['cc_wh']:.5f} Wh "
              f"(cpu {m['cc_cpu_wh']:.5f})")
        print(f"          job/expected per run: "
              f"{[round(x['job_j'] / x['expected_j'], 3) for x in rs]}; cpu_s per run: "
              f"{[round(x['cpu_s'], 2) for x in rs]}")
    a_, n_ = med["alone"], med["neighbour"]
    out = {
        "job": n_["job_j"] / a_["job_j"],
        "per_cpu_s": n_["per_cpu_s"] / a_["per_cpu_s"],
        "fits": [x["job_j"] / x["expected_j"] for rs in rows.values() for x in rs],
    }
    print(f"neighbour/alone: job energy x{out['job']:.3f}, job CPU time "
          f"x{n_['cpu_s'] / a_['cpu_s']:.3f}, per CPU-s x{out['per_cpu_s']:.3f}, node energy "
          f"x{n_['node_j'] / a_['node_j']:.2f}; pre-#13 capacity split would bill "
          f"x{n_['capacity_split_j'] / a_['capacity_split_j']:.2f}; codecarbon (whole machine, "
          f"its own counters) total x{n_['cc_wh'] / a_['cc_wh']:.2f}, "
          f"cpu x{n_['cc_cpu_wh'] / a_['cc_cpu_wh']:.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, short jobs (CI)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--work", choices=("both", "cpu-seconds", "iterations"), default="both")
    ap.add_argument("--cpu-seconds", type=float, default=4.0,
                    help="CPU-seconds of the job fixed in CPU time")
    ap.add_argument("--iterations", type=int, default=25_000_000,
                    help="loop iterations of the job fixed in instructions (about 4 CPU-s here)")
    ap.add_argument("--no-idle", action="store_true",
                    help="do not pass --idle-power-w (idle power estimated or assumed)")
    a = ap.parse_args(argv)
    repeats = 1 if a.quick else a.repeats
    shrink = 5 if a.quick else 1
    jobs = {
        "fixed CPU time": FIXED_CPU_WORK.format(seconds=a.cpu_seconds / shrink),
        "fixed instructions": FIXED_WORK.format(n=a.iterations // shrink),
    }
    chosen = {"cpu-seconds": ["fixed CPU time"], "iterations": ["fixed instructions"]}
    jobs = {name: jobs[name] for name in chosen.get(a.work, list(jobs))}
    from bids_energy.synthetic import make_synthetic_dataset

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bids = make_synthetic_dataset(Path(tmp) / "bids", n_subjects=1)
        pc = Path(tmp) / "powercap"
        sim_py = ROOT / "benchmarks" / "support" / "rapl_sim.py"
        sim = subprocess.Popen([sys.executable, str(sim_py), str(pc),
                                "--idle-w", str(IDLE_W), "--k-w", str(K_W)])
        try:
            for _ in range(100):
                if (pc / "ready").exists():
                    break
                time.sleep(0.05)
            for j, (name, code) in enumerate(jobs.items()):
                work = Path(tmp) / f"work{j}.py"
                work.write_text(code)
                rows = alternate(
                    lambda run, w=work, j=j: participant(
                        bids, Path(tmp) / f"{j}-{run}", w, pc, not a.no_idle), repeats)
                results[name] = rows
        finally:
            sim.terminate()
            sim.wait()
    print(f"machine: {os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"simulated node {IDLE_W} W idle + {K_W} W per busy CPU; repeats {repeats}")
    first = next(iter(results.values()))["alone"][0]
    print(f"idle power: {first['idle_w']} W ({first['idle_method']}); held CPUs: {first['held']}")
    print(f"sampling: {first['interval_warning'] or 'interval not capped'}")
    verdicts = {name: summarise(name, rows) for name, rows in results.items()}
    print()
    for name, v in verdicts.items():
        moved = abs(v["job"] - 1)
        worst = max(abs(f - 1) for f in v["fits"])
        if name == "fixed CPU time":
            print(f"{'PASS' if moved < 0.03 else 'FAIL'}: {name}: the job's figure moved "
                  f"{100 * moved:.1f} % beside the neighbour (target < 3 %)")
        else:
            print(f"{'PASS' if abs(v['per_cpu_s'] - 1) < 0.03 else 'FAIL'}: {name}: per "
                  f"CPU-second of the job the figure moved {100 * abs(v['per_cpu_s'] - 1):.1f} % "
                  f"(raw {100 * moved:.1f} %: this job's own CPU time moves on a shared VM)")
        print(f"{'PASS' if worst < 0.05 else 'FAIL'}: {name}: every run equals k x CPU time + idle "
              f"share within {100 * worst:.1f} % (target 5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
