import math

import pytest

from bids_energy.carbon import (
    CarbonIntensity,
    co2e_g,
    codecarbon_region_name,
    list_zones,
    lookup_intensity,
    normalize_country,
    resolve_pue,
)
from bids_energy.errors import UsageError


def test_quebec_is_hydro_low():
    ci = lookup_intensity(country_code="CAN", region="CA-QC")
    assert isinstance(ci, CarbonIntensity)
    assert ci.zone == "CA-QC"
    assert 0 < ci.ci_g_per_kwh <= 35
    assert ci.method == "table: region"
    assert ci.year and ci.source


def test_region_beats_country_and_grids_differ():
    qc = lookup_intensity(region="CA-QC").ci_g_per_kwh
    ab = lookup_intensity(region="ca-ab").ci_g_per_kwh
    can = lookup_intensity(country_code="CAN").ci_g_per_kwh
    assert ab > 10 * qc
    assert qc < can < ab


@pytest.mark.parametrize("code", ["CAN", "CA", "can", " ca "])
def test_iso2_and_iso3_agree(code):
    assert lookup_intensity(country_code=code).zone == "CAN"


def test_country_values_match_published_order():
    fra = lookup_intensity(country_code="FRA").ci_g_per_kwh
    deu = lookup_intensity(country_code="DE").ci_g_per_kwh
    assert 30 < fra < 100 < 300 < deu < 500


def test_no_location_gives_world_average_with_note():
    ci = lookup_intensity()
    assert ci.ci_g_per_kwh == 475
    assert ci.method == "default: world average"
    assert ci.note


@pytest.mark.parametrize(
    "kwargs",
    [
        {"country_code": "XYZ"},
        {"country_code": "Q"},
        {"region": "CA-XX"},
        {"region": "quebec"},
        {"country_code": "USA", "region": "CA-QC"},
    ],
)
def test_unknown_codes_are_usage_errors(kwargs):
    with pytest.raises(UsageError) as err:
        lookup_intensity(**kwargs)
    assert err.value.exit_code == 64


def test_every_canadian_province_and_us_state_present():
    zones = {z for z, *_ in list_zones()}
    provinces = {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
    assert {f"CA-{p}" for p in provinces} <= zones
    assert len([z for z in zones if z.startswith("US-")]) == 51  # 50 states + DC


def test_table_values_are_sane():
    for zone, name, ci, year in list_zones():
        assert 0 <= ci < 1500, zone
        assert year is None or 2000 <= year <= 2030, zone
        assert name


def test_resolve_pue():
    pue, src = resolve_pue(None)
    assert pue == 1.0 and "default" in src and "--pue" in src
    assert resolve_pue(1.2) == (1.2, "user: --pue")
    for bad in (0.9, 3.5, float("nan")):
        with pytest.raises(UsageError):
            resolve_pue(bad)


def test_co2e_formula():
    assert co2e_g(1000.0, 1.0, 475.0) == pytest.approx(475.0)
    # a measured fMRIPrep run: 108.5 Wh in Quebec gave 3.26 g -> ~30 g/kWh
    assert co2e_g(108.5, 1.0, 30.0) == pytest.approx(3.255)
    assert math.isclose(co2e_g(2000, 1.5, 100), 300)


def test_codecarbon_region_names():
    assert codecarbon_region_name("CA-QC") == "quebec"
    assert codecarbon_region_name("us-ny") == "new york"
    assert codecarbon_region_name("CAN") is None


def test_normalize_country_fallback_to_codecarbon_data():
    # every ISO3 in our table resolves to itself
    assert normalize_country("NOR") == "NOR"
