"""CodeCarbon beside our meter, as fMRIPrep's ``--track-carbon`` runs it (machine mode).

Its number bills the whole machine, so on a shared node it includes the neighbours'
work: that difference is what the comparison is for. Whatever happens inside CodeCarbon
(missing, crash, lock file, odd hardware) ends up in ``status``/``error``, never in ours.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from bids_energy.carbon import codecarbon_region_name, normalize_country

NOTE = "whole machine, not job-attributed"
_ALPHA2_TO_ISO3 = {"CA": "CAN", "US": "USA"}


def codecarbon_location(country_iso3: str | None, region: str | None) -> tuple[str, str | None]:
    """(country ISO3, CodeCarbon region name) for our codes: CA-QC -> ("CAN", "quebec").

    CodeCarbon offline needs a country; with none given we use the country of the region,
    else Canada (fMRIPrep's default ``--country-code CAN``).
    """
    cc_region = None
    country = normalize_country(country_iso3) if country_iso3 else None
    if region:
        prefix = region.strip().upper().split("-", 1)[0]
        country = country or _ALPHA2_TO_ISO3.get(prefix)
        if country in ("CAN", "USA"):
            cc_region = codecarbon_region_name(region)
    return country or "CAN", cc_region


def _empty_result(status: str, error: str | None, pue: float, country: str | None,
                  region: str | None) -> dict[str, Any]:  # fmt: skip
    return {
        "name": "codecarbon",
        "version": None,
        "mode": "machine",
        "energy_wh": None,
        "cpu_energy_wh": None,
        "ram_energy_wh": None,
        "gpu_energy_wh": None,
        "co2e_g": None,
        "pue": pue,
        "country_iso_code": country,
        "region": region,
        "status": status,
        "error": error,
        "note": NOTE,
    }


class CodeCarbonComparison:
    """Run CodeCarbon's OfflineEmissionsTracker around a job, offline and quiet."""

    def __init__(
        self,
        country_iso3: str | None,
        region: str | None,
        pue: float,
        interval_s: float,
        output_dir: Path,
    ):
        self.pue = float(pue)
        self.interval_s = float(interval_s)
        self.output_dir = Path(output_dir)
        self.country, self.cc_region = codecarbon_location(country_iso3, region)
        self._tracker: Any = None
        self._version: str | None = None
        self._result: dict[str, Any] | None = None

    def _fail(self, status: str, exc: BaseException | str) -> dict[str, Any]:
        msg = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        warnings.warn(f"codecarbon comparison {status}: {msg}", RuntimeWarning, stacklevel=3)
        res = _empty_result(status, msg, self.pue, self.country, self.cc_region)
        res["version"] = self._version
        return res

    def start(self) -> None:
        """Start CodeCarbon; a failure is recorded for stop(), not raised."""
        try:
            import codecarbon
            from codecarbon import OfflineEmissionsTracker
        except ImportError as exc:
            self._result = _empty_result(
                "unavailable", f"codecarbon not importable: {exc}", self.pue, self.country,
                self.cc_region,
            )  # fmt: skip
            return
        self._version = getattr(codecarbon, "__version__", None)
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            kwargs: dict[str, Any] = {
                "country_iso_code": self.country,
                "measure_power_secs": self.interval_s,
                "save_to_file": False,
                "output_dir": str(self.output_dir),
                "log_level": "error",
                "tracking_mode": "machine",
                "pue": self.pue,
                "allow_multiple_runs": True,
                "project_name": "bids-energy-comparison",
            }
            if self.cc_region:
                kwargs["region"] = self.cc_region
            self._tracker = OfflineEmissionsTracker(**kwargs)
            self._tracker.start()
        except Exception as exc:  # noqa: BLE001 - any CodeCarbon failure is only reported
            self._tracker = None
            self._result = self._fail("failed", exc)

    def stop(self) -> dict[str, Any]:
        """Stop CodeCarbon and return its figures in our units (Wh, g)."""
        if self._result is not None:
            return self._result
        if self._tracker is None:
            return self._fail("failed", "stop() called before start()")
        try:
            emissions_kg = self._tracker.stop()
            data = self._tracker.final_emissions_data
        except Exception as exc:  # noqa: BLE001
            return self._fail("failed", exc)
        finally:
            self._tracker = None
        res = _empty_result("ok", None, self.pue, self.country, self.cc_region)
        res.update(
            version=self._version,
            energy_wh=float(data.energy_consumed) * 1000.0,
            cpu_energy_wh=float(data.cpu_energy) * 1000.0,
            ram_energy_wh=float(data.ram_energy) * 1000.0,
            gpu_energy_wh=float(data.gpu_energy) * 1000.0,
            co2e_g=float(emissions_kg if emissions_kg is not None else data.emissions) * 1000.0,
            pue=float(getattr(data, "pue", self.pue) or self.pue),
            note=f"{NOTE}; CodeCarbon's energy already includes its PUE",
        )
        self._result = res
        return res
