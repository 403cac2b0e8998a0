"""`bids-energy demo`: a newcomer's first run on a synthetic dataset; `bids-energy synthetic`."""

from __future__ import annotations

import argparse
from pathlib import Path

from bids_energy.cli.parser import BidsAppParser, positive_int


def synthetic_main(argv: list[str]) -> int:
    p = BidsAppParser(prog="bids-energy synthetic",
                      description="Write a small synthetic BIDS dataset (head phantoms).")
    p.add_argument("bids_dir", type=Path)
    p.add_argument("--participants", type=positive_int, default=3)
    p.add_argument("--sessions", nargs="+", default=None)
    a = p.parse_args(argv)
    from bids_energy.synthetic import make_synthetic_dataset

    path = make_synthetic_dataset(a.bids_dir, a.participants, a.sessions)
    print(path)
    return 0


def main(argv: list[str]) -> int:
    p = BidsAppParser(
        prog="bids-energy demo",
        description="Generate a synthetic BIDS dataset, run the demo pipeline on every "
        "participant with measurement, then the group level, and say where it all landed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--dir", type=Path, default=Path("bids-energy-demo"),
                   help="folder for the dataset (ds/) and the outputs (out/)")
    p.add_argument("--participants", type=positive_int, default=2)
    p.add_argument("--region", default="CA-QC", help="carbon-intensity region")
    p.add_argument("--pue", default="1.2", help="power usage effectiveness")
    a = p.parse_args(argv)
    from bids_energy.cli.run import main as run_main
    from bids_energy.synthetic import make_synthetic_dataset

    ds = a.dir / "ds"
    out = a.dir / "out"
    if not (ds / "dataset_description.json").exists():
        make_synthetic_dataset(ds, a.participants)
        print(f"synthetic dataset: {ds}")
    rc = run_main([str(ds), str(out), "participant", "group", "--pipeline", "demo",
                   "--region", a.region, "--pue", a.pue])
    if rc == 0:
        found = sorted(out.rglob("*_footprint.json"))
        print("footprints:")
        for f in found:
            print(f"  {f}")
    return rc
