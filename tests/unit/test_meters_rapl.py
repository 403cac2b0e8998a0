"""RAPL on fake powercap trees: discovery, wraparound, unreadable zones, vanishing files."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from fake_trees import make_zone, set_energy  # noqa: E402

from bids_energy.meters import rapl  # noqa: E402
from bids_energy.meters.base import ImplausibleReading, IntervalContext, MeterUnavailable  # noqa: E402


def ctx(dt=1.0, job=1.0, busy=2.0, total=4.0):
    return IntervalContext(t_s=dt, dt_s=dt, job_cpu_delta_s=job, node_busy_delta_s=busy,
                           node_total_delta_s=total, job_mem_gb=0.0, logical_cores=4)


def test_discover_package_and_dram_skips_psys_and_core(tmp_path):
    make_zone(tmp_path, "intel-rapl:0", "package-0", 1000)
    make_zone(tmp_path, "intel-rapl:0:0", "core", 10)
    make_zone(tmp_path, "intel-rapl:0:1", "dram", 500)
    make_zone(tmp_path, "intel-rapl:1", "psys", 5)
    make_zone(tmp_path, "intel-rapl-mmio:0", "package-0", 999)
    zones, warnings = rapl.discover(str(tmp_path))
    assert [z.path.name for z in zones["package"]] == ["intel-rapl:0"]
    assert [z.path.name for z in zones["dram"]] == ["intel-rapl:0:1"]
    assert warnings == []


def test_missing_powercap_is_a_warning(tmp_path):
    zones, warnings = rapl.discover(str(tmp_path))
    assert zones == {} and "does not exist" in warnings[0]


def test_wraparound_and_kepler_split(tmp_path):
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", 999_000_000, max_range_uj=1_000_000_000)
    zones, _ = rapl.discover(str(tmp_path))
    m = rapl.RaplMeter("cpu", zones["package"])
    m.begin()
    set_energy(z, 49_000_000)  # wrapped: 1 J to the top + 49 J = 50 J
    s = m.sample(ctx(job=1.0, busy=2.0, total=4.0))
    assert s.node_j == pytest.approx(50.0)
    assert s.idle_j == pytest.approx(25.0)  # busy ratio 0.5
    assert s.job_j == pytest.approx(12.5)  # active 25 J x share 0.5


def test_permission_denied_zone_skipped_with_warning(tmp_path):
    make_zone(tmp_path, "intel-rapl:0", "package-0", 100)
    make_zone(tmp_path, "intel-rapl:1", "package-1", 100)

    def opener(path: Path) -> str:
        if path.parent.name == "intel-rapl:1" and path.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return path.read_text()

    zones, warnings = rapl.discover(str(tmp_path), opener)
    assert [z.path.name for z in zones["package"]] == ["intel-rapl:0"]
    assert "intel-rapl:1" in warnings[0] and "CVE-2020-8694" in warnings[0]


def test_energy_file_that_is_a_directory_is_unreadable(tmp_path):
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", None)
    (z / "energy_uj").mkdir()
    zones, warnings = rapl.discover(str(tmp_path))
    assert "package" not in zones and warnings


def test_file_vanishing_mid_run_raises_unavailable(tmp_path):
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", 100)
    zones, _ = rapl.discover(str(tmp_path))
    m = rapl.RaplMeter("cpu", zones["package"])
    m.begin()
    (z / "energy_uj").unlink()
    with pytest.raises(MeterUnavailable):
        m.sample(ctx())


def test_implausible_jump_is_dropped(tmp_path):
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", 100, max_range_uj=None)
    zones, _ = rapl.discover(str(tmp_path))
    m = rapl.RaplMeter("cpu", zones["package"])
    m.begin()
    set_energy(z, 50)  # a drop with no known range cannot be explained
    with pytest.raises(ImplausibleReading):
        m.sample(ctx())
    set_energy(z, 50 + 10**13)  # 10 MJ in a second
    with pytest.raises(ImplausibleReading):
        m.sample(ctx())
