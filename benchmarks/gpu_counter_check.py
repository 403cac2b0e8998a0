"""GPU check: the project's NVML meter against the card's own counter and 10 Hz power samples.

A fixed matrix-multiply load (bf16 8192 x 8192 on device 0, torch if installed, else cupy)
runs for D seconds while three things measure it at once:

* the project's meter, through the real code path: ``create_sampler`` (selection, visibility
  rules, Sampler thread at 1 s) exactly as a participant run uses it; its GPU component's
  job energy and method are reported;
* the card's own total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``) read directly
  before and after;
* 10 Hz samples of ``nvmlDeviceGetPowerUsage`` integrated by trapezoids.

Then the device-visibility cases: the selection is rebuilt with ``NVIDIA_VISIBLE_DEVICES=<index>``,
``=<UUID>``, ``=3`` as ``docker run --gpus device=3`` leaves it when NVML sees one device,
``CUDA_VISIBLE_DEVICES=<index>`` and ``=<UUID>``, and a short sampler run under each says
whether the loaded card was counted as the job's, and with which method.

    python benchmarks/gpu_counter_check.py           # 30 s load + 5 visibility runs of 6 s (< 3 min)
    python benchmarks/gpu_counter_check.py --quick   # 8 s load + 3 s visibility runs

Without an NVIDIA GPU (no pynvml, no driver, no device) it says so and exits 0; without torch
or cupy on the GPU machine it says so and exits 0 (neither is a dependency of the project).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bids_energy.footprint import energy_block  # noqa: E402
from bids_energy.meters import create_sampler  # noqa: E402
from bids_energy.meters.nvml import load_pynvml  # noqa: E402


def _decode(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def make_load(seconds: float):
    """A callable running the fixed matmul load for ``seconds``; (None, why) if impossible."""
    try:
        import torch

        if torch.cuda.is_available():
            def run_torch() -> int:
                a = torch.randn(8192, 8192, device="cuda:0", dtype=torch.bfloat16)
                b = torch.randn(8192, 8192, device="cuda:0", dtype=torch.bfloat16)
                n, t0 = 0, time.monotonic()
                while time.monotonic() - t0 < seconds:
                    for _ in range(20):
                        a = (a @ b) * 1e-3
                    torch.cuda.synchronize()
                    n += 20
                return n
            return run_torch, f"torch {torch.__version__}"
    except ImportError:
        pass
    try:
        import cupy

        def run_cupy() -> int:
            a = cupy.random.standard_normal((8192, 8192), dtype=cupy.float32)
            b = cupy.random.standard_normal((8192, 8192), dtype=cupy.float32)
            n, t0 = 0, time.monotonic()
            while time.monotonic() - t0 < seconds:
                for _ in range(5):
                    a = (a @ b) * 1e-3
                cupy.cuda.Device(0).synchronize()
                n += 5
            return n
        return run_cupy, f"cupy {cupy.__version__} (fp32)"
    except ImportError:
        pass
    return None, "neither torch (with CUDA) nor cupy is installed: no GPU load to run"


class PowerSampler:
    """nvmlDeviceGetPowerUsage at ``hz``, integrated by trapezoids (J)."""

    def __init__(self, nv, handle, hz: float = 10.0) -> None:
        self.nv, self.h, self.dt = nv, handle, 1.0 / hz
        self.j = 0.0
        self.n = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last_t, last_w = time.monotonic(), self.nv.nvmlDeviceGetPowerUsage(self.h) / 1000.0
        while not self._stop.wait(self.dt):
            t, w = time.monotonic(), self.nv.nvmlDeviceGetPowerUsage(self.h) / 1000.0
            self.j += (last_w + w) / 2.0 * (t - last_t)
            self.n += 1
            last_t, last_w = t, w

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def gpu_component(result) -> dict:
    return energy_block(result.components)["components"].get("gpu") or {}


def measured_run(nv, handle, load, env: dict, interval_s: float = 1.0) -> dict:
    """One load under the project's sampler, the direct counter and 10 Hz power."""
    sampler = create_sampler(interval_s=interval_s, env=env)
    e0 = nv.nvmlDeviceGetTotalEnergyConsumption(handle)
    sampler.start()
    t0 = time.monotonic()
    with PowerSampler(nv, handle) as ps:
        iters = load()
    wall = time.monotonic() - t0
    result = sampler.stop()
    e1 = nv.nvmlDeviceGetTotalEnergyConsumption(handle)
    gpu = gpu_component(result)
    return {
        "wall_s": round(wall, 2), "matmul_iterations": iters,
        "project_job_j": round(gpu.get("job_energy_wh", 0.0) * 3600, 1),
        "project_node_j": round((gpu.get("node_energy_wh") or 0.0) * 3600, 1),
        "project_method": gpu.get("method"),
        "project_selection": gpu.get("inputs", {}).get("job_selection"),
        "counter_direct_j": round((e1 - e0) / 1000.0, 1),
        "power_10hz_j": round(ps.j, 1), "power_samples": ps.n,
        "warnings": [w for w in result.warnings if "GPU" in w or "gpu" in w or "NVML" in w],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short load (CI): 8 s + 3 s runs")
    ap.add_argument("--seconds", type=float, default=None, help="main load length")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    main_s = args.seconds or (8.0 if args.quick else 30.0)
    vis_s = 3.0 if args.quick else 6.0

    nv, why = load_pynvml()
    if nv is None:
        print(f"gpu_counter_check: no GPU check here ({why}); ready, not run")
        return 0
    if nv.nvmlDeviceGetCount() == 0:
        print("gpu_counter_check: NVML loaded but sees no GPU; ready, not run")
        return 0
    load, engine = make_load(main_s)
    if load is None:
        print(f"gpu_counter_check: {engine}; skipped")
        return 0
    # the device the load runs on (CUDA device 0 under this process's own environment)
    h = nv.nvmlDeviceGetHandleByIndex(0)
    uuid = _decode(nv.nvmlDeviceGetUUID(h))
    card = _decode(nv.nvmlDeviceGetName(h))
    driver = _decode(nv.nvmlSystemGetDriverVersion())
    print(f"machine: {platform.node()} | {card} ({uuid}) | driver {driver} | "
          f"{nv.nvmlDeviceGetCount()} GPU(s) visible to NVML | load: {engine}")
    make_load(3.0)[0]()  # warm-up (kernels, clocks) outside the measured window
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")}
    main_run = measured_run(nv, h, load, base_env)
    c, p, m = main_run["counter_direct_j"], main_run["power_10hz_j"], main_run["project_job_j"]
    print(f"\nmain run, {main_run['wall_s']} s, {main_run['matmul_iterations']} matmuls:")
    print(f"  card's counter (direct)      {c:10.1f} J")
    print(f"  10 Hz power integration      {p:10.1f} J   ({(p - c) / c * 100:+.2f}% vs counter)")
    print(f"  project meter (job, sampler) {m:10.1f} J   ({(m - c) / c * 100:+.2f}% vs counter)"
          f"   method: {main_run['project_method']}")

    vis_load, _ = make_load(vis_s)
    cases = {
        "NVIDIA_VISIBLE_DEVICES=0": {"NVIDIA_VISIBLE_DEVICES": "0"},
        "NVIDIA_VISIBLE_DEVICES=<uuid>": {"NVIDIA_VISIBLE_DEVICES": uuid},
        "NVIDIA_VISIBLE_DEVICES=3 (docker --gpus device=3)": {"NVIDIA_VISIBLE_DEVICES": "3"},
        "CUDA_VISIBLE_DEVICES=0": {"CUDA_VISIBLE_DEVICES": "0"},
        "CUDA_VISIBLE_DEVICES=<uuid>": {"CUDA_VISIBLE_DEVICES": uuid},
    }
    if nv.nvmlDeviceGetCount() != 1:  # device=3 stands for "one device inside" only then
        cases.pop("NVIDIA_VISIBLE_DEVICES=3 (docker --gpus device=3)")
    vis = {}
    print("\nvisibility cases (short runs):")
    for name, extra in cases.items():
        r = measured_run(nv, h, vis_load, {**base_env, **extra})
        counted = r["counter_direct_j"] > 0 and r["project_job_j"] >= 0.5 * r["counter_direct_j"]
        r["loaded_card_counted"] = counted
        vis[name] = r
        print(f"  {name:52s} job {r['project_job_j']:8.1f} J / counter {r['counter_direct_j']:8.1f} J"
              f"  {'counted' if counted else 'NOT COUNTED'}  [{r['project_method']}]")
    out = {"machine": platform.node(), "card": card, "uuid": uuid, "driver": driver,
           "engine": engine, "main": main_run, "visibility": vis}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    nv.nvmlShutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
