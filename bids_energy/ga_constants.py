"""Green Algorithms' published constants, each with its source: the one home.

Used wherever a figure falls back to the Green Algorithms model: the CPU TDP meter's
generic per-core power, the memory model, the world-average carbon intensity, and the
``estimate`` subcommand. Source: Lannelongue, Grealey & Inouye (2021), "Green Algorithms:
Quantifying the Carbon Footprint of Computation", Advanced Science 8(12):2100707,
https://doi.org/10.1002/advs.202100707, and the calculator's constants
(https://github.com/GreenAlgorithms/green-algorithms-tool, data/ folder).
"""

from __future__ import annotations

GA_SOURCE = "Green Algorithms (Lannelongue, Grealey & Inouye 2021, Adv. Sci.)"

# Generic CPU when the model is unknown: 12 W per core (the paper's default per-core TDP).
CORE_POWER_W = 12.0
CORE_POWER_SOURCE = f"{GA_SOURCE}: generic CPU, 12 W per core"

# Generic GPU when the model is unknown.
GPU_POWER_W = 200.0
GPU_POWER_SOURCE = f"{GA_SOURCE}: generic GPU, 200 W"

# Memory: 0.3725 W per GB of memory available (disputed; 0.08 W/GB has been proposed for
# modern DDR4 in the project's own issue tracker), so every user of it takes it as an input.
MEM_POWER_W_PER_GB = 0.3725
MEM_POWER_SOURCE = f"{GA_SOURCE}: 0.3725 W/GB (disputed; 0.08 W/GB has been proposed)"

# Average data-centre PUE the calculator assumes when none is given. The 2021 paper used 1.67
# (Uptime Institute 2019 survey); the calculator later moved to 1.56.
PUE = 1.56
PUE_SOURCE = (
    "Green Algorithms calculator's later default PUE 1.56 (an Uptime Institute data-centre "
    "survey average; the survey year was not checked against the calculator's source); the "
    "2021 paper used 1.67 (Uptime Institute 2019 survey)"
)

# World-average grid carbon intensity, the calculator's default location "World".
WORLD_CI_G_PER_KWH = 475.0
WORLD_CI_SOURCE = (
    "Green Algorithms default world average (Lannelongue et al. 2021), "
    "from IEA Global Energy & CO2 Status Report 2019"
)
