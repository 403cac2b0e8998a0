"""bids-energy: what a neuroimaging pipeline run really costs, measured per participant."""

__version__ = "0.1.0"

from bids_energy.phases import phase  # noqa: E402


def measure(*args, **kwargs):
    """Measure the current process and its children (see ``bids_energy.api.measure``).

    Imported lazily so ``import bids_energy`` stays light inside pipeline images.
    """
    from bids_energy.api import measure as _measure

    return _measure(*args, **kwargs)


__all__ = ["__version__", "measure", "phase"]
