"""Energy by step on a real process tree: named burner programs, some living < 1 s.

A stand-in pipeline (python, renamed through argv[0]) runs antsRegistration, then
antsBrainExtraction.sh which spawns short-lived `bet` children, then mcflirt and flirt at
once. Each process writes the CPU time it really used; each step's share from the sampler
must match within 5 percentage points.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bids_energy.footprint import energy_block, steps_block
from bids_energy.meters import create_sampler
from bids_energy.meters.select import choose
from bids_energy.meters.steps import step_for

DRIVER = textwrap.dedent('''
    import os, resource, subprocess, sys
    OUT = sys.argv[2]

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def record(name):
        with open(os.path.join(OUT, f"{name}-{os.getpid()}.cpu"), "w") as fh:
            fh.write(repr(cpu()))

    def burn(seconds):
        x = 0
        while cpu() < seconds:
            for i in range(2000):
                x += i * i

    def spawn(name, *args):
        return subprocess.Popen([name, __file__, *args], executable=os.environ["STANDIN_PY"])

    def argv0():
        with open("/proc/self/cmdline", "rb") as fh:
            return os.path.basename(fh.read().split(b"\\0")[0].decode())

    role, target = sys.argv[1], float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    if role == "driver":
        spawn("antsRegistration", "burn", OUT, "1.0").wait()
        spawn("antsBrainExtraction.sh", "brainx", OUT, "0.2").wait()
        a, b = spawn("mcflirt", "burn", OUT, "0.8"), spawn("flirt", "burn", OUT, "0.4")
        a.wait(); b.wait()
        record("driver")
    elif role == "brainx":
        for _ in range(5):
            spawn("bet", "burn", OUT, "0.1").wait()
        burn(target)
        record(argv0())
    else:
        burn(target)
        record(argv0())
''')


def test_step_shares_match_real_cpu(tmp_path: Path):
    script = tmp_path / "standin.py"
    script.write_text(DRIVER)
    out = tmp_path / "cpu"
    out.mkdir()
    sel = choose(nvml_loader=lambda: (None, "not needed"))
    sampler = create_sampler(root_pid=os.getpid(), interval_s=0.25, attribution="process",
                             selection=sel)
    sampler.start()
    env = dict(os.environ, STANDIN_PY=sys.executable)  # argv[0] renamed: sys.executable is empty
    proc = subprocess.Popen(["driver", str(script), "driver", str(out)], executable=sys.executable,
                            env=env)
    assert proc.wait(timeout=120) == 0
    result = sampler.stop()

    truth: dict[str, float] = {}
    for f in out.iterdir():
        prog = f.name.rsplit("-", 1)[0]
        step = step_for(prog)
        truth[step] = truth.get(step, 0.0) + float(f.read_text())
    total = sum(truth.values())
    got = {s["step"]: s for s in steps_block(result.steps)}
    assert {"registration", "brain extraction", "motion correction"} <= set(got)
    for step in ("registration", "brain extraction", "motion correction"):
        assert got[step]["cpu_share"] == pytest.approx(truth[step] / total, abs=0.05), (got, truth)
    assert sum(s["cpu_share"] for s in steps_block(result.steps)) == pytest.approx(1.0, abs=0.01)
    assert result.cpu_s == pytest.approx(total, rel=0.15)
    assert "bet" in got["brain extraction"]["programs"] or "antsBrainExtraction.sh" in (
        got["brain extraction"]["programs"])
    job_wh = energy_block(result.components)["job_energy_wh"]
    assert sum(s["energy_wh"] for s in steps_block(result.steps)) == pytest.approx(job_wh, rel=0.02, abs=1e-6)
