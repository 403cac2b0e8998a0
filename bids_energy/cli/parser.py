"""The BIDS-App command line, built by one function so it can be tested alone.

Parsing has no side effects: nothing is created, indexed or measured here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bids_energy import __version__
from bids_energy.errors import ExitCode

ANALYSIS_LEVELS = ("participant", "group")
SUBCOMMANDS = ("estimate", "slurm", "demo", "synthetic")


class BidsAppParser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; the BIDS execution spec says 64."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


# --- small argument types ---------------------------------------------------------------

def label(entity: str):
    def _parse(value: str) -> str:
        from bids_energy.bids import normalize_label
        from bids_energy.errors import UsageError

        try:
            return normalize_label(value, entity)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    _parse.__name__ = f"{entity}_label"
    return _parse


def number_type(cast: type, kind: str, ok, rule: str, name: str):
    """An argparse type: ``cast(value)`` that must be finite and satisfy ``ok``, else an
    error naming what was expected (``rule``); one parser behind every numeric option."""

    def parse(value: str):
        try:
            x = cast(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {kind}") from None
        if x != x or x in (float("inf"), float("-inf")) or not ok(x):
            raise argparse.ArgumentTypeError(f"{value!r} {rule}")
        return x

    parse.__name__ = name
    return parse


positive_int = number_type(int, "an integer", lambda n: n >= 1, "must be 1 or more",
                           "positive_int")
positive_float = number_type(float, "a number", lambda x: x > 0, "must be a positive number",
                             "positive_float")


def sampling_interval(value: str) -> float:
    x = positive_float(value)
    if x < 0.05 or x > 3600:
        raise argparse.ArgumentTypeError("sampling interval must be between 0.05 and 3600 seconds")
    return x


def pue_value(value: str) -> float:
    x = positive_float(value)
    if x < 1.0 or x > 3.0:
        raise argparse.ArgumentTypeError(f"PUE {value} is outside 1.0-3.0 (1.0 = no overhead)")
    return x


def cleanup_glob(value: str) -> str:
    from bids_energy.cleanup import validate_glob
    from bids_energy.errors import UsageError

    try:
        return validate_glob(value)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def path_arg(value: str) -> Path:
    if not value or "\x00" in value:
        raise argparse.ArgumentTypeError("empty or invalid path")
    return Path(value).expanduser()


def country_code(value: str) -> str:
    v = value.strip().upper()
    if not v.isalpha() or len(v) not in (2, 3):
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 3166 country code (e.g. CAN, FR)")
    return v


def region_code(value: str) -> str:
    v = value.strip().upper()
    parts = v.split("-")
    if len(parts) != 2 or not parts[0].isalpha() or not parts[1].isalnum() or not (1 <= len(parts[1]) <= 3):
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 3166-2 region code (e.g. CA-QC, US-CA)")
    return v


# --- argument types shared with `bids-energy estimate` ----------------------------------

nonneg_float = number_type(float, "a number", lambda x: x >= 0, "must be 0 or more",
                           "nonneg_float")
nonneg_int = number_type(int, "an integer", lambda n: n >= 0, "must be 0 or more", "nonneg_int")
fraction = number_type(float, "a number", lambda x: 0 < x <= 1, "is a fraction in (0, 1]",
                       "fraction")  # a share, e.g. a usage factor


# --- the parser -------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = BidsAppParser(
        prog="bids-energy",
        description="Run a neuroimaging pipeline per participant and measure what it costs: "
        "time, CPU, memory, energy (measured where the hardware allows, estimated otherwise, "
        "always labelled) and CO2e. Extra arguments after '--' go to the wrapped pipeline. "
        f"Other commands: {', '.join('bids-energy ' + s for s in SUBCOMMANDS)} (each has --help).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("bids_dir", type=path_arg, help="the input BIDS dataset (read only)")
    p.add_argument("output_dir", type=path_arg, help="where derivatives and footprints go")
    p.add_argument("analysis_level", nargs="+", metavar="{participant,group}",
                   help="participant, group, or both in that order")
    p.add_argument("--version", action="version", version=f"bids-energy {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")

    g = p.add_argument_group("selecting data")
    g.add_argument("--participant-label", "--participant_label", dest="participant_label",
                   nargs="+", type=label("sub"), metavar="LABEL",
                   help="participants to run (with or without 'sub-'); default: all")
    g.add_argument("--session-label", "--session_label", dest="session_label", nargs="+",
                   type=label("ses"), metavar="LABEL", help="sessions to run; default: all")

    g = p.add_argument_group("pipeline")
    g.add_argument("--pipeline", default="demo",
                   help="demo, command, fmriprep, fastsurfer or freesurfer")
    g.add_argument("--variant", action="append", default=[], metavar="NAME",
                   help="named variant (repeatable); see --list-variants")
    g.add_argument("--list-variants", action="store_true", help="print the pipeline's variants and exit")
    g.add_argument("--pipeline-bin", metavar="PATH", help="the pipeline executable (default: on PATH)")
    g.add_argument("--fs-license-file", type=path_arg, metavar="PATH",
                   help="FreeSurfer license (else $FS_LICENSE, else $FREESURFER_HOME/license.txt)")
    g.add_argument("--command-template", metavar="CMD",
                   help="for --pipeline command: the command with {bids_dir} {output_dir} "
                   "{participant} {session} {work_dir} {nthreads} placeholders (or give it after --)")
    g.add_argument("-w", "--work-dir", type=path_arg, metavar="DIR",
                   help="scratch folder for the pipeline (default: <output_dir>/work)")
    g.add_argument("--dry-run", action="store_true",
                   help="print the exact command per participant and run nothing")

    g = p.add_argument_group("resources")
    g.add_argument("--nthreads", type=positive_int, metavar="N", help="threads for the pipeline")
    g.add_argument("--mem-gb", type=positive_float, metavar="GB", help="memory for the pipeline")

    g = p.add_argument_group("measurement and carbon")
    g.add_argument("--sampling-interval", type=sampling_interval, default=1.0, metavar="S",
                   help="seconds between meter readings")
    g.add_argument("--attribution", choices=("auto", "cgroup", "process"), default="auto",
                   help="how the job's CPU time is separated from the node's: its own cgroup "
                   "(containers) or its process tree")
    # -- shared-node energy (issue 13: RAPL in containers, idle power) --
    g.add_argument("--powercap-root", type=path_arg, metavar="DIR",
                   help="where the RAPL powercap tree is (default /sys/class/powercap); in a "
                   "container, the host's tree bind-mounted read-only")
    g.add_argument("--idle-power-w", type=positive_float, metavar="W",
                   help="the node's idle CPU package power, if known; else estimated from the "
                   "run when its load varied, else 0.2 x TDP (docs/measurement.md)")
    g.add_argument("--country-code", type=country_code, metavar="ISO",
                   help="country for carbon intensity (ISO 3166, e.g. CAN)")
    g.add_argument("--region", type=region_code, metavar="ISO-2",
                   help="sub-national region where the grid differs (ISO 3166-2, e.g. CA-QC)")
    g.add_argument("--pue", type=pue_value, metavar="X",
                   help="data-centre power usage effectiveness (default 1.0: IT energy only)")
    from bids_energy.trackers.registry import CHOICES as TRACKERS  # names only, no libraries

    g.add_argument("--compare-trackers", nargs="+", choices=TRACKERS, default=[],
                   metavar="TRACKER", help="also run these trackers over the same run, plus the "
                   f"Green Algorithms estimate: {', '.join(TRACKERS)} (codecarbon gives two rows, "
                   "machine and process mode); pip install 'bids-energy[trackers]'")
    g.add_argument("--grace-period", type=positive_float, default=20.0, metavar="S",
                   help="on SIGTERM/SIGINT, seconds the pipeline gets before SIGKILL")

    g = p.add_argument_group("cleanup (after a successful run only)")
    g.add_argument("--cleanup", choices=("off", "dry-run", "delete"), default="dry-run",
                   help="remove the pipeline's junk files; dry-run lists what would go")
    g.add_argument("--keep", action="append", default=[], type=cleanup_glob, metavar="GLOB",
                   help="never delete these (relative to the pipeline's output folder)")
    g.add_argument("--delete", action="append", default=[], type=cleanup_glob, metavar="GLOB",
                   help="also delete these")

    g = p.add_argument_group("reports")
    g.add_argument("--no-report", action="store_true", help="skip the participant HTML report")
    g.add_argument("--extrapolate", type=positive_int, default=10000, metavar="N",
                   help="group level: what N scans would cost")
    g.add_argument("--quality-tsv", type=path_arg, metavar="TSV",
                   help="group level: a quality metric per participant and variant")
    g.add_argument("--quality-lower-is-better", action="store_true",
                   help="group level: the quality metric is an error (lower is better) for "
                   "the Pareto front")
    # quality tables as researchers have them (issue 14): BIDS-style and MRIQC group tables
    g.add_argument("--quality-metric", metavar="NAME",
                   help="group level: the --quality-tsv column to use (e.g. an MRIQC IQM such "
                   "as cnr or cjv); its direction defaults to MRIQC's documented one")
    g.add_argument("--quality-higher-is-better", action="store_true",
                   help="group level: the quality metric is a score (higher is better), "
                   "overriding a known IQM's default")
    return p


def split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split at the first '--': our arguments, then the wrapped pipeline's."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def parse_args(argv: list[str]) -> argparse.Namespace:
    ours, extra = split_extra(list(argv))
    opts = build_parser().parse_args(ours)
    opts.extra_args = extra
    opts.argv = list(argv)
    return opts
