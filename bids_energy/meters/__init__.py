"""Energy meters, the sampler that drives them, and energy by step.

Public entry points: ``create_sampler`` (used by the runner around each pipeline run) and
``describe_meters`` (for --dry-run and reports: which source each component would use here).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bids_energy.meters.cputime import choose_attribution
from bids_energy.meters.results import SamplerResult
from bids_energy.meters.sampler import Sampler, create_sampler
from bids_energy.meters.select import describe_meters as _describe_energy
from bids_energy.meters.steps import COMMON_STEP_MAP


def describe_meters(proc_root: str = "/proc", sys_root: str = "/sys",
                    env: Mapping[str, str] | None = None, powercap_root: str | None = None
                    ) -> list[dict]:
    """One dict per component (cpu, memory, gpu) and one for attribution: source, used, why."""
    out = _describe_energy(proc_root, sys_root, env, powercap_root)
    choice = choose_attribution("auto", os.getpid(), proc_root, sys_root)
    out.append({"component": "attribution", "source": choice.mode, "used": True,
                "why": choice.reason})
    return out


__all__ = ["COMMON_STEP_MAP", "Sampler", "SamplerResult", "create_sampler", "describe_meters"]
