"""RAPL on fake powercap trees: discovery, wraparound, unreadable zones, vanishing files."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from fake_trees import make_zone, set_energy  # noqa: E402

from bids_energy.footprint import split_block
from bids_energy.meters import rapl  # noqa: E402
from bids_energy.meters.base import ImplausibleReading, IntervalContext, MeterUnavailable  # noqa: E402


def ctx(dt=1.0, job=1.0, busy=2.0, total=4.0):  # busy/total None: node counters unknown
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


def test_wraparound_and_shared_node_split(tmp_path):
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", 9_999_000_000,
                  max_range_uj=10_000_000_000)
    zones, _ = rapl.discover(str(tmp_path))
    m = rapl.RaplMeter("cpu", zones["package"], node_cpus=4, idle_given_w=10.0)
    m.begin()
    set_energy(z, 49_000_000)  # wrapped: 1 J to the top + 49 J = 50 J
    s = m.sample(ctx(job=1.0, busy=2.0, total=4.0))
    assert s.node_j == pytest.approx(50.0)
    assert s.idle_j == pytest.approx(10.0)  # node idle: 10 W x 1 s
    # dynamic (50 - 10) x 1/2 busy = 20 J; idle share 10 W x 1 CPU used / 4 = 2.5 J
    assert s.job_j == pytest.approx(22.5)
    fin = m.finish()
    assert fin.job_dynamic_j == pytest.approx(20.0) and fin.job_idle_j == pytest.approx(2.5)
    rec = split_block(fin)
    assert rec["idle_power_method"] == "given: --idle-power-w"
    assert rec["remainder_energy_wh"] == pytest.approx(27.5 / 3600, abs=1e-6)


def test_powercap_root_elsewhere(tmp_path):
    """--powercap-root: the host's tree bind-mounted read-only somewhere in a container."""
    mount = tmp_path / "host-powercap"
    make_zone(tmp_path, "intel-rapl:0", "package-0", 5, powercap_root=mount, max_power_uw=150_000_000)
    assert rapl.discover(str(tmp_path))[0] == {}
    zones, warnings = rapl.discover(str(tmp_path), powercap_root=str(mount))
    assert [z.path.name for z in zones["package"]] == ["intel-rapl:0"] and warnings == []
    assert zones["package"][0].max_power_w == 150.0


def test_two_wraps_possible_interval_is_refused(tmp_path):
    # 100 J range, 25 W limit -> plausible 50 W -> a wrap every 2 s at the most
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", 90_000_000, max_range_uj=100_000_000,
                  max_power_uw=25_000_000)
    zones, _ = rapl.discover(str(tmp_path))
    m = rapl.RaplMeter("cpu", zones["package"], node_cpus=4)
    assert m.max_interval_s() == pytest.approx(2.0)
    m.begin()
    set_energy(z, 20_000_000)  # looks like one wrap (30 J), but 3 s could hold 130 J or 230 J
    with pytest.raises(ImplausibleReading, match="wrap twice"):
        m.sample(ctx(dt=3.0))
    set_energy(z, 60_000_000)  # the next, short interval is read from the new baseline
    assert m.sample(ctx(dt=1.0)).node_j == pytest.approx(40.0)


def test_node_cpu_counters_unknown_drop_the_interval_not_zero(tmp_path):
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", 0)
    zones, _ = rapl.discover(str(tmp_path))
    m = rapl.RaplMeter("cpu", zones["package"], node_cpus=4)
    m.begin()
    set_energy(z, 10_000_000)
    with pytest.raises(ImplausibleReading, match="node CPU counters"):
        m.sample(ctx(busy=None, total=None))


def test_idle_power_estimated_from_a_varied_run(tmp_path):
    """Node power 10 W + 5 W per busy CPU on 4 CPUs; the job uses one CPU throughout."""
    z = make_zone(tmp_path, "intel-rapl:0", "package-0", 0)
    zones, _ = rapl.discover(str(tmp_path))
    m = rapl.RaplMeter("cpu", zones["package"], node_cpus=4)
    m.begin()
    e = 0
    for i in range(12):
        busy = 1 + i % 4  # 1..4 busy CPUs
        e += int((10 + 5 * busy) * 1e6)
        set_energy(z, e)
        m.sample(ctx(job=1.0, busy=float(busy), total=4.0))
    fin = m.finish()
    assert fin.idle.method.startswith("estimated: theil-sen")
    assert fin.idle.value_w == pytest.approx(10.0)
    assert fin.job_dynamic_j == pytest.approx(12 * 5.0)  # k x job CPU time
    assert fin.job_idle_j == pytest.approx(12 * 10.0 / 4)  # 1 CPU used of 4


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
