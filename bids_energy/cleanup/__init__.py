"""Junk-file cleanup after a successful participant run, safe by construction.

Public API: ``run_cleanup`` (what the participant level calls), ``Classifier`` and
``validate_glob`` (for the CLI to check ``--keep``/``--delete`` early), ``default_rules``.
See docs/cleanup.md for the rules, the protected set and the manifest.
"""

from bids_energy.cleanup.manifest import read_manifest
from bids_energy.cleanup.patterns import PROTECTED_GLOBS, Classifier, validate_glob
from bids_energy.cleanup.rules import DEFAULTS, default_rules
from bids_energy.cleanup.run import MODES, run_cleanup

__all__ = [
    "DEFAULTS",
    "MODES",
    "PROTECTED_GLOBS",
    "Classifier",
    "default_rules",
    "read_manifest",
    "run_cleanup",
    "validate_glob",
]
