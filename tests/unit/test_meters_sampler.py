"""The sampler on fake /proc and /sys trees with a fake clock (no thread timing involved)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from fake_trees import make_proc, make_zone, remove_process, set_energy, set_node_cpu, set_process  # noqa: E402

from bids_energy.footprint import attribution_block, energy_block, phases_block, steps_block
from bids_energy.meters import create_sampler  # noqa: E402
from bids_energy.meters.base import ComponentSample, EnergyMeter  # noqa: E402
from bids_energy.meters.select import choose  # noqa: E402

ROOT = 500


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def build(tmp_path, rapl=True, idle_w=10.0, **zone_kw):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_proc(proc, cores=4)
    set_process(proc, ROOT, "bids-energy", 1, 0)
    zone = make_zone(sys_, "intel-rapl:0", "package-0", 0, **zone_kw) if rapl else None
    sel = choose(str(proc), str(sys_), {}, nvml_loader=lambda: (None, "no NVML"),
                 idle_power_w=idle_w)
    s = create_sampler(root_pid=ROOT, interval_s=3600, attribution="process", proc_root=str(proc),
                       sys_root=str(sys_), selection=sel)
    clock = Clock()
    s.clock = clock
    s.timeline.interval_s = 1.0  # the thread never fires (3600 s); ticks are driven by hand
    return s, proc, zone, clock


def test_zero_length_run(tmp_path):
    s, _, _, _ = build(tmp_path)
    s.start()
    r = s.stop()
    assert r.cpu_s == 0.0 and energy_block(r.components)["job_energy_wh"] == 0.0
    assert r.timeline.rows == () and steps_block(r.steps) == []


def test_rapl_run_split_and_steps(tmp_path):
    s, proc, zone, clock = build(tmp_path)
    s.start()
    # 2 s later: node busy 4 of 8 CPU-s; the job (one flirt process) used 2 CPU-s; 100 J
    set_process(proc, 600, "flirt", ROOT, 200, start=2000)
    set_node_cpu(proc, 400, 0, 400)
    set_energy(zone, 100_000_000)
    clock.t += 2.0
    with s._lock:
        s._tick(final=False)
    # 2 s more: flirt ended (reaped by root), node fully idle, 40 J
    remove_process(proc, 600)
    set_process(proc, ROOT, "bids-energy", 1, 0, cutime=200)
    set_node_cpu(proc, 400, 0, 1200)
    set_energy(zone, 140_000_000)
    clock.t += 2.0
    r = s.stop()
    cpu = energy_block(r.components)["components"]["cpu"]
    assert cpu["method"] == "measured: rapl, shared-node split"
    assert cpu["node_energy_wh"] == pytest.approx(140 / 3600, abs=1e-6)
    # idle 10 W given. Interval 1 (2 s): dynamic (100 - 20) x 2/4 busy = 40 J; idle share
    # 10 W x 2 s x 1 CPU used / 4 = 5 J. Interval 2: the job used nothing: 0 J.
    assert cpu["job_energy_wh"] == pytest.approx(45 / 3600, abs=1e-6)
    sp = cpu["split"]
    assert sp["job_dynamic_energy_wh"] == pytest.approx(40 / 3600, abs=1e-6)
    assert sp["job_idle_energy_wh"] == pytest.approx(5 / 3600, abs=1e-6)
    assert sp["node_idle_energy_wh"] == pytest.approx(40 / 3600, abs=1e-6)
    assert sp["remainder_energy_wh"] == pytest.approx(95 / 3600, abs=1e-6)
    assert sp["held_cpus"] is None and sp["held_cpus_source"].startswith("CPUs used")
    assert r.cpu_s == pytest.approx(2.0)
    assert attribution_block(r.attribution)["job_share_of_busy"] == pytest.approx(0.5)
    assert [st["step"] for st in steps_block(r.steps)] == ["registration"]
    assert steps_block(r.steps)[0]["cpu_share"] == 1.0
    assert len(r.timeline.rows) == 2


def test_rapl_file_vanishing_marks_component_partial(tmp_path):
    s, proc, zone, clock = build(tmp_path)
    s.start()
    set_energy(zone, 10_000_000)
    clock.t += 1.0
    with s._lock:
        s._tick(final=False)
    (zone / "energy_uj").unlink()
    clock.t += 1.0
    r = s.stop()
    cpu = energy_block(r.components)["components"]["cpu"]
    assert cpu["status"] == "partial" and cpu["inputs"]["unavailable_from_s"] == 2.0
    assert energy_block(r.components)["components"]["memory"]["status"] == "ok"
    assert any("unavailable" in w for w in r.warnings)


def test_absurd_cpu_delta_dropped_and_job_cpu_monotonic(tmp_path):
    s, proc, _, clock = build(tmp_path, rapl=False)
    s.start()
    set_process(proc, 600, "bet", ROOT, 100, start=2000)
    clock.t += 1.0
    with s._lock:
        s._tick(final=False)
    # a process appears with 10 000 CPU-s in 1 s on 4 cores: dropped
    set_process(proc, 601, "weird", ROOT, 1_000_000, start=2100)
    clock.t += 1.0
    with s._lock:
        s._tick(final=False)
    remove_process(proc, 601)
    remove_process(proc, 600)  # vanished without being reaped: CPU must not go down
    clock.t += 1.0
    r = s.stop()
    assert r.cpu_s == pytest.approx(1.0)
    assert any("dropped" in w for w in r.warnings)


def test_late_cpu_counter_is_kept_and_billed_as_the_cpus_allow(tmp_path):
    """A counter read late (a descheduled VM CPU) catches up 12 CPU-s in one 1 s interval on
    4 CPUs: impossible for that interval, possible since the start (4 s x 4 CPUs). The time is
    the job's: kept, never dropped, and billed at most 4 CPU-s per second."""
    s, proc, _, clock = build(tmp_path, rapl=False)
    s.start()
    set_process(proc, 600, "bet", ROOT, 0, start=2000)
    for _ in range(3):
        tick(s, clock, 1.0)  # the job's counter reads 0 for 3 s
    set_process(proc, 600, "bet", ROOT, 1200, start=2000)
    tick(s, clock, 1.0)  # then 12 CPU-s at once
    tick(s, clock, 1.0)
    clock.t += 1.0
    r = s.stop()
    assert r.cpu_s == pytest.approx(12.0)
    assert not any("dropped" in w for w in r.warnings)
    assert any("caught up 1 time(s), 8.0 CPU-s beyond" in w for w in r.warnings)
    cpu = energy_block(r.components)["components"]["cpu"]
    assert cpu["inputs"]["job_cpu_s"] == pytest.approx(12.0)
    assert "dropped_intervals" not in cpu["inputs"] or cpu["inputs"]["dropped_intervals"] == 0
    rated_w = cpu["inputs"]["rated_w"]
    job_w = [row.job_cpu_w for row in r.timeline.rows]  # the job's CPU power per interval
    assert max(job_w) <= rated_w + 1e-9  # 4 + 4 + 4 CPU-s over the last three seconds
    assert job_w[-3:] == pytest.approx([rated_w] * 3)


class Boom(EnergyMeter):
    component = "gpu"
    method = "measured: nvml-counter"
    measured = True

    def sample(self, ctx):
        raise RuntimeError("driver gone")


class Steady(EnergyMeter):
    component = "cpu"
    method = "estimated: tdp-model"

    def sample(self, ctx):
        return ComponentSample(job_j=10.0 * ctx.dt_s)


def test_meter_raising_never_crashes(tmp_path):
    s, _, _, clock = build(tmp_path, rapl=False)
    s.meters = [Steady(), Boom()]
    s.totals = {id(m): type(next(iter(s.totals.values())))() for m in s.meters}
    s._active = {id(m): True for m in s.meters}
    s.start()
    clock.t += 3.6
    r = s.stop()
    assert energy_block(r.components)["components"]["gpu"]["status"] == "partial"
    assert energy_block(r.components)["job_energy_wh"] == pytest.approx(0.01)
    assert energy_block(r.components)["method"] == "mixed"


class SteadyGpu(EnergyMeter):
    component = "gpu"
    method = "measured: nvml-counter"
    measured = True

    def sample(self, ctx):
        return ComponentSample(job_j=90.0 * ctx.dt_s)


def test_phases_share_all_components_energy_by_time(tmp_path):
    """CPU (10 W) and GPU (90 W) energy of each interval goes to the phases current in it."""
    s, proc, _, clock = build(tmp_path, rapl=False)
    phase_file = tmp_path / "phases.log"
    s.meters = [Steady(), SteadyGpu()]
    s.totals = {id(m): type(next(iter(s.totals.values())))() for m in s.meters}
    s._active = {id(m): True for m in s.meters}
    from bids_energy.meters.phasetally import PhaseFileTail

    s._phase_tail = PhaseFileTail(phase_file)
    s.wall_clock = lambda: 1_000.0
    s.start()
    phase_file.write_text("1001.0 begin load\n1003.0 begin train\n")
    clock.t += 4.0  # interval [0, 4]: 1 s none, 2 s load, 1 s train
    with s._lock:
        s._tick(final=False)
    with open(phase_file, "a") as fh:
        fh.write("end\nnot a line\n")  # untimed: counts when read, at t=8
    clock.t += 4.0
    r = s.stop()
    rows = {x["phase"]: x for x in phases_block(r.phases)["rows"]}
    per_s = 100.0 / 3600  # Wh per second of the job (10 W + 90 W)
    assert rows["load"]["energy_wh"] == pytest.approx(2 * per_s, rel=1e-4)
    assert rows["train"]["energy_wh"] == pytest.approx(5 * per_s, rel=1e-4)
    assert rows["(no phase)"]["energy_wh"] == pytest.approx(1 * per_s, rel=1e-4)
    assert sum(x["energy_wh"] for x in rows.values()) == pytest.approx(
        energy_block(r.components)["job_energy_wh"], abs=1e-5)
    assert phases_block(r.phases)["ignored_lines"] == 1 and any("unparseable" in w for w in r.warnings)


def tick(s, clock, dt):
    clock.t += dt
    with s._lock:
        s._tick(final=False)


def test_dropped_interval_does_not_spill_into_the_next(tmp_path):
    s, proc, zone, clock = build(tmp_path)
    s.start()
    set_process(proc, 600, "flirt", ROOT, 100, start=2000)
    set_node_cpu(proc, 100, 0, 300)
    set_energy(zone, 30_000_000)
    tick(s, clock, 1.0)  # 30 J, kept
    # a process appears with 10 000 CPU-s in 1 s: the interval is dropped, with its 500 J
    set_process(proc, 601, "weird", ROOT, 1_000_000, start=2100)
    set_node_cpu(proc, 200, 0, 600)
    set_energy(zone, 530_000_000)
    tick(s, clock, 1.0)
    set_node_cpu(proc, 300, 0, 900)
    set_energy(zone, 560_000_000)
    clock.t += 1.0  # 30 J, kept
    r = s.stop()
    cpu = energy_block(r.components)["components"]["cpu"]
    assert cpu["node_energy_wh"] == pytest.approx(60 / 3600, abs=1e-6)  # not 560 J
    assert cpu["inputs"]["dropped_intervals"] == 1 and cpu["inputs"]["dropped_s"] == 1.0
    assert "dropped" in cpu["note"] and any("dropped" in w for w in r.warnings)


def test_node_cpu_counter_going_back_is_a_warning_not_a_silent_zero(tmp_path):
    s, proc, zone, clock = build(tmp_path)
    s.start()
    set_process(proc, 600, "flirt", ROOT, 100, start=2000)
    set_node_cpu(proc, 100, 0, 300)
    set_energy(zone, 30_000_000)
    tick(s, clock, 1.0)
    set_node_cpu(proc, 50, 0, 100)  # /proc/stat went back (container restore, bad read)
    set_energy(zone, 60_000_000)
    clock.t += 1.0
    r = s.stop()
    cpu = energy_block(r.components)["components"]["cpu"]
    assert cpu["inputs"]["dropped_intervals"] == 1
    assert any("node CPU counters" in w for w in r.warnings)
    assert cpu["node_energy_wh"] == pytest.approx(30 / 3600, abs=1e-6)


def test_interval_that_could_hide_two_wraps_is_capped(tmp_path):
    # 100 J range, 25 W limit -> a counter could wrap every 2 s; 3600 s asked
    s, _, _, _ = build(tmp_path, max_range_uj=100_000_000, max_power_uw=25_000_000)
    assert s.interval_s == pytest.approx(1.0)
    assert any("capped" in w and "wrap twice" in w for w in s.warnings)


def test_idle_power_unknown_falls_back_to_rated_power(tmp_path):
    s, proc, zone, clock = build(tmp_path, idle_w=None, max_power_uw=150_000_000)
    s.start()
    set_process(proc, 600, "flirt", ROOT, 100, start=2000)
    set_node_cpu(proc, 100, 0, 300)
    set_energy(zone, 60_000_000)
    clock.t += 1.0
    r = s.stop()
    sp = energy_block(r.components)["components"]["cpu"]["split"]
    assert sp["idle_power_w"] == 30.0 and sp["idle_power_method"] == "assumed: 0.2 x TDP"
    assert "only 1 intervals" in sp["idle_power_inputs"]["not_estimated_because"]


def test_choose_passes_slurm_allocation_and_powercap_root(tmp_path):
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    make_proc(proc, cores=4)
    mount = tmp_path / "host-powercap"
    make_zone(sys_, "intel-rapl:0", "package-0", 0, powercap_root=mount)
    sel = choose(str(proc), str(sys_), {"SLURM_CPUS_ON_NODE": "2"},
                 nvml_loader=lambda: (None, "no NVML"), powercap_root=str(mount), idle_power_w=5.0)
    cpu = sel.meters[0]
    assert cpu.method == "measured: rapl, shared-node split"
    assert cpu.held_cpus == 2 and "Slurm" in cpu.held_source and cpu.idle_given_w == 5.0
    # without the powercap root the same machine falls back to the TDP model, same held CPUs
    sel = choose(str(proc), str(sys_), {"SLURM_CPUS_ON_NODE": "2"},
                 nvml_loader=lambda: (None, "no NVML"))
    assert sel.meters[0].method == "estimated: tdp-model" and sel.meters[0].held_cpus == 2
