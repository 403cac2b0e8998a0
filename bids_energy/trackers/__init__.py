"""Other trackers run beside ours for comparison; they never change our figures.

One module per tracker (CodeCarbon, eco2AI, carbontracker, Zeus) plus the Green Algorithms
estimate, one interface (:mod:`bids_energy.trackers.base`), a registry of names and the
runner the participant level calls (:mod:`bids_energy.trackers.runner`).
"""
