"""Registry of wrapped pipelines; adapters are imported only when asked for."""

from __future__ import annotations

import importlib

from bids_energy.errors import UsageError
from bids_energy.pipelines.base import Job, Pipeline, Variant

REGISTRY: dict[str, str] = {
    "demo": "bids_energy.pipelines.demo:DemoPipeline",
    "command": "bids_energy.pipelines.command:CommandPipeline",
    "fmriprep": "bids_energy.pipelines.fmriprep:FmriprepPipeline",
    "fastsurfer": "bids_energy.pipelines.fastsurfer:FastSurferPipeline",
    "freesurfer": "bids_energy.pipelines.freesurfer:FreeSurferPipeline",
}


def get_pipeline(name: str) -> Pipeline:
    """Instantiate the adapter for ``name``; unknown names are usage errors (exit 64)."""
    target = REGISTRY.get(name)
    if target is None:
        raise UsageError(f"unknown pipeline {name!r}; choose one of: {', '.join(sorted(REGISTRY))}")
    module_name, cls_name = target.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)()


__all__ = ["Job", "Pipeline", "Variant", "REGISTRY", "get_pipeline"]
