#!/usr/bin/env python3
"""BIDS-App entry point: run.py bids_dir output_dir {participant,group} [options]."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bids_energy.cli.run import entry_point  # noqa: E402

if __name__ == "__main__":
    entry_point()
