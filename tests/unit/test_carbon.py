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


def test_provinces_rebuild_from_the_generation_mix_on_a_lifecycle_basis():
    """Every Canadian row equals its 2023 mix x the cited life-cycle factors (0.1 g rounding),
    and none of CodeCarbon's combustion-only factors is in use."""
    from bids_energy.carbon import generation_mixes, lifecycle_factors, mix_intensity

    factors = lifecycle_factors()
    values = {k: v for k, (v, _) in factors.items()}
    assert values["coal"] == 820 and values["gas"] == 490 and values["nuclear"] == 12
    assert all(cite for _, cite in factors.values())
    assert not {995.0, 743.0, 816.0} & set(values.values())
    mixes = generation_mixes()
    assert len(mixes) == 13
    table = {z: ci for z, _, ci, _ in list_zones()}
    for zone, mix in mixes.items():
        assert table[zone] == pytest.approx(mix_intensity(mix, values), abs=0.051), zone
        ci = lookup_intensity(region=zone)
        assert ci.basis == "lifecycle" and "lifecycle_factors.csv" in ci.source
    # worked check, Alberta 2023: (8.0x820 + 73.5x490 + 0.02x611 + 2.0x230 + 1.8x24 + 3.2x48
    # + 11.3x11) / 99.82 = 434.5 g/kWh (the combustion factors gave 636.6)
    assert table["CA-AB"] == pytest.approx(434.5, abs=0.05)


def test_mix_intensity_refuses_a_source_without_factor():
    from bids_energy.carbon import mix_intensity

    assert mix_intensity({"hydro": 50, "wind": 50, "tidal": 0}, {"hydro": 24, "wind": 11}) == 17.5
    with pytest.raises(ValueError, match="tidal"):
        mix_intensity({"hydro": 50, "tidal": 50}, {"hydro": 24})
