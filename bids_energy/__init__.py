"""bids-energy: what a neuroimaging pipeline run really costs, measured per participant."""

__version__ = "0.1.0"
