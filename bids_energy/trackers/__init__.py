"""Other trackers run beside ours for comparison; they never change our figures."""
