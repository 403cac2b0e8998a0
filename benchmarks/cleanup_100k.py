"""Benchmark: classify and delete a 100,000-file participant tree with the fMRIPrep rules.

Builds ``sub-01/func/run-NNNN/`` folders of 100 small files each (one in ten named like a kept
``desc-preproc`` file), then times, each on a fresh tree:

* ``dry-run``: walk + classify + manifest, nothing deleted;
* ``delete``: walk + classify + manifest + unlink + prune emptied folders.

Tree building (and the ``sync`` after it) is not timed. Usage: ``python benchmarks/cleanup_100k.py [--quick] [--files N]
[--dir PATH] [--repeat R] [--fail-over-target]``; ``--quick`` uses 10,000 files. Target: under 5 s for
100,000 files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's bids_energy and synthdata, not an installed copy

from bids_energy.cleanup import run_cleanup  # noqa: E402
from bids_energy.cleanup.rules import default_rules  # noqa: E402
from bids_energy.pipelines.base import Job  # noqa: E402
from synthdata.layouts import make_bulk_participant, make_dataset_files  # noqa: E402

TARGET_S = 5.0


def build(base: Path, n_files: int) -> Job:
    out = base / "out" / "fmriprep"
    make_dataset_files(out)
    make_bulk_participant(out, "01", n_files)
    return Job(
        bids_dir=base / "bids",
        output_root=base / "out",
        pipeline_dir=out,
        work_dir=base / "work" / "sub-01",
        participant="01",
        session=None,
        variants=[],
    )


def one(base_dir: Path | None, n_files: int, mode: str) -> dict:
    base = Path(tempfile.mkdtemp(prefix="cleanup-bench-", dir=base_dir))
    try:
        t0 = time.perf_counter()
        job = build(base, n_files)
        os.sync()  # flush the build's writes, so they are not billed to the cleanup
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = run_cleanup(job, default_rules("fmriprep"), mode=mode)
        elapsed = time.perf_counter() - t0
        return {
            "mode": mode,
            "build_s": round(build_s, 2),
            "cleanup_s": round(elapsed, 3),
            "files_before": summary["files_before"],
            "files_removed": summary["files_removed"],
            "files_to_delete": summary["files_to_delete"],
            "errors": len(summary["errors"]),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10,000 files instead of 100,000")
    p.add_argument("--files", type=int, default=None)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--dir", type=Path, default=None, help="where to build the trees")
    p.add_argument(
        "--fail-over-target", action="store_true", help="exit 1 when the scaled time misses 5 s"
    )
    args = p.parse_args(argv)
    n = args.files or (10_000 if args.quick else 100_000)
    results = []
    for mode in ("dry-run", "delete"):
        runs = [one(args.dir, n, mode) for _ in range(args.repeat)]
        times = [r["cleanup_s"] for r in runs]
        res = {**runs[-1], "cleanup_s_median": statistics.median(times), "cleanup_s_all": times}
        results.append(res)
        print(
            f"{mode:8s} {n:>7,d} files: {res['cleanup_s_median']:.2f} s "
            f"({res['files_to_delete']:,} marked delete, {res['files_removed']:,} removed; "
            f"tree built in {res['build_s']:.1f} s, not timed)"
        )
    delete_s = results[-1]["cleanup_s_median"]
    scaled = delete_s * 100_000 / n
    verdict = "meets" if scaled < TARGET_S else "misses"
    print(f"target: < {TARGET_S:.0f} s per 100,000 files -> {scaled:.2f} s scaled ({verdict})")
    print(
        json.dumps(
            {
                "files": n,
                "machine": platform.processor() or platform.machine(),
                "python": platform.python_version(),
                "results": results,
            }
        )
    )
    return 1 if args.fail_over_target and scaled >= TARGET_S else 0


if __name__ == "__main__":
    raise SystemExit(main())
