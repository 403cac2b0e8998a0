"""Energy by phase: which phase was current when, and each interval's job energy shared among
the phases active in it, pro rata by time.

Steps see programs; phases see inside one (a Python pipeline's stages, a training loop's
epochs) because the job says when they start and end (protocol in ``meters.phaselog``). The
tally is pure: the sampler hands it parsed events and intervals. ``PhaseFileTail`` is the one
I/O edge, reading what the job appended since the last interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bids_energy.meters.phaselog import NO_PHASE, PhaseEvent, parse_lines, split_complete

MAX_SPANS = 2000  # spans kept for the report's bands; totals stay exact past it


@dataclass
class _Phase:
    cpu_s: float = 0.0
    energy_wh: float = 0.0
    time_s: float = 0.0
    first_seen_s: float | None = None
    last_seen_s: float | None = None
    occurrences: int = 0


@dataclass(frozen=True)
class PhaseTotals:
    """One phase's whole-run figures (the footprint adds shares, rounding and CO2e)."""

    phase: str
    cpu_s: float
    energy_wh: float
    time_s: float
    first_seen_s: float | None
    last_seen_s: float | None
    occurrences: int


@dataclass(frozen=True)
class PhaseSummary:
    rows: tuple[PhaseTotals, ...]
    spans: tuple[tuple, ...]  # (phase, start_s, end_s), at most max_spans
    spans_dropped: int
    events: int
    ignored_lines: int


class PhaseTally:
    """Current phase, pending events and per-phase totals (no I/O)."""

    def __init__(self, max_spans: int = MAX_SPANS) -> None:
        self.current: str | None = None
        self._since = 0.0
        self._cursor = 0.0
        self._seq = 0
        self._pending: list[tuple[float, int, PhaseEvent]] = []
        self._phases: dict[str, _Phase] = {NO_PHASE: _Phase(occurrences=1, first_seen_s=0.0)}
        self.spans: list[list] = []
        self.spans_dropped = 0
        self.max_spans = max_spans
        self.events = 0
        self.bad_lines: list[str] = []
        self.bad_count = 0

    # ---- input -------------------------------------------------------------------------
    def add_events(self, events: Iterable[PhaseEvent], read_at_s: float,
                   unix_to_s: Callable[[float], float]) -> None:
        """Queue events; a timed one at its own time (on the sampler's clock), others at
        ``read_at_s``. They take effect in time order as intervals reach them."""
        for ev in events:
            t = read_at_s if ev.unix_s is None else unix_to_s(ev.unix_s)
            self._seq += 1
            self._pending.append((t, self._seq, ev))
            self.events += 1
        self._pending.sort(key=lambda p: (p[0], p[1]))

    def add_bad(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.bad_count += 1
            if len(self.bad_lines) < 3:
                self.bad_lines.append(line[:80])

    def add_interval(self, t_end_s: float, dt_s: float, cpu_s: float, energy_wh: float,
                     final: bool = False) -> None:
        """Share one interval's job CPU and energy among the phases current in it, by time.

        Events timed before the interval start count at its start (that part is already
        shared out); on the last interval every pending event is applied.
        """
        t0 = max(self._cursor, t_end_s - dt_s)
        span = max(t_end_s - t0, 0.0)
        cursor = t0
        while self._pending and (final or self._pending[0][0] <= t_end_s):
            t, _, ev = self._pending.pop(0)
            t = min(max(t, cursor), t_end_s)
            self._share(cursor, t, span, cpu_s, energy_wh)
            cursor = t
            self._apply(ev, t)
        self._share(cursor, t_end_s, span, cpu_s, energy_wh)
        self._cursor = max(self._cursor, t_end_s)

    def _share(self, a: float, b: float, span: float, cpu_s: float, energy_wh: float) -> None:
        if b <= a:
            return
        ph = self._phases[self.current or NO_PHASE]
        frac = (b - a) / span if span > 0 else 0.0
        ph.time_s += b - a
        ph.cpu_s += cpu_s * frac
        ph.energy_wh += energy_wh * frac
        if ph.first_seen_s is None:
            ph.first_seen_s = a
        ph.last_seen_s = b

    def _apply(self, ev: PhaseEvent, t: float) -> None:
        if ev.kind == "begin":
            if ev.name == self.current:
                return
            self._switch(ev.name, t)
        elif ev.name is None or ev.name == self.current:
            if self.current is not None:
                self._switch(None, t)

    def _switch(self, name: str | None, t: float) -> None:
        if self.current is not None:
            self._close_span(t)
        self.current, self._since = name, t
        ph = self._phases.setdefault(name or NO_PHASE, _Phase())
        ph.occurrences += 1
        if ph.first_seen_s is None:
            ph.first_seen_s = t
        ph.last_seen_s = t if ph.last_seen_s is None else max(ph.last_seen_s, t)

    def _close_span(self, t: float) -> None:
        if len(self.spans) < self.max_spans:
            self.spans.append([self.current, round(self._since, 3), round(t, 3)])
        else:
            self.spans_dropped += 1

    # ---- output ------------------------------------------------------------------------
    def summary(self) -> PhaseSummary | None:
        """Per-phase totals and the spans; None when the job marked no phase at all."""
        if not self.events and not self.bad_count:
            return None
        spans = list(self.spans)
        if self.current is not None and len(spans) < self.max_spans:
            spans.append([self.current, round(self._since, 3), round(self._cursor, 3)])
        rows = []
        order = sorted(self._phases.items(),
                       key=lambda kv: (kv[0] == NO_PHASE, kv[1].first_seen_s or 0.0))
        for name, p in order:
            if name == NO_PHASE and p.time_s <= 0 and p.cpu_s <= 0:
                continue
            rows.append(PhaseTotals(name, p.cpu_s, p.energy_wh, p.time_s, p.first_seen_s,
                                    p.last_seen_s, p.occurrences))
        return PhaseSummary(tuple(rows), tuple(tuple(sp) for sp in spans), self.spans_dropped,
                            self.events, self.bad_count)

    def warning(self) -> str | None:
        if not self.bad_count:
            return None
        shown = "; ".join(repr(s) for s in self.bad_lines)
        return (f"phase file: {self.bad_count} unparseable line(s) ignored (e.g. {shown}); "
                "expected '[UNIX_TIME] begin NAME' or '[UNIX_TIME] end [NAME]'")


class PhaseFileTail:
    """Reads what the job appended to its phase file since the last call (the I/O edge).

    A line still being written (no newline yet) waits for the next call; a file that does
    not exist yet, or is gone, simply has nothing new.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._tail = ""

    def read(self, final: bool = False) -> tuple[list[PhaseEvent], list[str]]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            data = b""
        self._offset += len(data)
        lines, self._tail = split_complete(self._tail + data.decode("utf-8", "replace"))
        if final and self._tail:
            lines.append(self._tail)
            self._tail = ""
        return parse_lines(lines)
