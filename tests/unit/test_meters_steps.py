"""Program names, the step table, and splitting an interval's CPU among programs."""

import pytest

from bids_energy.footprint import steps_block
from bids_energy.meters.proctree import ProcEntry, TreeSnapshot, job_cpu_s
from bids_energy.meters.programcpu import split_interval
from bids_energy.meters.steps import StepTally, program_name, step_for


@pytest.mark.parametrize("comm,argv,name", [
    ("antsRegistratio", ["/opt/ants/bin/antsRegistration", "-d", "3"], "antsRegistration"),
    ("recon-all", ["/bin/tcsh", "-f", "/opt/fs/bin/recon-all", "-s", "x"], "recon-all"),
    ("python3", ["python3", "-u", "/opt/fastsurfer/run_prediction.py", "--t1", "x"],
     "run_prediction.py"),
    ("python3", ["/usr/bin/python3", "-m", "fmriprep.cli.run"], "fmriprep.cli.run"),
    ("env", ["/usr/bin/env", "FOO=1", "python3", "worker.py"], "worker.py"),
    ("bash", ["bash", "-c", "echo"], "bash"),
    ("kthreadd", [], "kthreadd"),
])
def test_program_name(comm, argv, name):
    assert program_name(comm, argv) == name


def test_step_table_and_pipeline_precedence():
    assert step_for("recon-all") == "surface reconstruction"
    assert step_for("mris_make_surfaces") == "surface reconstruction"
    assert step_for("mri_convert") == "resampling"
    assert step_for("mri_ca_label") == "segmentation"
    assert step_for("antsRegistration") == "registration"
    assert step_for("antsBrainExtraction.sh") == "brain extraction"
    assert step_for("mcflirt") == "motion correction"
    assert step_for("flirt") == "registration"
    assert step_for("bet") == "brain extraction"
    assert step_for("N4BiasFieldCorrection") == "bias correction"
    assert step_for("topup") == "distortion correction"
    assert step_for("3dvolreg") == "motion correction"
    assert step_for("my_tool") == "my_tool"
    assert step_for("mri_convert", [("mri_*", "conversion")]) == "conversion"


def entry(pid, ppid, self_s, child_s=0.0, prog="p", start=1):
    return ProcEntry(pid, ppid, start, self_s, child_s, 0, prog)


def snap(root_children, *entries):
    return TreeSnapshot(root_children, {e.key: e for e in entries})


ROOT = 1


def test_split_live_new_and_unseen():
    prev = snap(0.0, entry(10, ROOT, 1.0, prog="driver"), entry(11, 10, 2.0, prog="flirt"))
    cur = snap(0.0,
               entry(10, ROOT, 1.2, child_s=0.3, prog="driver"),  # reaped an unseen 0.3 s child
               entry(11, 10, 2.5, prog="flirt"),
               entry(12, 10, 0.4, prog="bet", start=5))  # new in this interval
    out, rates = split_interval(prev, cur, {}, 1.0)
    assert out == pytest.approx({"driver": 0.2 + 0.3, "flirt": 0.5, "bet": 0.4})
    assert rates[(11, 1)] == pytest.approx(0.5)
    # the split adds up to the job's CPU delta
    assert sum(out.values()) == pytest.approx(job_cpu_s(cur, 0) - job_cpu_s(prev, 0))


def test_split_gives_ended_childs_tail_back_to_it():
    prev = snap(0.0, entry(10, ROOT, 1.0, prog="driver"), entry(11, 10, 2.0, prog="mcflirt"))
    rates = {(11, 1): 0.9, (10, 1): 0.0}
    # mcflirt ran 0.5 s more, ended, was reaped by driver; an unseen child also used 0.2 s
    cur = snap(0.0, entry(10, ROOT, 1.0, child_s=2.0 + 0.5 + 0.2, prog="driver"))
    out, _ = split_interval(prev, cur, rates, 1.0)
    assert out == pytest.approx({"mcflirt": 0.7})  # within its rate cap: all of it
    out, _ = split_interval(prev, cur, {(11, 1): 0.3}, 0.5)
    assert out == pytest.approx({"mcflirt": 0.5, "driver": 0.2})  # beyond 1 core x dt: to the parent


def test_split_whole_subtree_ended_goes_through_root():
    prev = snap(5.0, entry(10, ROOT, 1.0, prog="driver"), entry(11, 10, 1.0, prog="flirt"))
    rates = {(10, 1): 0.1, (11, 1): 1.0}
    cur = snap(5.0 + 1.1 + 1.4, )  # driver (1.1 total) and flirt (1.4 total) both gone
    out, _ = split_interval(prev, cur, rates, 1.0)
    assert sum(out.values()) == pytest.approx(0.5)
    assert out["flirt"] == pytest.approx(0.25)  # both capped at 1 core x 1 s: equal weights


def test_step_tally_shares_and_energy():
    t = StepTally()
    t.add_interval(1.0, 1.0, {"flirt": 0.75, "bet": 0.25}, energy_wh=4.0)
    t.add_interval(2.0, 1.0, {}, energy_wh=1.0)  # idle: goes to the last active step
    t.add_interval(3.0, 1.0, {"bet": 1.0}, energy_wh=2.0)
    recs = {r["step"]: r for r in steps_block(t.totals())}
    assert recs["registration"]["energy_wh"] == pytest.approx(3.0 + 1.0)
    assert recs["brain extraction"]["energy_wh"] == pytest.approx(1.0 + 2.0)
    assert sum(r["cpu_share"] for r in recs.values()) == pytest.approx(1.0)
    assert recs["brain extraction"]["first_seen_s"] == 0.0
    assert recs["brain extraction"]["last_seen_s"] == 3.0


def test_step_tally_gpu_energy_by_gpu_weights():
    t = StepTally()
    t.add_interval(1.0, 1.0, {"flirt": 1.0}, energy_wh=10.0, gpu_energy_wh=6.0,
                   gpu_by_program={"run_prediction.py": 1.0})
    recs = {r["step"]: r for r in steps_block(t.totals())}
    assert recs["segmentation"]["energy_wh"] == pytest.approx(6.0)
    assert recs["registration"]["energy_wh"] == pytest.approx(4.0)


def test_pending_name_defers_cpu_to_next_interval():
    prev = snap(0.0, entry(10, ROOT, 1.0, prog="driver"))
    mid = snap(0.0, entry(10, ROOT, 1.0, prog="driver"), entry(12, 10, 0.2, prog="", start=5))
    out, _ = split_interval(prev, mid, {}, 1.0)
    assert out == {}
    cur = snap(0.0, entry(10, ROOT, 1.0, prog="driver"), entry(12, 10, 0.9, prog="bet", start=5))
    out, _ = split_interval(mid, cur, {}, 1.0)
    assert out == pytest.approx({"bet": 0.9})


def test_step_tally_remembers_each_programs_step():
    t = StepTally([("flirt", "my registration")])
    assert t.step("flirt") == "my registration" and t.step("bet") == "brain extraction"
    assert t._step_of == {"flirt": "my registration", "bet": "brain extraction"}
    t.add_interval(1.0, 1.0, {"flirt": 1.0, "mri_convert": 0.5}, energy_wh=1.5)
    assert {r["step"] for r in steps_block(t.totals())} == {"my registration", "resampling"}
