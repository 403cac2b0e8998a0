"""Before a run: the Green Algorithms estimate with every constant and its source, as a dict
the command line prints (``bids-energy estimate --hours/--cores``).
"""

from __future__ import annotations

from typing import Any

from bids_energy.carbon import lookup_intensity, resolve_pue
from bids_energy.estimate import green_algorithms as ga


def intensity(ci_g_per_kwh: float | None, country_code: str | None,
              region: str | None) -> dict[str, Any]:
    """The carbon intensity to use: the user's figure, else the table's for the zone."""
    if ci_g_per_kwh is not None:
        return {
            "zone": region or country_code or "user",
            "ci_g_per_kwh": ci_g_per_kwh,
            "source": "user: --ci-g-per-kwh",
            "year": None,
            "method": "user",
            "note": None,
        }
    return lookup_intensity(country_code, region).as_dict()


def estimate_before(*, hours: float, cores: int, usage: float = 1.0, gpus: int = 0,
                    gpu_usage: float = 1.0, mem_gb: float = 0.0, psf: float = 1.0,
                    core_power_w: float | None = None, gpu_power_w: float | None = None,
                    mem_power_w_per_gb: float | None = None, pue: float | None = None,
                    ci: dict[str, Any]) -> dict[str, Any]:
    """Green Algorithms for a planned run; ``None`` constants take GA's defaults (and say so)."""
    if pue is None:
        pue_value, pue_source = ga.GA_PUE, ga.GA_PUE_SOURCE
    else:
        pue_value, pue_source = resolve_pue(pue)
    x = ga.GaInputs(
        hours=hours, cores=cores, core_power_w=core_power_w or ga.CORE_POWER_W, usage=usage,
        gpus=gpus, gpu_power_w=gpu_power_w or ga.GPU_POWER_W, gpu_usage=gpu_usage,
        mem_gb=mem_gb, mem_power_w_per_gb=mem_power_w_per_gb or ga.MEM_POWER_W_PER_GB,
        pue=pue_value, psf=psf,
    )  # fmt: skip
    kwh = ga.energy_kwh(x)
    return {
        "method": ga.METHOD,
        "inputs": {
            "hours": x.hours, "cores": x.cores, "usage": x.usage, "gpus": x.gpus,
            "gpu_usage": x.gpu_usage, "mem_gb": x.mem_gb, "psf": x.psf,
        },
        "constants": {
            "core_power_w": {"value": x.core_power_w,
                             "source": "user" if core_power_w else ga.CORE_POWER_SOURCE},
            "gpu_power_w": {"value": x.gpu_power_w,
                            "source": "user" if gpu_power_w else ga.GPU_POWER_SOURCE},
            "mem_power_w_per_gb": {"value": x.mem_power_w_per_gb,
                                   "source": "user" if mem_power_w_per_gb
                                   else ga.MEM_POWER_SOURCE},
            "pue": {"value": pue_value, "source": pue_source},
            "ci_g_per_kwh": {"value": ci["ci_g_per_kwh"], "source": ci["source"],
                             "zone": ci["zone"], "year": ci["year"], "method": ci["method"]},
        },
        "energy_kwh": kwh["total"],
        "components_kwh": {k: v for k, v in kwh.items() if k != "total"},
        "co2e_g": kwh["total"] * ci["ci_g_per_kwh"],
        "notes": [n for n in [ci.get("note")] if n],
    }  # fmt: skip
