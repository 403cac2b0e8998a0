"""Issues 8 and 15: the same CPU-bound participant run alone and beside a noisy neighbour.

Runs ``run.py BIDS OUT participant --pipeline P --compare-trackers all`` on a synthetic
dataset, alone and while another process burns the other core (alternating, so drift and
other users' load hit both cases alike), and prints our job energy and every tracker's
figure (CodeCarbon machine and process mode, eco2AI, carbontracker, Zeus, the Green
Algorithms estimate) with medians, their ratio to ours and how much the neighbour moved
each. Our figure should stay put; whole-machine trackers should rise.

Each tracker's figure is its energy before its own PUE (``it_energy_wh``), like ours.
The default job is ``--pipeline command`` running a fixed amount of pure-Python work: its
CPU time is the steadiest load we have, so what moves is the attribution, not the job.
``--pipeline demo`` runs the demo pipeline instead (its CPU time itself varies run to run by
10-20% here, mostly kernel time for page faults).

    python benchmarks/noisy_neighbour.py [--quick] [--repeats N] [--pipeline command|demo]
                                         [--trackers NAME ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from support.neighbour import FIXED_WORK, alternate, run_participant


def participant(bids: Path, out: Path, pipeline: str, work: Path, trackers: list[str]) -> dict:
    options = ["--pipeline", pipeline, "--compare-trackers", *trackers, "--region", "CA-QC"]
    if pipeline == "command":
        options += ["--", sys.executable, str(work)]
    rec = run_participant(bids, out, options)
    row = {
        "ours_wh": rec["energy"]["job_energy_wh"],
        "ours_method": rec["energy"]["components"]["cpu"]["method"],
        "cpu_s": rec["cpu_s"],
        "node_busy_cores": rec["attribution"]["node_busy_cpu_s"] / rec["wall_s"],
    }
    for name, t in rec["trackers"].items():
        row[name] = t.get("it_energy_wh") if t.get("status") == "ok" else None
        row[f"{name}:why"] = t.get("reason") or ""
        row[f"{name}:version"] = t.get("version") or ""
    return row


def _median(rs: list[dict], key: str) -> float | None:
    xs = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(xs) if xs else None


def _fmt(x: float | None, spec: str = ".5f") -> str:
    return format(x, spec) if x is not None else "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, a tenth of the work (CI)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pipeline", choices=("command", "demo"), default="command")
    ap.add_argument("--trackers", nargs="+", default=["all"],
                    help="--compare-trackers names (default: all)")
    ap.add_argument("--iterations", type=int, default=25_000_000,
                    help="loop iterations of the fixed-work job (about 2 CPU-s here)")
    a = ap.parse_args(argv)
    repeats = 1 if a.quick else a.repeats
    from bids_energy.synthetic import make_synthetic_dataset

    with tempfile.TemporaryDirectory() as tmp:
        bids = make_synthetic_dataset(Path(tmp) / "bids", n_subjects=1)
        work = Path(tmp) / "fixed_work.py"
        work.write_text(FIXED_WORK.format(n=a.iterations // (10 if a.quick else 1)))
        rows = alternate(
            lambda name: participant(bids, Path(tmp) / name, a.pipeline, work, a.trackers), repeats)
    first = rows["alone"][0]
    names = [k for k in first if k not in ("ours_wh", "ours_method", "cpu_s", "node_busy_cores")
             and ":" not in k]  # fmt: skip
    print(f"machine: {os.cpu_count()} logical CPUs; pipeline {a.pipeline}; repeats {repeats}; "
          f"alternating alone / beside a neighbour burning one core")  # fmt: skip
    for case, rs in rows.items():
        print(f"{case}: ours_wh per run {[round(x['ours_wh'], 5) for x in rs]}, node busy cores "
              f"median {_median(rs, 'node_busy_cores'):.2f}, job cpu_s median "
              f"{_median(rs, 'cpu_s'):.2f}")  # fmt: skip
    print(f"our method: {first['ours_method']}")
    a_o, n_o = _median(rows["alone"], "ours_wh"), _median(rows["neighbour"], "ours_wh")
    print("| figure | version | alone (Wh) | beside a neighbour (Wh) | neighbour / alone "
          "| it / ours alone | it / ours beside |")
    print("|---|---|---|---|---|---|---|")
    print(f"| ours (bids-energy) | | {_fmt(a_o)} | {_fmt(n_o)} | x{n_o / a_o:.2f} | x1.00 | x1.00 |")
    for name in names:
        a_t, n_t = _median(rows["alone"], name), _median(rows["neighbour"], name)
        if a_t is None or n_t is None:
            why = first.get(f"{name}:why") or "no figure"
            print(f"| {name} | {first.get(f'{name}:version')} | n/a | n/a | n/a | n/a | n/a "
                  f"| <!-- {why[:160]} -->")  # fmt: skip
            continue
        moved = f"x{n_t / a_t:.2f}" if a_t > 0 else "n/a"
        print(f"| {name} | {first.get(f'{name}:version')} | {_fmt(a_t)} | {_fmt(n_t)} | {moved} "
              f"| x{a_t / a_o:.2f} | x{n_t / n_o:.2f} |")  # fmt: skip
    for name in names:
        why = first.get(f"{name}:why")
        if why:
            print(f"{name}: {why}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
