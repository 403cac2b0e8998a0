"""The per-participant footprint record: its shape, its schema, writing and reading it.

One package owns the record: ``record.py`` assembles it (what ran, where, the carbon
inputs), ``measured.py`` turns the sampler's typed results into the ``energy``,
``attribution``, ``hardware``, ``timeline``, ``steps`` and ``phases`` blocks (their key
names live there and nowhere else), ``schema.py`` validates against
``bids_energy/data/footprint.schema.json`` and writes or reads a file. Every record this app
writes is validated first, so a reader can rely on the shape.
"""

from bids_energy.footprint.measured import (
    attribution_block,
    component_block,
    energy_block,
    hardware_block,
    phases_block,
    split_block,
    steps_block,
    timeline_block,
)
from bids_energy.footprint.record import (
    SCHEMA_VERSION,
    add_carbon,
    build_footprint,
    build_record,
    carbon_settings,
    context_block,
    model_block,
    pipeline_block,
    utc_iso,
)
from bids_energy.footprint.schema import (
    load_schema,
    read_footprint,
    validate,
    validation_errors,
    write_footprint,
)

__all__ = [
    "SCHEMA_VERSION", "add_carbon", "attribution_block", "build_footprint", "build_record",
    "carbon_settings", "component_block", "context_block", "energy_block", "hardware_block",
    "load_schema", "model_block", "phases_block", "pipeline_block", "read_footprint",
    "split_block", "steps_block", "timeline_block", "utc_iso", "validate", "validation_errors",
    "write_footprint",
]
