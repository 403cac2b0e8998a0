"""The noisy-neighbour protocol both neighbour benchmarks share: a fixed-work job, one
uncounted warm-up, then alternating runs alone and beside a process burning one core."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NEIGHBOUR = "import time\nwhile time.process_time() < 3600: pass\n"
FIXED_WORK = "x = 0\nfor i in range({n}):\n    x += i * i % 7\n"
# Work fixed in the job's own CPU-seconds rather than in instructions: on a shared VM the same
# instructions cost a different CPU time from run to run (host frequency, the host's own
# hyper-threads), so only this job's figure can be held to "moves by less than 3 %".
FIXED_CPU_WORK = "import time\nwhile time.process_time() < {seconds}:\n    pass\n"


def alternate(run: Callable[[str], dict], repeats: int) -> dict[str, list[dict]]:
    """``run(name)`` once as a warm-up (caches, .pyc), then ``repeats`` times alone and beside
    a neighbour, alternating so drifts of the machine hit both cases alike."""
    rows: dict[str, list[dict]] = {"alone": [], "neighbour": []}
    run("warm-up")
    for r in range(repeats):
        rows["alone"].append(run(f"alone{r}"))
        nb = subprocess.Popen([sys.executable, "-c", NEIGHBOUR])
        try:
            time.sleep(0.3)
            rows["neighbour"].append(run(f"nb{r}"))
        finally:
            os.kill(nb.pid, signal.SIGKILL)
            nb.wait()
    return rows


def run_participant(bids: Path, out: Path, options: list[str]) -> dict:
    """``run.py BIDS OUT participant OPTIONS`` from the repository root; its one footprint."""
    cmd = [sys.executable, str(ROOT / "run.py"), str(bids), str(out), "participant", *options]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"run.py failed ({proc.returncode}): {proc.stderr[-1000:]}")
    (fp,) = out.rglob("*_footprint.json")
    return json.loads(fp.read_text())
