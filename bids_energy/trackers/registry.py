"""Which trackers ``--compare-trackers`` knows, and the rows each one produces.

Importing this module imports none of the trackers' libraries (the parser uses the names);
:func:`build` creates the row objects, each of which imports its library only in ``begin()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bids_energy.trackers.base import Tracker, TrackerSettings

# name on the command line -> (row name, PyPI distribution) for each row it adds
ROWS: dict[str, tuple[str, ...]] = {
    "codecarbon": ("codecarbon-machine", "codecarbon-process"),
    "eco2ai": ("eco2ai",),
    "carbontracker": ("carbontracker",),
    "zeus": ("zeus",),
}
TRACKER_NAMES: tuple[str, ...] = tuple(ROWS)
ALL = "all"
CHOICES: tuple[str, ...] = (*TRACKER_NAMES, ALL)
ESTIMATE_ROW = "green-algorithms"


def _factories() -> dict[str, Callable[[TrackerSettings], Tracker]]:
    from bids_energy.trackers.carbontracker_tracker import CarbonTrackerTracker
    from bids_energy.trackers.codecarbon_tracker import CodeCarbonTracker
    from bids_energy.trackers.eco2ai_tracker import Eco2AITracker
    from bids_energy.trackers.green_algorithms_row import GreenAlgorithmsRow
    from bids_energy.trackers.zeus_tracker import ZeusTracker

    return {
        "codecarbon-machine": lambda s: CodeCarbonTracker(s, "machine"),
        "codecarbon-process": lambda s: CodeCarbonTracker(s, "process"),
        "eco2ai": Eco2AITracker,
        "carbontracker": CarbonTrackerTracker,
        "zeus": ZeusTracker,
        ESTIMATE_ROW: GreenAlgorithmsRow,
    }


def row_names(names: Iterable[str]) -> list[str]:
    """Rows for the requested trackers, in registry order, plus the Green Algorithms row."""
    wanted = set(names)
    if ALL in wanted:
        wanted = set(TRACKER_NAMES)
    unknown = wanted - set(TRACKER_NAMES)
    if unknown:
        raise ValueError(f"unknown tracker(s): {', '.join(sorted(unknown))}")
    rows = [r for n in TRACKER_NAMES if n in wanted for r in ROWS[n]]
    return [*rows, ESTIMATE_ROW] if rows else []


def build(names: Iterable[str], settings: TrackerSettings) -> list[Tracker]:
    rows = row_names(names)
    if not rows:  # the common case: no tracker module is even imported
        return []
    factories = _factories()
    return [factories[r](settings) for r in rows]
