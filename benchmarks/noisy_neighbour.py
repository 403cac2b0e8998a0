"""Issue 8: the same CPU-bound participant run alone and beside a noisy neighbour.

Runs ``run.py BIDS OUT participant --pipeline demo --compare-trackers codecarbon`` on a
synthetic dataset, once alone and once while another process burns a core, and prints our
job energy and CodeCarbon's (whole machine) with their ratios. Our figure should stay put;
CodeCarbon's should rise with the neighbour.

    python benchmarks/noisy_neighbour.py [--quick] [--repeats N]
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


def participant(bids: Path, out: Path) -> dict:
    cmd = [sys.executable, str(ROOT / "run.py"), str(bids), str(out), "participant",
           "--pipeline", "demo", "--compare-trackers", "codecarbon", "--region", "CA-QC"]  # fmt: skip
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
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    repeats = 1 if a.quick else a.repeats
    from bids_energy.synthetic import make_synthetic_dataset

    rows: dict[str, list[dict]] = {"alone": [], "neighbour": []}
    with tempfile.TemporaryDirectory() as tmp:
        bids = make_synthetic_dataset(Path(tmp) / "bids", n_subjects=1)
        for r in range(repeats):
            rows["alone"].append(participant(bids, Path(tmp) / f"alone{r}"))
            nb = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
            try:
                time.sleep(0.3)
                rows["neighbour"].append(participant(bids, Path(tmp) / f"nb{r}"))
            finally:
                os.kill(nb.pid, signal.SIGKILL)
                nb.wait()
    print(f"machine: {os.cpu_count()} logical CPUs; pipeline demo; repeats {repeats}")
    print("case       ours_wh   cpu_s  node_busy_cores  codecarbon_wh  codecarbon_cpu_wh  cc/ours")
    med = {}
    for case, rs in rows.items():
        m = {k: statistics.median(x[k] for x in rs) for k in rs[0] if k != "ours_method"}
        med[case] = m
        print(f"{case:9s} {m['ours_wh']:.5f}  {m['cpu_s']:6.2f}  {m['node_busy_cores']:15.2f}  "
              f"{m['cc_wh']:13.5f}  {m['cc_cpu_wh']:17.5f}  {m['cc_wh'] / m['ours_wh']:7.2f}")  # fmt: skip
    print(f"our method: {rows['alone'][0]['ours_method']}")
    a_, n_ = med["alone"], med["neighbour"]
    print(f"neighbour/alone: ours x{n_['ours_wh'] / a_['ours_wh']:.2f}, codecarbon total "
          f"x{n_['cc_wh'] / a_['cc_wh']:.2f}, codecarbon cpu x{n_['cc_cpu_wh'] / a_['cc_cpu_wh']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
