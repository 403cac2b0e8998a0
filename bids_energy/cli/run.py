"""The run of each analysis level; the only place that turns errors into exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from bids_energy.cli.parser import ANALYSIS_LEVELS, parse_args
from bids_energy.errors import BidsEnergyError, ExitCode, UsageError

log = logging.getLogger("bids_energy")


def _subcommand(argv: list[str]):
    """`bids-energy estimate|slurm|demo|synthetic ...` dispatch to their own parsers."""
    if not argv or argv[0].startswith("-"):
        return None
    name = argv[0]
    if name == "estimate":
        from bids_energy.cli.estimate import main as sub
    elif name == "slurm":
        from bids_energy.cli.slurm import main as sub
    elif name == "demo":
        from bids_energy.cli.demo import main as sub
    elif name == "synthetic":
        from bids_energy.cli.demo import synthetic_main as sub
    else:
        return None
    return lambda: sub(argv[1:])


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(level=level, format="bids-energy: %(levelname)s: %(message)s",
                        stream=sys.stderr)
    for noisy in ("codecarbon", "bids", "urllib3", "nibabel"):
        logging.getLogger(noisy).setLevel(max(level, logging.ERROR))


def check_levels(levels: list[str]) -> list[str]:
    bad = [lv for lv in levels if lv not in ANALYSIS_LEVELS]
    if bad:
        raise UsageError(f"unknown analysis level {bad[0]!r}; use participant and/or group",
                         exit_code=ExitCode.UNKNOWN_LEVEL)
    ordered = [lv for lv in ANALYSIS_LEVELS if lv in levels]
    return ordered


def run_levels(opts) -> int:
    """The analysis levels asked for, in order; the namespace becomes settings once, here."""
    from bids_energy.app.participant import list_variants, run_participant_level
    from bids_energy.cli.participant import settings_from_args

    levels = check_levels(opts.analysis_level)
    if opts.list_variants:
        print(list_variants(opts.pipeline))
        return ExitCode.OK
    settings = settings_from_args(opts)
    rc = ExitCode.OK
    if "participant" in levels:
        rc = run_participant_level(settings)
        if rc != ExitCode.OK or settings.execution.dry_run:
            return rc
    if "group" in levels:
        from bids_energy.cli.group import run_group

        rc = run_group(settings)
    return rc


def exit_code_of(run: Callable[[], int | None], prog: str = "bids-energy") -> int:
    """Run ``run`` and turn what it raises into one stderr line and its exit code.

    The one place errors become exit codes: the BIDS-App levels and every subcommand's
    ``main`` (estimate, slurm, demo, synthetic) go through it. Usage errors from argparse
    exit 64 already (``BidsAppParser``).
    """
    try:
        return int(run() or 0)
    except BidsEnergyError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    sub = _subcommand(argv)
    if sub is not None:
        configure_logging(0)
        return int(sub() or 0)
    opts = parse_args(argv)
    configure_logging(opts.verbose)
    return run_levels(opts)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return exit_code_of(lambda: _main(argv))


def entry_point() -> None:  # for run.py
    raise SystemExit(main())


if __name__ == "__main__":
    entry_point()
