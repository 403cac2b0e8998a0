"""Per-program CPU accounting: which program used the job's CPU in each sampling interval.

Separate from the tree walker (``proctree``), which only says who is running and what each
has used so far: turning two snapshots into CPU seconds per program, including the CPU of
processes that ended between them (it surfaces in an ancestor's reaped-children total), is
its own rule, and the steps table (``meters.steps``) depends on it being right.
"""

from __future__ import annotations

from bids_energy.meters.proctree import PENDING, ROOT_KEY, UNIDENTIFIED, ProcEntry, TreeSnapshot


def split_interval(prev: TreeSnapshot, cur: TreeSnapshot, prev_rates: dict[tuple[int, int], float],
                   dt_s: float) -> tuple[dict[str, float], dict[tuple[int, int], float]]:
    """CPU seconds used in (prev, cur] by program, and each live process's CPU rate
    (a process left out of the rates, like one whose entry did not change, has rate 0).

    Live-at-both processes get their own CPU delta. New processes get all their CPU (they
    started inside the interval). CPU of processes that ended reaches the nearest surviving
    ancestor's reaped-children total (or root's); what exceeds the ended children's last-seen
    totals is their tail plus children never seen at all. The tail goes back to the ended
    processes, capped by max(last rate, 1 core) x dt; the rest goes to the surviving ancestor's program.
    """
    out: dict[str, float] = {}
    rates: dict[tuple[int, int], float] = {}

    def add(prog: str, cpu: float) -> None:
        if cpu > 0:
            out[prog] = out.get(prog, 0.0) + cpu

    child_delta: dict[tuple[int, int], float] = {
        ROOT_KEY: max(0.0, cur.root_children_cpu_s - prev.root_children_cpu_s)}
    prev_procs = prev.procs
    for key, c in cur.procs.items():
        p = prev_procs.get(key)
        if c is p:  # the walker reuses an unchanged entry: no CPU, zero rate (the default)
            continue
        if c.program == PENDING:
            continue
        if p is None or p.program == PENDING:
            add(c.program, c.total_cpu_s)
            rates[key] = c.self_cpu_s / dt_s if dt_s > 0 else 0.0
            continue
        d_self = max(0.0, c.self_cpu_s - p.self_cpu_s)
        add(c.program, d_self)
        rates[key] = d_self / dt_s if dt_s > 0 else 0.0
        child_delta[key] = max(0.0, c.children_cpu_s - p.children_cpu_s)

    prev_by_pid: dict[int, ProcEntry] = {}  # built only when some process ended
    groups: dict[tuple[int, int], list[ProcEntry]] = {}
    direct: dict[tuple[int, int], float] = {}
    cur_procs = cur.procs
    for key, v in prev_procs.items():
        if key in cur_procs or v.program == PENDING:
            continue  # a pending process that ended counts as never seen
        if not prev_by_pid:
            prev_by_pid = {p.pid: p for p in prev_procs.values()}
        sink = _sink(v, prev_by_pid, cur)
        groups.setdefault(sink, []).append(v)
        # every ended process's last-seen total was attributed already and flows up to the sink
        direct[sink] = direct.get(sink, 0.0) + v.total_cpu_s
    for sink, delta in child_delta.items():
        extra = delta - direct.get(sink, 0.0)
        if extra <= 0:
            continue
        ended = groups.get(sink, [])
        # an ended process was most likely running until it ended: at least one core's worth
        caps = [max(prev_rates.get(v.key, 0.0), 1.0) * dt_s for v in ended]
        total_cap = sum(caps)
        given = min(extra, total_cap)
        for v, cap in zip(ended, caps, strict=True):
            if total_cap > 0:
                add(v.program, given * cap / total_cap)
        rest = extra - given
        if rest > 0:
            sink_prog = cur.procs[sink].program if sink in cur.procs else None
            if sink_prog is None:
                direct_progs = [v.program for v in ended if v.ppid not in prev_by_pid]
                sink_prog = direct_progs[0] if direct_progs else UNIDENTIFIED
            add(sink_prog, rest)
    return out, rates


def _sink(v: ProcEntry, prev_by_pid: dict[int, ProcEntry], cur: TreeSnapshot) -> tuple[int, int]:
    """Nearest ancestor alive in both snapshots, ROOT_KEY if none."""
    node = v
    for _ in range(4096):
        parent = prev_by_pid.get(node.ppid)
        if parent is None:
            return ROOT_KEY
        if parent.key in cur.procs:
            return parent.key
        node = parent
    return ROOT_KEY
