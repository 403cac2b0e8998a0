"""Phase markers: what reading and tallying the job's phase lines costs.

Two figures: (1) the pure parser + tally on a file of N timed ``begin``/``end`` lines (an
epoch loop gone wild), in microseconds per line; (2) a real sampler at 0.2 s over a job that
appends phase lines at R lines per second, the sampler's CPU spent in its phase step
(reading the new lines, tallying the interval) per interval, and the whole sampler's CPU.

    python benchmarks/phase_markers.py            # 200,000 lines; sampler 20 s at 200 lines/s
    python benchmarks/phase_markers.py --quick    # 20,000 lines; sampler 4 s (CI)
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bids_energy.meters.sampler as sampler_mod  # noqa: E402
from bids_energy.footprint import phases_block  # noqa: E402
from bids_energy.meters import create_sampler  # noqa: E402
from bids_energy.meters.phaselog import parse_lines  # noqa: E402
from bids_energy.meters.phasetally import PhaseTally  # noqa: E402


def tally_cost(n_lines: int) -> dict:
    t0 = 1.7e9
    lines = []
    for i in range(n_lines // 2):
        lines.append(f"{t0 + i * 0.01:.6f} begin epoch-{i % 50}")
        lines.append(f"{t0 + i * 0.01 + 0.005:.6f} end epoch-{i % 50}")
    c = time.process_time()
    events, bad = parse_lines(lines)
    parse_s = time.process_time() - c
    tally = PhaseTally()
    c = time.process_time()
    per_interval = 1000  # lines per 1-s interval
    for k in range(0, len(events), per_interval):
        tally.add_events(events[k:k + per_interval], k / 100, lambda u: u - t0)
        tally.add_interval(k / 100 + 10, 10, 1.0, 0.001)
    tally.add_interval(n_lines / 100 + 20, 10, 1.0, 0.001, final=True)
    tally_s = time.process_time() - c
    rec = phases_block(tally.summary())
    return {"lines": n_lines, "parse_us": 1e6 * parse_s / n_lines,
            "tally_us": 1e6 * tally_s / n_lines, "phases": len(rec["rows"]),
            "spans_kept": len(rec["spans"]), "spans_dropped": rec["spans_dropped"]}


def sampler_cost(seconds: float, rate: float) -> dict:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "phases.log"
        path.write_bytes(b"")
        writer = subprocess.Popen(
            [sys.executable, "-c",
             "import sys,time\nf=sys.argv[1];r=float(sys.argv[2]);end=time.time()+float(sys.argv[3])\n"
             "i=0\nwhile time.time()<end:\n"
             "    open(f,'a').write(f'{time.time():.6f} begin p{i%20}\\n');i+=1;time.sleep(1/r)\n",
             str(path), str(rate), str(seconds)])
        spent = {"cpu_s": 0.0, "calls": 0}
        orig = sampler_mod.Sampler._phase_interval

        def timed(self, *a, **kw):
            t = time.thread_time()
            try:
                return orig(self, *a, **kw)
            finally:
                spent["cpu_s"] += time.thread_time() - t
                spent["calls"] += 1

        sampler_mod.Sampler._phase_interval = timed
        try:
            s = create_sampler(root_pid=os.getpid(), interval_s=0.2, phase_file=path)
            c = time.process_time()
            s.start()
            writer.wait()
            res = s.stop()
            total = time.process_time() - c
        finally:
            sampler_mod.Sampler._phase_interval = orig
    lines = res.phases.events if res.phases else 0
    return {"seconds": seconds, "lines": lines, "intervals": spent["calls"],
            "phase_ms_per_interval": 1e3 * spent["cpu_s"] / max(1, spent["calls"]),
            "sampler_cpu_s": total, "ignored": res.phases.ignored_lines if res.phases else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, secs = (20_000, 4.0) if args.quick else (200_000, 20.0)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}")
    t = tally_cost(n)
    print(f"parser: {t['parse_us']:.2f} us/line; tally: {t['tally_us']:.2f} us/line "
          f"({t['lines']} lines, {t['phases']} phases, {t['spans_kept']} spans kept, "
          f"{t['spans_dropped']} beyond the cap)")
    s = sampler_cost(secs, 200.0)
    print(f"sampler at 0.2 s, job writing 200 lines/s for {s['seconds']:.0f} s: {s['lines']} lines "
          f"read, phase step {s['phase_ms_per_interval']:.3f} ms CPU per interval over "
          f"{s['intervals']} intervals; whole sampler {s['sampler_cpu_s']:.3f} CPU-s "
          f"(this process, includes start-up); {s['ignored']} ignored")


if __name__ == "__main__":
    main()
