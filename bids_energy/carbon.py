"""Carbon intensity of electricity, PUE and CO2e: the last step from Wh to grams.

Every figure comes from a table with its source and year (``data/carbon_intensity.csv``),
never from the network: compute nodes have no internet, and a geolocation look-up that
guesses the wrong country is worse than an honest world average. Countries missing from
our table fall back to the Our World in Data figures bundled with CodeCarbon, cited as such.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from bids_energy.errors import UsageError
from bids_energy.ga_constants import WORLD_CI_G_PER_KWH, WORLD_CI_SOURCE

WORLD_AVERAGE_G_PER_KWH = WORLD_CI_G_PER_KWH
WORLD_SOURCE = WORLD_CI_SOURCE
PUE_MAX = 3.0
DEFAULT_PUE = 1.0
DEFAULT_PUE_SOURCE = (
    "default: 1.0 (no facility overhead counted: cooling, power distribution); "
    "pass --pue, e.g. 1.2 for Compute Canada Quebec or 1.56 (the Green Algorithms "
    "calculator's later default, an Uptime Institute survey average; their 2021 paper used 1.67)"
)


@dataclass(frozen=True)
class CarbonIntensity:
    """A grid carbon intensity and where it came from."""

    zone: str
    ci_g_per_kwh: float
    source: str
    year: int | None
    method: str
    name: str = ""
    basis: str = ""
    note: str | None = None

    def as_dict(self) -> dict:
        return {
            "zone": self.zone,
            "name": self.name,
            "ci_g_per_kwh": self.ci_g_per_kwh,
            "source": self.source,
            "year": self.year,
            "method": self.method,
            "basis": self.basis,
            "note": self.note,
        }


@dataclass(frozen=True)
class _Row:
    zone: str
    alpha2: str
    name: str
    ci_g_per_kwh: float
    year: int | None
    basis: str
    source: str


def _parse_rows(lines: list[str]) -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    for rec in csv.DictReader(lines):
        zone = rec["zone"].strip().upper()
        year = rec.get("year", "").strip()
        rows[zone] = _Row(
            zone=zone,
            alpha2=rec.get("alpha2", "").strip().upper(),
            name=rec["name"].strip(),
            ci_g_per_kwh=float(rec["ci_g_per_kwh"]),
            year=int(year) if year else None,
            basis=rec.get("basis", "").strip(),
            source=rec["source"].strip(),
        )
    return rows


@lru_cache(maxsize=1)
def _table() -> dict[str, _Row]:
    text = resources.files("bids_energy").joinpath("data/carbon_intensity.csv").read_text("utf-8")
    return _parse_rows(text.splitlines())


@lru_cache(maxsize=1)
def _codecarbon_countries() -> dict[str, dict]:
    """OWID country figures shipped in CodeCarbon's package data; empty if not importable."""
    try:
        import codecarbon
    except ImportError:
        return {}
    path = Path(codecarbon.__file__).parent / "data" / "private_infra" / "global_energy_mix.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    data["_version"] = {"version": getattr(codecarbon, "__version__", "?")}
    return data


def _alpha2_index(table: dict[str, _Row]) -> dict[str, str]:
    return {r.alpha2: r.zone for r in table.values() if r.alpha2}


def normalize_country(code: str, table: dict[str, _Row] | None = None) -> str:
    """ISO 3166-1 alpha-3 for an alpha-3 or alpha-2 code; UsageError if unknown."""
    table = _table() if table is None else table
    c = code.strip().upper()
    if len(c) == 3 and (c in table or c in _codecarbon_countries()):
        return c
    if len(c) == 2 and c in _alpha2_index(table):
        return _alpha2_index(table)[c]
    raise UsageError(
        f"unknown country code {code!r}: use ISO 3166-1 alpha-3 (CAN, USA, FRA) or alpha-2 (CA, US)"
    )


def normalize_region(region: str, table: dict[str, _Row] | None = None) -> str:
    """ISO 3166-2 code (``CA-QC``) known to our table; UsageError otherwise."""
    table = _table() if table is None else table
    r = region.strip().upper().replace("_", "-")
    if "-" in r and r in table:
        return r
    known = ", ".join(z for z in sorted(table) if z.startswith("CA-"))
    raise UsageError(
        f"unknown region {region!r}: use an ISO 3166-2 code for a Canadian province/territory "
        f"({known}) or a US state (US-CA, US-NY, ...)"
    )


def _region_country(region: str, table: dict[str, _Row]) -> str | None:
    prefix = region.split("-", 1)[0]
    return _alpha2_index(table).get(prefix)


def _from_row(row: _Row, method: str, note: str | None = None) -> CarbonIntensity:
    return CarbonIntensity(
        zone=row.zone,
        ci_g_per_kwh=row.ci_g_per_kwh,
        source=row.source,
        year=row.year,
        method=method,
        name=row.name,
        basis=row.basis,
        note=note,
    )


def world_average(note: str | None = None) -> CarbonIntensity:
    return CarbonIntensity(
        zone="WLD",
        ci_g_per_kwh=WORLD_AVERAGE_G_PER_KWH,
        source=WORLD_SOURCE,
        year=2019,
        method="default: world average",
        name="World average",
        basis="lifecycle",
        note=note
        or "no --country-code or --region given; the world average can be far off "
        "(Quebec ~27 g/kWh, Alberta ~435 g/kWh): pass your region",
    )


def lookup_intensity(country_code: str | None = None, region: str | None = None) -> CarbonIntensity:
    """Carbon intensity for a region (preferred) or country, offline.

    A region beats a country because grids inside one country differ by 20x (Quebec vs
    Alberta). Unknown codes are a usage error rather than a silent world average.
    """
    table = _table()
    country = normalize_country(country_code, table) if country_code else None
    if region:
        zone = normalize_region(region, table)
        region_country = _region_country(zone, table)
        if country and region_country and country != region_country:
            raise UsageError(f"region {zone} is not in country {country}")
        return _from_row(table[zone], "table: region")
    if country:
        if country in table:
            return _from_row(table[country], "table: country")
        rec = _codecarbon_countries().get(country)
        if rec and rec.get("carbon_intensity") is not None:
            version = _codecarbon_countries()["_version"]["version"]
            return CarbonIntensity(
                zone=country,
                ci_g_per_kwh=float(rec["carbon_intensity"]),
                source=f"Our World in Data (Ember, Energy Institute) via codecarbon {version} "
                "package data global_energy_mix.json",
                year=rec.get("year"),
                method="codecarbon data: country",
                name=rec.get("country_name", ""),
                basis="lifecycle",
            )
        raise UsageError(f"no carbon intensity known for country {country}; pass --ci-g-per-kwh")
    return world_average()


def list_zones() -> list[tuple[str, str, float, int | None]]:
    """(zone, name, ci_g_per_kwh, year) for every zone in our table, for --help and docs."""
    return [(r.zone, r.name, r.ci_g_per_kwh, r.year) for r in _table().values()]


def resolve_pue(user_pue: float | None) -> tuple[float, str]:
    """PUE to use and a sentence saying where it came from.

    PUE below 1 is physically impossible; above 3 is a typo more often than a facility.
    """
    if user_pue is None:
        return DEFAULT_PUE, DEFAULT_PUE_SOURCE
    pue = float(user_pue)
    if not pue >= 1.0:
        raise UsageError(f"PUE must be >= 1.0 (got {user_pue}): it is facility / IT energy")
    if pue > PUE_MAX:
        raise UsageError(f"PUE {user_pue} is implausible (> {PUE_MAX}); typical values are 1.1-2.0")
    return pue, "user: --pue"


def co2e_g(energy_wh: float, pue: float, ci_g_per_kwh: float) -> float:
    """Grams CO2e of ``energy_wh`` of IT energy at a facility of this PUE on this grid."""
    return energy_wh / 1000.0 * pue * ci_g_per_kwh


def codecarbon_region_name(zone: str) -> str | None:
    """CodeCarbon's lowercase region name for CA-QC / US-CA style zones (``quebec``)."""
    row = _table().get(zone.strip().upper())
    if row is None or "-" not in row.zone:
        return None
    return row.name.lower()


# ---- regional intensities rebuilt from a generation mix -----------------------------
# The country rows are Ember / Our World in Data figures: generation x *life-cycle* factors.
# Regions without such a published figure (Canadian provinces) are computed here the same
# way, from the mix kept in data/canada_generation_mix.csv and the factors, each with its
# citation, in data/lifecycle_factors.csv. Combustion-only factors (coal 995, gas 743,
# oil 816, as CodeCarbon's carbon_intensity_per_source.json lists) are a different basis
# and are never mixed in.
LIFECYCLE_BASIS = "lifecycle"


def _data_csv(name: str) -> list[dict]:
    text = resources.files("bids_energy").joinpath(f"data/{name}").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def lifecycle_factors() -> dict[str, tuple[float, str]]:
    """source -> (g CO2e/kWh, citation), from data/lifecycle_factors.csv."""
    return {r["source"]: (float(r["g_per_kwh"]), r["citation"])
            for r in _data_csv("lifecycle_factors.csv")}


def generation_mixes(name: str = "canada_generation_mix.csv") -> dict[str, dict[str, float]]:
    """zone -> {source: percent of generation} from a mix file (``<source>_pct`` columns)."""
    out = {}
    for r in _data_csv(name):
        out[r["zone"]] = {k[:-4]: float(v) for k, v in r.items()
                          if k.endswith("_pct") and k != "total_pct"}
    return out


def mix_intensity(shares_pct: dict[str, float], factors: dict[str, float]) -> float:
    """g CO2e/kWh of a generation mix: sum(share x factor) / sum(shares) (pure).

    Shares need not add to exactly 100 (rounding in the source); a source with a non-zero
    share and no factor is an error rather than a silent zero."""
    total = sum(shares_pct.values())
    if total <= 0:
        raise ValueError("generation mix with no generation")
    missing = [s for s, p in shares_pct.items() if p > 0 and s not in factors]
    if missing:
        raise ValueError(f"no life-cycle factor for {', '.join(sorted(missing))}")
    return sum(p * factors[s] for s, p in shares_pct.items() if p > 0) / total
