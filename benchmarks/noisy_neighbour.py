"""Issue 8: the same CPU-bound participant run alone and beside a noisy neighbour.

Runs ``run.py BIDS OUT participant --pipeline P --compare-trackers codecarbon`` on a
synthetic dataset, alone and while another process burns the other core (alternating, so
drift hits both cases alike), and prints our job energy and CodeCarbon's (whole machine)
with medians, spreads and ratios. Our figure should stay put; CodeCarbon's should rise.

The default job is ``--pipeline command`` running a fixed amount of pure-Python work: its
CPU time is the steadiest load we have, so what moves is the attribution, not the job.
``--pipeline demo`` runs the demo pipeline instead (its CPU time itself varies run to run by
10-20% here, mostly kernel time for page faults).

    python benchmarks/noisy_neighbour.py [--quick] [--repeats N] [--pipeline command|demo]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEIGHBOUR = "import time\nwhile time.process_time() < 3600: pass\n"
FIXED_WORK = "x = 0\nfor i in range({n}):\n    x += i * i % 7\n"


def participant(bids: Path, out: Path, pipeline: str, work: Path) -> dict:
    cmd = [sys.executable, str(ROOT / "run.py"), str(bids), str(out), "participant",
           "--pipeline", pipeline, "--compare-trackers", "codecarbon", "--region", "CA-QC"]  # fmt: skip
    if pipeline == "command":
        cmd += ["--", sys.executable, str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"run.py failed ({proc.returncode}): {proc.stderr[-1000:]}")
    (fp,) = out.rglob("*_footprint.json")
    rec = json.loads(fp.read_text())
    cc = rec["trackers"]["codecarbon"]
    return {
        "ours_wh": rec["energy"]["job_energy_wh"],
        "ours_method": rec["energy"]["components"]["cpu"]["method"],
        "cpu_s": rec["cpu_s"],
        "node_busy_cores": rec["attribution"]["node_busy_cpu_s"] / rec["wall_s"],
        "cc_wh": cc["energy_wh"],
        "cc_cpu_wh": cc["cpu_energy_wh"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repeat (CI)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pipeline", choices=("command", "demo"), default="command")
    ap.add_argument("--iterations", type=int, default=25_000_000,
                    help="loop iterations of the fixed-work job (about 2 CPU-s here)")
    a = ap.parse_args(argv)
    repeats = 1 if a.quick else a.repeats
    from bids_energy.synthetic import make_synthetic_dataset

    rows: dict[str, list[dict]] = {"alone": [], "neighbour": []}
    with tempfile.TemporaryDirectory() as tmp:
        bids = make_synthetic_dataset(Path(tmp) / "bids", n_subjects=1)
        work = Path(tmp) / "fixed_work.py"
        work.write_text(FIXED_WORK.format(n=a.iterations // (10 if a.quick else 1)))
        participant(bids, Path(tmp) / "warm-up", a.pipeline, work)  # caches, .pyc: not counted
        for r in range(repeats):
            rows["alone"].append(participant(bids, Path(tmp) / f"alone{r}", a.pipeline, work))
            nb = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
            try:
                time.sleep(0.3)
                rows["neighbour"].append(
                    participant(bids, Path(tmp) / f"nb{r}", a.pipeline, work))
            finally:
                os.kill(nb.pid, signal.SIGKILL)
                nb.wait()
    print(f"machine: {os.cpu_count()} logical CPUs; pipeline {a.pipeline}; repeats {repeats}")
    print("case       ours_wh   cpu_s  node_busy_cores  codecarbon_wh  codecarbon_cpu_wh  cc/ours")
    med = {}
    for case, rs in rows.items():
        m = {k: statistics.median(x[k] for x in rs) for k in rs[0] if k != "ours_method"}
        med[case] = m
        print(f"{case:9s} {m['ours_wh']:.5f}  {m['cpu_s']:6.2f}  {m['node_busy_cores']:15.2f}  "
              f"{m['cc_wh']:13.5f}  {m['cc_cpu_wh']:17.5f}  {m['cc_wh'] / m['ours_wh']:7.2f}")  # fmt: skip
        spread = [round(x["ours_wh"], 5) for x in rs]
        print(f"          ours_wh per run: {spread}")
    print(f"our method: {rows['alone'][0]['ours_method']}")
    a_, n_ = med["alone"], med["neighbour"]
    print(f"neighbour/alone: ours x{n_['ours_wh'] / a_['ours_wh']:.2f}, codecarbon total "
          f"x{n_['cc_wh'] / a_['cc_wh']:.2f}, codecarbon cpu x{n_['cc_cpu_wh'] / a_['cc_cpu_wh']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
