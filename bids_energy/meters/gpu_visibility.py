"""Which GPUs are the job's: the visibility variables read against the devices NVML sees.

Pure functions, no NVML calls: the facts about each device (index, UUID, PCI bus id,
compute capability, MIG instance UUIDs) come in, the job's NVML indices and the reasons go
out. The rules, and why:

* Two layers. ``NVIDIA_VISIBLE_DEVICES`` is the container runtime's choice of the devices
  it mounts (``docker run --gpus device=3`` sets it to ``3`` and mounts one GPU, which NVML
  inside then calls index 0). ``CUDA_VISIBLE_DEVICES`` is applied by CUDA on top, to the
  devices the process can see (Slurm sets it; renumbered when device cgroups hide others).
* Indices are not stable across those layers; UUIDs (``GPU-...``) are. A UUID or a UUID
  prefix is matched against NVML's UUIDs; ``MIG-...`` against the MIG instances, which
  bill their parent GPU (NVML has no per-instance energy).
* When a variable names an index NVML cannot index (``device=3`` with one device inside),
  the runtime has already applied it: the devices NVML sees are the job's.
* CUDA numbers devices fastest first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; NVML numbers
  them by PCI bus. Identical devices order the same either way; mixed ones are ordered by
  compute capability then SM clock (CUDA's heuristic, approximated) and a warning says so.
* A selection that matches nothing, or names no device, gives the job no GPU and a warning:
  never a silent 0 labelled measured. So does a Slurm job that Slurm gave no GPU (no
  CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS, ...): the node's GPUs are other jobs'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ALL = "all"
NO_DEVICE_WORDS = ("none", "void", "nodevfiles")
# set by Slurm for a job (step) it allocated GPUs to
SLURM_GPU_VARS = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "SLURM_JOB_GPUS",
                  "SLURM_STEP_GPUS", "GPU_DEVICE_ORDINAL")


@dataclass(frozen=True)
class DeviceFacts:
    """What selection needs to know about one device NVML sees."""

    index: int  # NVML index (PCI bus order)
    uuid: str
    pci_bus_id: str = ""
    name: str = ""
    compute_capability: tuple[int, int] | None = None
    max_sm_clock_mhz: int | None = None
    mig_uuids: tuple[str, ...] = ()


@dataclass
class Visibility:
    """The job's devices (NVML indices), how they were chosen, and what to warn about."""

    job_indices: list[int]
    how: str
    warnings: list[str] = field(default_factory=list)
    mig_parents: list[int] = field(default_factory=list)
    cuda_order: list[int] = field(default_factory=list)
    matched_nothing: bool = False  # a selection named devices, none of which NVML sees
    holds_none: bool = False  # the job was given no GPU (empty/none, or Slurm gave none)


def parse_list(raw: str | None) -> list[str] | str | None:
    """A visibility variable as entries; None = unset, ALL = every device, [] = none."""
    if raw is None:
        return None
    raw = raw.strip()
    if raw.lower() == ALL:
        return ALL
    if raw == "" or raw.lower() in NO_DEVICE_WORDS:
        return []
    return [p.strip() for p in raw.split(",")]


def cuda_order(devs: Sequence[DeviceFacts], env: Mapping[str, str]) -> tuple[list[int], str | None]:
    """Positions of ``devs`` in CUDA's enumeration order, and a warning if it is a guess."""
    order = (env.get("CUDA_DEVICE_ORDER") or "FASTEST_FIRST").strip().upper()
    pci = sorted(range(len(devs)), key=lambda i: (devs[i].pci_bus_id.lower(), devs[i].index))
    if order == "PCI_BUS_ID" or len({d.name for d in devs}) <= 1:
        return pci, None

    def speed(i: int) -> tuple:
        cc = devs[i].compute_capability or (0, 0)
        return (-cc[0], -cc[1], -(devs[i].max_sm_clock_mhz or 0))

    fastest = sorted(pci, key=speed)
    note = ("GPUs of different models with CUDA_DEVICE_ORDER unset: CUDA numbers them fastest "
            "first, approximated here by compute capability then SM clock; set "
            "CUDA_DEVICE_ORDER=PCI_BUS_ID or select GPUs by UUID to be sure")
    return fastest, (note if fastest != pci else None)


def _match_entry(entry: str, devs: Sequence[DeviceFacts],
                 order: Sequence[int]) -> tuple[int | None, bool, str | None]:
    """(position in devs, is MIG, problem) for one selector entry; position None = no match."""
    if entry.isdigit():
        k = int(entry)
        return (order[k], False, None) if k < len(order) else (None, False, "index")
    if entry.upper().startswith("MIG-"):
        body = entry[4:]
        for pos, d in enumerate(devs):
            if entry in d.mig_uuids or body.startswith(d.uuid):  # MIG-GPU-<uuid>/gi/ci form
                return pos, True, None
        return None, True, "uuid"
    hits = [pos for pos, d in enumerate(devs) if d.uuid == entry or d.uuid.startswith(entry)]
    if len(hits) == 1:
        return hits[0], False, None
    return None, False, "uuid" if not hits else "ambiguous"


def _apply(name: str, entries: list[str], pool: list[int], devs: Sequence[DeviceFacts],
           order: Sequence[int], vis: Visibility) -> list[int] | None:
    """Positions chosen from ``pool`` by one variable; None = matched nothing usable."""
    sub = [devs[p] for p in pool]
    sub_order = [pool.index(order_p) for order_p in order if order_p in pool]
    chosen: list[int] = []
    for entry in entries:
        pos, mig, problem = _match_entry(entry, sub, sub_order)
        if problem == "index":
            # the runtime already applied the variable: NVML cannot index what it hid
            vis.how = (f"{name}={','.join(entries)} names an index NVML cannot see "
                       f"({len(pool)} device(s) visible): the devices NVML sees are the job's")
            return list(pool)
        if pos is None:
            if problem == "ambiguous":
                vis.warnings.append(f"{name} entry {entry!r} matches several GPUs; ignored")
            break  # CUDA stops at the first entry it cannot use
        if pool[pos] not in chosen:
            chosen.append(pool[pos])
        if mig and pool[pos] not in vis.mig_parents:
            vis.mig_parents.append(pool[pos])
    return chosen or None


def resolve(devs: Sequence[DeviceFacts], env: Mapping[str, str]) -> Visibility:
    """The job's devices among ``devs`` (listed in NVML order) under ``env``."""
    order, order_note = cuda_order(devs, env)
    vis = Visibility(job_indices=[], how="every device NVML sees (no visibility variable)",
                     cuda_order=[devs[p].index for p in order])
    if order_note:
        vis.warnings.append(order_note)
    pool = list(range(len(devs)))
    if env.get("SLURM_JOB_ID") and not any(env.get(k) is not None for k in SLURM_GPU_VARS):
        # Slurm sets these for every job it gives GPUs to; none set = it gave this job none,
        # and the node's GPUs belong to other jobs (or to nobody)
        vis.how = ("a Slurm job with no GPU allocated (none of "
                   f"{', '.join(SLURM_GPU_VARS)} is set): the job holds no GPU")
        vis.holds_none = True
        return vis
    layers = ["NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"]
    if all(env.get(k) is None for k in layers):
        # Slurm's own record of the GPUs it gave (nvidia-smi indices), when the variables CUDA
        # applies were not passed on (apptainer --cleanenv forwarding only SLURM_*)
        layers = [k for k in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS") if env.get(k) is not None][:1]
    for name in layers:
        entries = parse_list(env.get(name))
        if entries is None or entries == ALL:
            continue
        if not entries:
            vis.how = f"{name}={env.get(name)!r}: the job holds no GPU"
            vis.warnings.append(f"{name}={env.get(name)!r} gives the job no GPU; GPU energy is "
                                "reported for the node only, not attributed to the job")
            vis.holds_none = True
            return vis
        how_before = vis.how
        # NVIDIA_VISIBLE_DEVICES indices are nvidia-smi's (NVML, PCI order); CUDA's its own
        layer_order = order if name == "CUDA_VISIBLE_DEVICES" else list(range(len(devs)))
        chosen = _apply(name, entries, pool, devs, layer_order, vis)
        if chosen is None:
            seen = ", ".join(d.uuid for d in devs) or "none"
            vis.how = f"{name}={','.join(entries)} matches no device NVML sees"
            vis.warnings.append(f"{name}={','.join(entries)} matches none of the GPUs NVML sees "
                                f"({seen}); GPU energy is reported for the node only, not "
                                "attributed to the job")
            vis.matched_nothing = True
            return vis
        if vis.how == how_before:
            vis.how = f"{name}={','.join(entries)}"
        pool = chosen
    vis.job_indices = [devs[p].index for p in pool]
    if vis.mig_parents:
        vis.mig_parents = [devs[p].index for p in vis.mig_parents]
        vis.warnings.append("a MIG instance is selected: NVML has no per-instance energy, so the "
                            "whole parent GPU's energy is billed to the job (an upper bound)")
    return vis
