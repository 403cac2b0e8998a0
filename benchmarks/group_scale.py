"""Group level over 100, 1,000 and 10,000 synthetic footprints: wall time and peak memory.

Each size is generated into a temporary folder (the participant-level layout, 720-row timelines
as the sampler's compaction caps them), then the group level runs in a fresh child process so
its peak RSS is its own. Prints one table; ``--quick`` runs 100 and 1,000 only (for CI).

    python benchmarks/group_scale.py [--quick] [--sizes 100 1000 10000] [--timeline-rows 720]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child(folder: Path) -> None:
    """Run the group level once and print its timings as JSON (measured in this process)."""
    t0 = time.perf_counter()
    from bids_energy.analysis import collect
    from bids_energy.report import group

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = collect.collect(folder)
    t_collect = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = group.run_group_level(folder, out_dir=folder / "_group")
    t_total = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "n_ok": res["n_ok"],
                "import_s": t_import,
                "collect_s": t_collect,
                "group_level_s": t_total,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "html_kb": res["html"].stat().st_size / 1024,
                "runs": len(got.runs),
            }
        )
    )


def measure(n: int, timeline_rows: int) -> dict:
    from synthdata.footprints import write_footprints

    with tempfile.TemporaryDirectory(prefix=f"group_scale_{n}_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        paths = write_footprints(folder, n, timeline_rows=timeline_rows)
        gen_s = time.perf_counter() - t0
        mb = sum(p.stat().st_size for p in paths) / 1e6
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
    return {"n": n, "input_mb": mb, "generate_s": gen_s, **res}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100 and 1,000 only")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--timeline-rows", type=int, default=720)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    sizes = [s for s in args.sizes if s <= 1000] if args.quick else args.sizes
    print(
        f"{'footprints':>10} {'input MB':>9} {'collect s':>10} {'group level s':>14} "
        f"{'ms/footprint':>13} {'peak RSS MB':>12} {'HTML KB':>8}"
    )
    rows = []
    for n in sizes:
        r = measure(n, args.timeline_rows)
        rows.append(r)
        print(
            f"{n:>10,} {r['input_mb']:>9.1f} {r['collect_s']:>10.2f} "
            f"{r['group_level_s']:>14.2f} {1000 * r['group_level_s'] / n:>13.3f} "
            f"{r['peak_rss_mb']:>12.0f} {r['html_kb']:>8.0f}"
        )
    if len(rows) > 1:
        a, b = rows[-2], rows[-1]
        growth = (b["group_level_s"] / a["group_level_s"]) / (b["n"] / a["n"])
        print(f"time per footprint at {b['n']:,} / at {a['n']:,}: {growth:.2f} (1.0 = linear)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
