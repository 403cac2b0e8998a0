"""The application: what a BIDS-App invocation does, given its settings.

``settings.py`` holds what was asked (frozen sections, built once from the command line);
``participant.py`` plans the participant level (pipeline resolved, participants selected,
one job each, dry run); ``measured.py`` runs and measures one job and writes its footprint;
``outputs.py`` writes a footprint and its report, shared with ``bids_energy.measure``. The
command line (``cli/``) only turns arguments into settings and calls in here.
"""
