"""Parse ``sacct -P`` output into one record per job (pure: text in, records out).

Slurm writes one line for the job allocation and one per step (``123.batch``,
``123.extern``, ``123.0``). The allocation line already sums its steps' CPU time, so
steps only contribute what the allocation line lacks (MaxRSS), never CPU a second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bids_energy.errors import DataError
from bids_energy.meters.memmodel import BYTES_PER_GB

SACCT_FIELDS = (
    "JobID,JobName,Partition,Submit,Elapsed,NCPUS,TotalCPU,CPUTime,ReqMem,MaxRSS,State,AllocTres"
)

_JOBID = re.compile(
    r"^(?P<base>\d+(?:\+\d+)?(?:_(?:\d+|\[[^\]]*\]))?)(?:\.(?P<step>[A-Za-z0-9_+-]+))?$"
)
_MEM = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<unit>[KMGTP]?)(?P<per>[cn]?)$", re.IGNORECASE)
# Slurm's K/M/G/T/P are binary (1024-based); figures are reported in decimal GB (BYTES_PER_GB)
_UNIT_GB = {u: 1024**k / BYTES_PER_GB for k, u in enumerate(("", "K", "M", "G", "T", "P"))}
_MISSING = {"", "unknown", "none", "n/a", "invalid"}


@dataclass
class SacctJob:
    """One job (allocation) with its steps folded in."""

    job_id: str
    job_name: str = ""
    partition: str | None = None
    submit: str | None = None
    state: str | None = None
    elapsed_s: float | None = None
    ncpus: int | None = None
    total_cpu_s: float | None = None
    cpu_time_s: float | None = None
    req_mem_gb: float | None = None
    max_rss_gb: float | None = None
    n_gpu: int = 0
    n_nodes: int | None = None
    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def mem_gb(self) -> float | None:
        return self.req_mem_gb if self.req_mem_gb is not None else self.max_rss_gb

    @property
    def mem_source(self) -> str:
        if self.req_mem_gb is not None:
            return "ReqMem"
        return "MaxRSS" if self.max_rss_gb is not None else "none"


def _missing(value: str | None) -> bool:
    return value is None or value.strip().lower() in _MISSING


_DURATION = re.compile(r"^(?:(?P<d>\d+)-)?(?:(?:(?P<h>\d+):)?(?P<m>\d+):)?(?P<s>\d+(?:\.\d+)?)$")


def parse_duration_s(text: str | None) -> float | None:
    """Seconds of a Slurm duration: ``1-02:03:04``, ``02:03:04``, ``03:04``, ``03:04.567``.

    Anything else (``-``, ``1:2:3:4``, ``nan``) is a DataError, never a stray ValueError."""
    if _missing(text):
        return None
    m = _DURATION.match(text.strip())
    if m is None:
        raise DataError(f"cannot read Slurm duration {text!r}")
    d, h, mi = (int(m.group(k) or 0) for k in ("d", "h", "m"))
    return d * 86400 + h * 3600 + mi * 60 + float(m.group("s"))


def parse_mem_gb(text: str | None) -> tuple[float | None, str]:
    """GB (10^9 bytes, the project's one memory unit) and a scope (``""``, ``"c"`` per CPU,
    ``"n"`` per node) of a Slurm memory size, whose K/M/G units are 1024-based.

    Bare numbers are bytes for MaxRSS but MB for ReqMem; callers pass ReqMem with its unit
    already present in every Slurm version we know, so a bare number is read as bytes.
    """
    if _missing(text):
        return None, ""
    m = _MEM.match(text.strip())
    if not m:
        raise DataError(f"cannot read Slurm memory size {text!r}")
    gb = float(m["num"]) * _UNIT_GB[m["unit"].upper()]
    return gb, m["per"].lower()


def parse_tres(text: str | None) -> dict[str, str]:
    """``billing=8,cpu=8,gres/gpu=2,mem=16G,node=1`` -> dict."""
    if _missing(text):
        return {}
    out = {}
    for item in text.split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def gpus_from_tres(tres: dict[str, str]) -> int:
    """GPU count: ``gres/gpu=N``, else the sum of typed ``gres/gpu:a100=N`` entries."""
    if "gres/gpu" in tres:
        return int(tres["gres/gpu"])
    return sum(int(v) for k, v in tres.items() if k.startswith("gres/gpu:") and v.isdigit())


def parse_state(text: str | None) -> str | None:
    """``CANCELLED by 123`` -> ``CANCELLED``; ``OUT_OF_MEMORY`` kept."""
    if _missing(text):
        return None
    return text.strip().split()[0].rstrip("+").upper()


def _int(text: str | None) -> int | None:
    if _missing(text):
        return None
    try:
        return int(text.strip())
    except ValueError as exc:
        raise DataError(f"expected an integer in sacct output, got {text!r}") from exc


def split_job_id(job_id: str) -> tuple[str, str | None]:
    """(``123_4``, ``batch``) for ``123_4.batch``; DataError for what is not a job id."""
    m = _JOBID.match(job_id.strip())
    if not m:
        raise DataError(f"cannot read Slurm job id {job_id!r}")
    return m["base"], m["step"]


def _rows(text: str) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = [h.strip() for h in lines[0].split("|")]
    if "JobID" not in header:
        raise DataError(
            "sacct output has no header line with JobID: run sacct with -P and without -n "
            f"(--format {SACCT_FIELDS})"
        )
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("|")
        if cells and cells[-1] == "" and len(cells) == len(header) + 1:
            cells = cells[:-1]  # `sacct -p` ends lines with a separator
        if len(cells) != len(header):
            raise DataError(f"sacct line {n}: {len(cells)} fields, header has {len(header)}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _apply_alloc(job: SacctJob, row: dict[str, str]) -> None:
    job.job_name = row.get("JobName", "").strip()
    job.partition = None if _missing(row.get("Partition")) else row["Partition"].split(",")[0]
    job.submit = None if _missing(row.get("Submit")) else row["Submit"].strip()
    job.state = parse_state(row.get("State"))
    job.elapsed_s = parse_duration_s(row.get("Elapsed"))
    job.ncpus = _int(row.get("NCPUS"))
    job.total_cpu_s = parse_duration_s(row.get("TotalCPU"))
    job.cpu_time_s = parse_duration_s(row.get("CPUTime"))
    tres = parse_tres(row.get("AllocTres") or row.get("AllocTRES"))
    job.n_gpu = gpus_from_tres(tres)
    job.n_nodes = _int(tres.get("node"))
    req, scope = parse_mem_gb(row.get("ReqMem"))
    if req is not None and scope == "c":
        req *= job.ncpus or 1
    elif req is not None and scope == "n":
        req *= job.n_nodes or 1
    job.req_mem_gb = req or None  # 0 means "all memory of the node": unknown to us
    rss, _ = parse_mem_gb(row.get("MaxRSS"))
    if rss is not None:
        job.max_rss_gb = max(job.max_rss_gb or 0.0, rss)


def _fold_step(job: SacctJob, step: str, row: dict[str, str]) -> None:
    job.steps.append(step)
    rss, _ = parse_mem_gb(row.get("MaxRSS"))
    if rss is not None:
        job.max_rss_gb = max(job.max_rss_gb or 0.0, rss)


def parse_sacct(text: str) -> list[SacctJob]:
    """Jobs in first-seen order, steps folded into their allocation line."""
    jobs: dict[str, SacctJob] = {}
    step_cpu: dict[str, float] = {}
    has_alloc: set[str] = set()
    for row in _rows(text):
        base, step = split_job_id(row.get("JobID", ""))
        job = jobs.setdefault(base, SacctJob(job_id=base))
        if step is None:
            _apply_alloc(job, row)
            has_alloc.add(base)
        else:
            _fold_step(job, step, row)
            step_cpu[base] = step_cpu.get(base, 0.0) + (parse_duration_s(row.get("TotalCPU")) or 0)
            if base not in has_alloc:  # keep what we can from steps until the allocation line
                job.elapsed_s = max(job.elapsed_s or 0.0, parse_duration_s(row.get("Elapsed")) or 0)
                job.ncpus = job.ncpus or _int(row.get("NCPUS"))
                job.state = job.state or parse_state(row.get("State"))
    for base, job in jobs.items():
        if base not in has_alloc:
            job.total_cpu_s = step_cpu.get(base)
            job.warnings.append("no allocation line: CPU time summed over steps")
        elif not job.total_cpu_s and step_cpu.get(base):
            job.total_cpu_s = step_cpu[base]
    return list(jobs.values())
