"""``bids-energy estimate``: energy and carbon without a meter.

Three questions, one per mode: how much will this run cost (Green Algorithms, before),
how much did these Slurm jobs cost (GA4HPC from sacct, after), and how much will the
whole study cost (from a pilot's footprints). Every figure is printed with the constant
and source behind it, and the method ``estimated: ...``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from bids_energy.cli.parser import (
    BidsAppParser,
    fraction,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)
from bids_energy.errors import InputMissingError, UsageError
from bids_energy.estimate import green_algorithms as ga
from bids_energy.estimate.before import estimate_before as ga_before
from bids_energy.estimate.before import intensity
from bids_energy.estimate.cluster import load_cluster_config
from bids_energy.estimate.jobs import SACCT_COLUMNS, estimate_sacct, run_sacct
from bids_energy.estimate.sacct import SACCT_FIELDS

PREDICTION_METHOD = ("N x mean over the pilot's successful runs, 95% t-interval on the mean "
                     "(bids_energy.analysis.stats.extrapolate, as group --extrapolate)")

__all__ = ["SACCT_COLUMNS", "build_parser", "estimate_sacct", "main", "run_sacct"]


def _job_ids(text: str) -> list[str]:
    ids = [t.strip() for t in text.split(",") if t.strip()]
    if not ids or not all(t.replace("_", "").isdigit() for t in ids):
        raise argparse.ArgumentTypeError(f"job ids are numbers separated by commas: {text!r}")
    return ids


def build_parser() -> argparse.ArgumentParser:
    p = BidsAppParser(
        prog="bids-energy estimate",
        description="Estimate energy (kWh) and carbon (CO2e) before a run (Green Algorithms), "
        "after Slurm jobs (GA4HPC from sacct), or for a whole study from a pilot.",
        epilog="Example: bids-energy estimate --cores 8 --hours 8.3 --mem-gb 16 --region CA-QC",
    )
    before = p.add_argument_group("before a run (Green Algorithms)")
    before.add_argument("--hours", type=positive_float, help="run time in hours")
    before.add_argument("--cores", type=nonneg_int, help="CPU cores used")
    before.add_argument("--mem-gb", type=nonneg_float, default=0.0, help="memory reserved (GB)")
    before.add_argument("--gpus", type=nonneg_int, default=0, help="GPUs used")
    before.add_argument(
        "--core-power-w",
        type=positive_float,
        default=None,
        help=f"power per core (W); default {ga.CORE_POWER_W}",
    )
    before.add_argument(
        "--gpu-power-w",
        type=positive_float,
        default=None,
        help=f"power per GPU (W); default {ga.GPU_POWER_W}",
    )
    before.add_argument(
        "--mem-power-w-per-gb",
        type=positive_float,
        default=None,
        help=f"memory power (W/GB); default {ga.MEM_POWER_W_PER_GB}",
    )
    before.add_argument(
        "--usage", type=fraction, default=1.0, help="CPU usage factor (0-1]; default 1.0"
    )
    before.add_argument(
        "--gpu-usage", type=fraction, default=1.0, help="GPU usage factor (0-1]; default 1.0"
    )
    before.add_argument(
        "--psf",
        type=positive_float,
        default=1.0,
        help="pragmatic scaling factor (number of times the run is repeated)",
    )

    after = p.add_argument_group("after Slurm jobs (GA4HPC)")
    src = after.add_mutually_exclusive_group()
    src.add_argument(
        "--sacct", type=Path, metavar="FILE", help=f"output of: sacct --format {SACCT_FIELDS} -P"
    )
    src.add_argument("--jobs", type=_job_ids, metavar="ID[,ID]", help="call sacct for these jobs")
    after.add_argument(
        "--cluster-config",
        type=Path,
        metavar="TOML",
        help="per-partition tdp_per_core_w, gpu_tdp_w, pue, region/ci_g_per_kwh",
    )
    after.add_argument("--report", type=Path, metavar="DIR", help="also write the group HTML here")

    plan = p.add_argument_group("plan a study from a pilot")
    plan.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        metavar="OUT_DIR",
        help="bids-energy output folder holding the pilot's *_footprint.json",
    )
    plan.add_argument(
        "--participants",
        type=positive_int,
        metavar="N",
        help="number of participants in the full study",
    )

    carbon = p.add_argument_group("carbon")
    carbon.add_argument("--country-code", help="ISO 3166-1 code: CAN, USA, FRA (or CA, US, FR)")
    carbon.add_argument("--region", help="ISO 3166-2 code: CA-QC, CA-ON, US-CA ...")
    carbon.add_argument(
        "--ci-g-per-kwh",
        type=nonneg_float,
        default=None,
        help="carbon intensity to use instead of the table",
    )
    carbon.add_argument(
        "--pue",
        type=float,
        default=None,
        help=f"power usage effectiveness; default {ga.GA_PUE} before a run "
        "(Green Algorithms), cluster config or 1.0 for sacct",
    )

    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--out", type=Path, metavar="FILE", help="write the table here (TSV)")
    return p


def _mode(args: argparse.Namespace) -> str:
    modes = []
    if args.hours is not None or args.cores is not None:
        modes.append("before")
    if args.sacct is not None or args.jobs is not None:
        modes.append("sacct")
    if args.from_dir is not None or args.participants is not None:
        modes.append("plan")
    if len(modes) != 1:
        raise UsageError(
            "choose one: --hours/--cores (before a run), --sacct/--jobs (after), "
            "or --from/--participants (plan a study)"
        )
    return modes[0]


def estimate_before(args: argparse.Namespace) -> dict[str, Any]:
    """Green Algorithms for a planned run, from the parsed options."""
    if args.hours is None or args.cores is None:
        raise UsageError("before a run, give both --hours and --cores")
    return ga_before(
        hours=args.hours, cores=args.cores, usage=args.usage, gpus=args.gpus,
        gpu_usage=args.gpu_usage, mem_gb=args.mem_gb, psf=args.psf,
        core_power_w=args.core_power_w, gpu_power_w=args.gpu_power_w,
        mem_power_w_per_gb=args.mem_power_w_per_gb, pue=args.pue,
        ci=intensity(args.ci_g_per_kwh, args.country_code, args.region),
    )  # fmt: skip


def format_before(r: dict[str, Any]) -> str:
    c, i = r["constants"], r["inputs"]
    comp = r["components_kwh"]
    lines = [
        f"Estimate ({r['method']}): E = hours x (cores x P_core x usage + gpus x P_gpu x "
        "usage_gpu + mem_gb x P_mem) x PUE x PSF / 1000",
        f"  hours              {i['hours']:g} h",
        f"  cores              {i['cores']} x {c['core_power_w']['value']:g} W x usage "
        f"{i['usage']:g}    [{c['core_power_w']['source']}]",
        f"  gpus               {i['gpus']} x {c['gpu_power_w']['value']:g} W x usage "
        f"{i['gpu_usage']:g}    [{c['gpu_power_w']['source']}]",
        f"  memory             {i['mem_gb']:g} GB x {c['mem_power_w_per_gb']['value']:g} W/GB"
        f"    [{c['mem_power_w_per_gb']['source']}]",
        f"  PUE                {c['pue']['value']:g}    [{c['pue']['source']}]",
        f"  PSF                {i['psf']:g}",
        f"  carbon intensity   {c['ci_g_per_kwh']['value']:g} g/kWh, zone "
        f"{c['ci_g_per_kwh']['zone']} ({c['ci_g_per_kwh']['method']}; "
        f"{c['ci_g_per_kwh']['source']}; year {c['ci_g_per_kwh']['year']})",
        f"  energy             {r['energy_kwh']:.4g} kWh (cpu {comp['cpu']:.4g}, gpu "
        f"{comp['gpu']:.4g}, memory {comp['memory']:.4g}; PUE included)",
        f"  CO2e               {r['co2e_g']:.4g} g",
        f"  method             {r['method']}",
    ]
    lines += [f"  note: {n}" for n in r["notes"]]
    return "\n".join(lines) + "\n"


def _cell(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def to_tsv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue()


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, "utf-8")
    except OSError as exc:
        from bids_energy.errors import WriteError

        raise WriteError(f"cannot write {out}: {exc}") from exc


def _render_report(rows: list[dict], report_dir: Path) -> Path:
    """The group HTML of these jobs in ``report_dir``; its path goes to stderr."""
    from bids_energy.report.group import render_group_report

    path = render_group_report(rows, report_dir)
    print(f"bids-energy: report written to {path}", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors become one line on stderr and their exit code (cli.run)."""
    from bids_energy.cli.run import exit_code_of

    args = build_parser().parse_args(argv)
    return exit_code_of(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    mode = _mode(args)
    if mode == "before":
        r = estimate_before(args)
        _emit(json.dumps(r, indent=2) + "\n" if args.json else format_before(r), args.out)
        return 0
    if mode == "sacct":
        config = load_cluster_config(args.cluster_config) if args.cluster_config else {}
        if args.sacct is not None:
            try:
                text = args.sacct.read_text("utf-8")
            except OSError as exc:
                raise InputMissingError(f"cannot read {args.sacct}: {exc}") from exc
        else:
            text = run_sacct(args.jobs)
        overrides = {"pue": args.pue, "region": args.region, "country_code": args.country_code,
                     "ci_g_per_kwh": args.ci_g_per_kwh}  # fmt: skip
        rows = estimate_sacct(text, config, overrides)
        if args.json:
            _emit(json.dumps({"method": ga.GA4HPC_METHOD, "jobs": rows}, indent=2) + "\n", args.out)
        else:
            _emit(to_tsv(rows, SACCT_COLUMNS), args.out)
        if args.report is not None:
            _render_report(rows, args.report)
        return 0
    if args.from_dir is None or args.participants is None:
        raise UsageError("to plan a study give both --from OUT_DIR and --participants N")
    table = plan_from_pilot(args.from_dir, args.participants)
    if args.json:
        _emit(json.dumps({"method": PREDICTION_METHOD, "rows": table}, indent=2) + "\n", args.out)
    elif table:
        _emit(to_tsv(table, list(table[0].keys())), args.out)
    return 0


def plan_from_pilot(from_dir: Path, n_participants: int) -> list[dict]:
    """The group level's prediction (analysis.stats.extrapolate) on the pilot's footprints,
    read by the group level's reader: the same numbers ``group --extrapolate N`` reports."""
    from bids_energy.analysis.collect import collect
    from bids_energy.analysis.stats import extrapolate, successful

    if not Path(from_dir).is_dir():
        raise InputMissingError(f"--from directory not found: {from_dir}")
    got = collect(Path(from_dir))
    if got.skipped:
        print(f"bids-energy estimate: skipped {len(got.skipped)} unreadable footprint file(s)",
              file=sys.stderr)
    if successful(got.runs).empty:
        raise InputMissingError(f"no successful *_footprint.json under {from_dir}")
    table = extrapolate(got.runs, n_participants)
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
