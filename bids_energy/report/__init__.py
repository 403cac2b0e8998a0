"""HTML reports (participant and group) and the group-level aggregation.

Entry points: :func:`bids_energy.report.participant.render_participant_report` and
:func:`bids_energy.report.group.run_group_level`.
"""
