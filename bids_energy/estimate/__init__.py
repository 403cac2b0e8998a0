"""Estimates without a meter: before a run (Green Algorithms), after it (GA4HPC from sacct),
and for a whole study (from the footprints of a pilot)."""
