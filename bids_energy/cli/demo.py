"""`bids-energy demo`: a newcomer's first run on a synthetic dataset; `bids-energy synthetic`."""

from __future__ import annotations

import argparse
from pathlib import Path

from bids_energy.cli.parser import BidsAppParser, positive_int


def synthetic_main(argv: list[str]) -> int:
    p = BidsAppParser(prog="bids-energy synthetic",
                      description="Write a small synthetic BIDS dataset (participants made from "
                      "the MNI152 2009a template; needs the [demo] extra).")
    p.add_argument("bids_dir", type=Path)
    p.add_argument("--participants", type=positive_int, default=3)
    p.add_argument("--sessions", nargs="+", default=None)
    a = p.parse_args(argv)
    from bids_energy.synthetic import make_synthetic_dataset

    path = make_synthetic_dataset(a.bids_dir, a.participants, a.sessions)
    print(path)
    return 0


DEMO_VARIANTS = ("baseline", "sloppy", "affine-only")


def main(argv: list[str]) -> int:
    p = BidsAppParser(
        prog="bids-energy demo",
        description="Generate a synthetic BIDS dataset, run the demo pipeline (ANTs) in several "
        "variants on every participant with measurement, then the group level: what each "
        "variant saves against the baseline, with its interval, beside its quality.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--dir", type=Path, default=Path("bids-energy-demo"),
                   help="folder for the dataset (ds/) and the outputs (out/)")
    p.add_argument("--participants", type=positive_int, default=2)
    p.add_argument("--variants", nargs="+", default=list(DEMO_VARIANTS),
                   help="demo pipeline variants to run (see --list-variants)")
    p.add_argument("--region", default="CA-QC", help="carbon-intensity region")
    p.add_argument("--pue", default="1.2", help="power usage effectiveness")
    a = p.parse_args(argv)
    from bids_energy.cli.run import main as run_main
    from bids_energy.synthetic import make_synthetic_dataset
    from bids_energy.template import require_demo_extra

    require_demo_extra()  # before a dataset is made: one line naming the install command
    ds = a.dir / "ds"
    out = a.dir / "out"
    if not (ds / "dataset_description.json").exists():
        make_synthetic_dataset(ds, a.participants)
        print(f"synthetic dataset: {ds}")
    common = ["--pipeline", "demo", "--region", a.region, "--pue", a.pue]
    for variant in a.variants:
        print(f"== demo variant {variant}")
        rc = run_main([str(ds), str(out), "participant", "--variant", variant, *common])
        if rc != 0:
            return rc
    rc = run_main([str(ds), str(out), "group"])
    if rc == 0:
        print(summary(out))
    return rc


def summary(out: Path) -> str:
    """Each variant's CO2e change against the baseline (95% interval) beside its quality."""
    import pandas as pd

    from bids_energy.analysis import stats
    from bids_energy.analysis.quality_files import read_quality_files
    from bids_energy.report.group import TSV_NAME

    runs = pd.read_csv(out / TSV_NAME, sep="\t", dtype={"participant": str, "session": str})
    changes = {r["variant"]: r for r in stats.paired_changes(runs, "co2e_g").to_dict("records")}
    quality, metric, higher = read_quality_files(out)
    lines = ["variant        CO2e change vs baseline (95% CI)    " + (metric or "quality")
             + "   Pareto"]
    points = (stats.quality_points(runs, quality, metric, higher) if quality is not None
              else pd.DataFrame(columns=["variant", "quality_mean", "pareto"]))
    for _, q in points.iterrows():
        c = changes.get(q["variant"])
        change = ("(reference)" if q["variant"] == stats.BASELINE else
                  f"{_pct(c['change_pct_mean'])} [{_pct(c['ci_lo_pct'])}, {_pct(c['ci_hi_pct'])}]"
                  if c else "n/a")
        lines.append(f"{q['variant']:<14} {change:<35} {q['quality_mean']:.3f}    "
                     f"{'yes' if q['pareto'] else 'no'}")
    return "\n".join(lines)


def _pct(value) -> str:
    """A signed percentage; n/a when missing (one participant gives no interval)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else f"{v:+.1f}%"

