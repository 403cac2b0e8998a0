"""The sampler: a daemon thread that, every interval, reads the job's CPU and memory, asks each
meter for the interval's energy, and files it into totals, a bounded timeline and steps.

It never raises for a meter problem: a meter that fails is marked unavailable from that time
(with a warning) and the others carry on; an interval whose readings make no sense (clock
jump, counter glitch) is dropped with a warning.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bids_energy.meters import procfs
from bids_energy.meters.attribution import j_to_wh, job_share, plausible_cpu_delta
from bids_energy.meters.base import (
    EnergyMeter,
    ImplausibleReading,
    IntervalContext,
    MeterUnavailable,
)
from bids_energy.meters.cputime import AttributionChoice, JobUsage, choose_attribution
from bids_energy.meters.memmodel import BYTES_PER_GB
from bids_energy.meters.phasetally import PhaseFileTail, PhaseTally
from bids_energy.meters.proctree import ProcessTreeWalker, TreeSnapshot
from bids_energy.meters.programcpu import split_interval
from bids_energy.meters.results import (
    ComponentTotals,
    CpuAttribution,
    GpuInfo,
    HardwareInfo,
    SamplerResult,
)
from bids_energy.meters.select import Selection, choose
from bids_energy.meters.steps import StepTally
from bids_energy.meters.timeline import Timeline, TimelineRow

MAX_INTERVAL_FACTOR = 30.0  # a gap this many intervals long means the clock or process stalled


@dataclass
class _Totals:
    job_j: float = 0.0
    node_j: float | None = 0.0
    idle_j: float | None = None
    status: str = "ok"
    unavailable_from_s: float | None = None
    dropped: int = 0
    dropped_s: float = 0.0


class Sampler:
    def __init__(self, root_pid: int, interval_s: float, choice: AttributionChoice,
                 selection: Selection, proc_root: str = "/proc", max_timeline_points: int = 720,
                 step_map: Sequence[tuple[str, str]] = (),
                 clock: Callable[[], float] = time.monotonic,
                 phase_file: str | os.PathLike | None = None,
                 wall_clock: Callable[[], float] = time.time,
                 include_root: bool = False) -> None:
        self.root_pid = root_pid
        self.interval_s = max(0.01, float(interval_s))
        self.choice = choice
        self.meters: list[EnergyMeter] = list(selection.meters)
        self.selection = selection
        self.proc_root = proc_root
        self.clock = clock
        self.cpu = procfs.read_cpuinfo(proc_root)
        self.walker = ProcessTreeWalker(proc_root, root_pid)
        self.usage = JobUsage(choice, root_pid)
        self.timeline = Timeline(self.interval_s, max_timeline_points)
        self.steps = StepTally(step_map)
        self.warnings: list[str] = list(choice.warnings) + list(selection.warnings)
        self.interval_s = self.timeline.interval_s = self._capped_interval(self.interval_s)
        self.totals = {id(m): _Totals() for m in self.meters}
        self._active = {id(m): True for m in self.meters}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._stopped: SamplerResult | None = None
        self._mem_gb_s = 0.0
        self._dropped_cpu_s = 0.0
        self._cpu_backlog_s = 0.0  # job CPU time counted late, billed as the CPUs allow
        self._caught_up = (0, 0.0)  # late counters: how often, and the CPU-s beyond capacity
        self.phases = PhaseTally()
        self._phase_tail = PhaseFileTail(phase_file) if phase_file else None
        self.wall_clock = wall_clock
        # bids_energy.measure() measures its own process: the root's own CPU and memory are
        # the job's too (the participant level's root is bids-energy itself, left out).
        self.include_root = include_root and choice.mode != "cgroup"
        self._root_cpu0 = 0.0
        self._root_peak = 0

    def _capped_interval(self, requested: float) -> float:
        """Half the shortest time in which a meter's counter could wrap twice (the other half
        is margin for a late tick); a longer interval is capped with a warning."""
        bounds = [b for m in self.meters if (b := m.max_interval_s()) is not None]
        if not bounds or requested <= 0.5 * min(bounds):
            return requested
        cap = max(0.01, 0.5 * min(bounds))
        self.warnings.append(
            f"sampling interval {requested:g} s capped at {cap:.3g} s: an energy counter could "
            f"wrap twice in {min(bounds):.3g} s (max_energy_range_uj at the zone's plausible power)")
        return cap

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Baseline readings, then the thread. Safe to call once."""
        if self._started:
            return
        self._started = True
        self._t0 = self._prev_t = self.clock()
        self._wall0 = self.wall_clock()
        self._snap = self._safe_snapshot()
        self.usage.begin(self._snap)
        self._root_cpu0 = self._root_own()[0]
        self._job_cpu = self._job_cpu0 = self._cpu_now(self._snap)
        self._node = self._safe_node()
        self._node0 = self._node
        self._rates: dict = {}
        for m in self.meters:
            try:
                m.begin()
            except Exception as exc:
                self._mark_unavailable(m, 0.0, exc)
        self._thread = threading.Thread(target=self._loop, name="bids-energy-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> SamplerResult:
        """Final reading, join, assemble. Calling it twice returns the same result."""
        if self._stopped is not None:
            return self._stopped
        if not self._started:
            self.start()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, 3 * self.interval_s))
        with self._lock:
            self._tick(final=True)
            self.walker.close()
        n, extra = self._caught_up
        if n:
            self._warn(f"the job's CPU time counters were read late and caught up {n} time(s), "
                       f"{extra:.1f} CPU-s beyond what the CPUs could run in those intervals "
                       "(e.g. a descheduled VM CPU): kept, and billed over the following "
                       "intervals as the CPUs allowed")
        for m in self.meters:
            try:
                m.close()
            except Exception:
                pass
            for msg in getattr(m, "warnings", ()):  # a meter's own findings (NVML fallbacks)
                self._warn(msg)
        self._stopped = self._result()
        return self._stopped

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            with self._lock:
                try:
                    self._tick(final=False)
                except Exception as exc:  # the sampler must never take the run down
                    self._warn(f"sampler interval skipped: {exc.__class__.__name__}: {exc}")

    # ---- one interval ----------------------------------------------------------------
    def _safe_snapshot(self) -> TreeSnapshot | None:
        try:
            return self.walker.snapshot()
        except Exception as exc:
            self._warn(f"process tree unreadable: {exc}")
            return None

    def _safe_node(self) -> procfs.NodeCpu | None:
        try:
            return procfs.read_node_cpu(self.proc_root)
        except (OSError, ValueError) as exc:
            self._warn(f"node CPU counters unreadable ({exc}); the RAPL job share cannot be computed")
            return None

    def _warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def _mark_unavailable(self, m: EnergyMeter, t_s: float, exc: BaseException) -> None:
        self._active[id(m)] = False
        tot = self.totals[id(m)]
        tot.status = "unavailable"
        tot.unavailable_from_s = round(t_s, 3)
        self._warn(f"{m.component} meter ({m.method}) unavailable from t={t_s:.1f} s: {exc}")

    def _tick(self, final: bool) -> None:
        now = self.clock()
        dt = now - self._prev_t
        t_s = now - self._t0
        if dt <= 0:
            if dt < 0:
                self._warn(f"monotonic clock went back by {-dt:.3f} s; interval dropped")
                self._prev_t = now
            return
        snap = self._safe_snapshot()
        job_cpu = self._cpu_now(snap)
        d_job = job_cpu - self._job_cpu
        node = self._safe_node()
        d_busy = d_total = None
        if node is not None and self._node is not None:
            d_busy = node.busy_s - self._node.busy_s
            d_total = node.total_s - self._node.total_s
            if d_busy < 0 or d_total < 0:
                d_busy = d_total = None
        mem_bytes = self._mem_now(snap)
        prev_snap = self._snap
        self._prev_t, self._job_cpu, self._node, self._snap = now, job_cpu, node or self._node, snap
        cores = self.cpu.logical_cores
        kept_cpu = job_cpu - self._job_cpu0 - self._dropped_cpu_s
        # More CPU time than the CPUs could give in dt is absurd (pid reuse, a clock jump)
        # unless the job's total since the start is still possible: then a counter read
        # late (a descheduled VM CPU, kernel accounting) has caught up, and the time is real.
        if d_job < 0 or dt > MAX_INTERVAL_FACTOR * self.interval_s + 5 or not (
                plausible_cpu_delta(d_job, dt, cores) or plausible_cpu_delta(kept_cpu, t_s, cores)):
            self._warn(f"interval of {dt:.1f} s ending at t={t_s:.1f} s dropped: job CPU "
                       f"delta {d_job:.1f} s is not plausible (clock jump or pid reuse)")
            self._dropped_cpu_s += d_job
            for m in self.meters:  # the dropped interval's energy must not spill into the next
                if self._active[id(m)]:
                    self.totals[id(m)].dropped += 1
                    self.totals[id(m)].dropped_s += dt
                    try:
                        m.rebaseline()
                    except Exception as exc:
                        self._mark_unavailable(m, t_s, exc)
            self._phase_interval(t_s, dt, 0.0, 0.0, final)
            return
        d_job = self._billable_cpu(d_job, dt, final)
        cpu_by_prog: dict[str, float] = {}
        if prev_snap is not None and snap is not None:
            cpu_by_prog, self._rates = split_interval(prev_snap, snap, self._rates, dt)
        mem_gb = mem_bytes / BYTES_PER_GB
        self._mem_gb_s += mem_gb * dt
        ctx = IntervalContext(t_s=t_s, dt_s=dt, job_cpu_delta_s=d_job, node_busy_delta_s=d_busy,
                              node_total_delta_s=d_total, job_mem_gb=mem_gb,
                              logical_cores=self.cpu.logical_cores)
        per_comp: dict[str, tuple[float | None, float | None]] = {}
        gpu_prog: dict[str, float] = {}
        for m in self.meters:
            if not self._active[id(m)]:
                continue
            tot = self.totals[id(m)]
            try:
                s = m.sample(ctx)
            except ImplausibleReading as exc:
                tot.dropped += 1
                tot.dropped_s += dt
                self._warn(f"{m.component}: {exc}; interval dropped")
                continue
            except (MeterUnavailable, Exception) as exc:
                self._mark_unavailable(m, t_s, exc)
                continue
            tot.job_j += s.job_j or 0.0
            tot.node_j = None if s.node_j is None or tot.node_j is None else tot.node_j + s.node_j
            if s.idle_j is not None:
                tot.idle_j = (tot.idle_j or 0.0) + s.idle_j
            j, n = per_comp.get(m.component, (None, None))
            per_comp[m.component] = (_add(j, s.job_j), _add(n, s.node_j))
            if m.component == "gpu" and snap is not None:
                weights = getattr(m, "pid_weights", {}) or {}
                by_pid = {p.pid: p.program for p in snap.procs.values()}
                for pid, w in weights.items():
                    if pid in by_pid:
                        gpu_prog[by_pid[pid]] = gpu_prog.get(by_pid[pid], 0.0) + w
        job_j = sum(v[0] or 0.0 for v in per_comp.values())
        gpu_j = (per_comp.get("gpu", (None, None))[0] or 0.0) if gpu_prog else 0.0
        self.steps.add_interval(t_s, dt, cpu_by_prog, j_to_wh(job_j), j_to_wh(gpu_j), gpu_prog)
        self._phase_interval(t_s, dt, d_job, j_to_wh(job_j), final)

        def w(comp: str, idx: int) -> float | None:
            v = per_comp.get(comp, (None, None))[idx]
            return None if v is None else v / dt

        share = job_share(d_job, d_busy) if d_busy is not None else None
        row = TimelineRow(round(t_s, 3), share, w("cpu", 0), w("cpu", 1), mem_gb,
                          w("memory", 0), w("gpu", 0), w("gpu", 1))
        self.timeline.add(dt, list(row), fold_if_short=final)

    def _billable_cpu(self, d_job: float, dt: float, final: bool) -> float:
        """The job CPU time this interval bills: its own plus any backlog, at most what the
        node's CPUs could run in dt; the rest waits for the next interval (all of it at the
        last), so a late counter neither bills a power no CPU could draw nor is lost."""
        capacity = dt * self.cpu.logical_cores
        if d_job > capacity:
            n, extra = self._caught_up
            self._caught_up = (n + 1, extra + d_job - capacity)
        due = d_job + self._cpu_backlog_s
        billed = due if final else min(due, capacity)
        self._cpu_backlog_s = due - billed
        return billed

    def _root_own(self) -> tuple[float, int]:
        """The root process's own CPU seconds and RSS where it counts (include_root)."""
        if not self.include_root:
            return 0.0, 0
        st = procfs.read_pid_stat(self.proc_root, self.root_pid)
        return (st.self_cpu_s, st.rss_bytes) if st is not None else (0.0, 0)

    def _cpu_now(self, snap: TreeSnapshot | None) -> float:
        cpu = self.usage.cpu_s(snap)
        if self.include_root:
            cpu += max(0.0, self._root_own()[0] - self._root_cpu0)
        return cpu

    def _mem_now(self, snap: TreeSnapshot | None) -> int:
        mem = self.usage.mem_bytes(snap, self.proc_root)
        if self.include_root:
            mem += self._root_own()[1]
            self._root_peak = max(self._root_peak, mem)
        return mem

    def _phase_interval(self, t_s: float, dt: float, cpu_s: float, energy_wh: float,
                        final: bool) -> None:
        """Read the job's new phase lines, then share this interval among its phases."""
        if self._phase_tail is not None:
            events, bad = self._phase_tail.read(final=final)
            self.phases.add_bad(bad)
            self.phases.add_events(events, t_s, lambda unix: unix - self._wall0)
        self.phases.add_interval(t_s, dt, cpu_s, energy_wh, final=final)

    # ---- assembling ------------------------------------------------------------------
    def _component(self, m: EnergyMeter) -> ComponentTotals:
        tot = self.totals[id(m)]
        final = None
        try:
            final = m.finish()
        except Exception as exc:
            self._warn(f"{m.component}: shared-node split failed ({exc}); per-interval sum kept")
        status = tot.status
        if status == "unavailable" and tot.unavailable_from_s and tot.unavailable_from_s > 0:
            status = "partial"
        return ComponentTotals(
            component=m.component, method=m.method, measured=bool(m.measured),
            job_j=final.job_j if final is not None else tot.job_j,  # idle power may be known only now
            node_j=tot.node_j, status=status, note=m.note(), inputs=dict(m.inputs()),
            idle_j=tot.idle_j if final is None else None,
            unavailable_from_s=tot.unavailable_from_s, dropped_intervals=tot.dropped,
            dropped_s=tot.dropped_s, split=final,
        )

    def _result(self) -> SamplerResult:
        job_cpu = max(0.0, self._job_cpu - self._dropped_cpu_s)
        node_total = node_busy = None
        if self._node is not None and self._node0 is not None:
            node_total = round(self._node.total_s - self._node0.total_s, 3)
            node_busy = round(self._node.busy_s - self._node0.busy_s, 3)
        attribution = CpuAttribution(
            mode=self.choice.mode, reason=self.choice.reason, job_cpu_s=round(job_cpu, 3),
            node_cpu_s=node_total, node_busy_cpu_s=node_busy, node_cores=self.cpu.logical_cores,
            memory_source=self.usage.mem_source,
        )
        components = tuple(self._component(m) for m in self.meters)
        hardware = HardwareInfo(
            cpu_model=self.cpu.model, cpu_cores_logical=self.cpu.logical_cores,
            cpu_cores_physical=self.cpu.physical_cores,
            mem_total_gb=procfs.read_mem_total_gb(self.proc_root),
            gpus=tuple(GpuInfo(g.index, g.name, g.uuid, g.visible) for g in self.selection.gpus),
        )
        return SamplerResult(
            cpu_s=round(job_cpu, 3),
            peak_mem_gb=round(max(self.usage.peak_bytes(), self._root_peak) / BYTES_PER_GB, 4),
            attribution=attribution, components=components, hardware=hardware,
            timeline=self.timeline.data(), steps=self.steps.totals(),
            warnings=list(self.warnings) + [w for w in [self.phases.warning()] if w],
            phases=self.phases.summary(),
        )


def _add(a: float | None, b: float | None) -> float | None:
    if b is None:
        return a
    return b if a is None else a + b


def create_sampler(root_pid: int | None = None, interval_s: float = 1.0, attribution: str = "auto",
                   proc_root: str = "/proc", sys_root: str = "/sys",
                   env: Mapping[str, str] | None = None, max_timeline_points: int = 720,
                   step_map: Sequence[tuple[str, str]] = (),
                   selection: Selection | None = None,
                   phase_file: str | os.PathLike | None = None,
                   include_root: bool = False, powercap_root: str | None = None,
                   idle_power_w: float | None = None) -> Sampler:
    """Choose attribution and meters for this machine and return an unstarted Sampler.

    ``selection`` lets tests inject meters; normally it is chosen from proc/sys/env
    (``powercap_root``: --powercap-root; ``idle_power_w``: --idle-power-w).
    """
    root_pid = os.getpid() if root_pid is None else root_pid
    choice = choose_attribution(attribution, root_pid, proc_root, sys_root)
    if selection is None:
        selection = choose(proc_root, sys_root, os.environ if env is None else env,
                           powercap_root=powercap_root, idle_power_w=idle_power_w)
    return Sampler(root_pid, interval_s, choice, selection, proc_root, max_timeline_points,
                   step_map, phase_file=phase_file, include_root=include_root)
