"""Issue 8's table of bad inputs: each one tried, each with the exit code or warning it gets,
and the input dataset hashed before and after every run.

The CLI-level rows run the real entry point; the meter and sacct rows call the pure
functions the sampler and the sacct reader use, with the same values a broken machine or
a hand-edited file would give them.
"""

from __future__ import annotations

import json
import shutil
import string

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bids_energy.errors import DataError
from bids_energy.estimate.sacct import parse_sacct
from bids_energy.meters.attribution import counter_delta, plausible_cpu_delta, plausible_power
from tests.conftest import tree_hash


def _edit(ds, case, tmp):
    """Damage the dataset (or the output) the way a user or a broken tool would."""
    anat = ds / "sub-01" / "anat"
    if case == "desc_list":
        (ds / "dataset_description.json").write_text("[]")
    elif case == "desc_no_version":
        (ds / "dataset_description.json").write_text('{"Name": "x"}')
    elif case == "t1w_garbage":
        (anat / "sub-01_T1w.nii.gz").write_bytes(b"this is not a nifti file" * 10)
    elif case == "t1w_4d":
        nib.save(nib.Nifti1Image(np.ones((6, 6, 6, 3), np.float32), np.eye(4)),
                 anat / "sub-01_T1w.nii.gz")
    elif case == "no_t1w":
        shutil.rmtree(anat)
    elif case == "out_is_file":
        (tmp / "out").write_text("not a folder")
    elif case == "no_subjects":
        for d in ds.glob("sub-*"):
            shutil.rmtree(d)


CLI_CASES = [
    # (id, damage, args after "ds out", expected exit code, text expected on stderr)
    ("nthreads zero", None, ["participant", "--nthreads", "0"], 64, "must be 1 or more"),
    ("negative interval", None, ["participant", "--sampling-interval", "-1"], 64, "positive"),
    ("pue below one", None, ["participant", "--pue", "0.5"], 64, "PUE"),
    ("label climbing out", None, ["participant", "--participant-label", "../../etc"], 64, "label"),
    ("label with slash", None, ["participant", "--participant-label", "sub-01/../02"], 64, "label"),
    ("level misspelt", None, ["particpant"], 17, "unknown analysis level"),
    ("region unknown", None, ["participant", "--region", "XX-YY"], 64, "XX-YY"),
    ("variant unknown", None, ["participant", "--variant", "nosuch"], 64, "unknown variant"),
    ("description is a list", "desc_list", ["participant"], 16, "Name and BIDSVersion"),
    ("description lacks BIDSVersion", "desc_no_version", ["participant"], 16, "BIDSVersion"),
    ("participant absent", None, ["participant", "--participant-label", "42"], 18, "sub-42"),
    ("no participants at all", "no_subjects", ["participant"], 18, "no sub-*"),
    ("T1w is garbage", "t1w_garbage", ["participant", "--participant-label", "01"], 1, None),
    ("T1w is 4-D", "t1w_4d", ["participant", "--participant-label", "01"], 1, None),
    ("only participant lacks T1w", "no_t1w", ["participant", "--participant-label", "01"], 65, "no usable T1w"),
    ("output is a file", "out_is_file", ["participant"], 73, "cannot create"),
    ("group with no footprints", None, ["group"], 18, "footprint"),
]


@pytest.mark.parametrize("case,damage,args,code,needle", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(case, damage, args, code, needle, synthetic_bids, tmp_path, run_cli):
    if damage:
        _edit(synthetic_bids, damage, tmp_path)
    if args == ["group"]:
        (tmp_path / "out").mkdir()
    before = tree_hash(synthetic_bids)
    rc, out, err = run_cli(synthetic_bids, tmp_path / "out", *args)
    assert rc == code, (case, err)
    assert "Traceback" not in err
    if needle:
        assert needle in err
    if code == 1:  # the pipeline itself failed: its footprint says so, nothing cleaned
        fp = tmp_path / "out" / "demo" / "sub-01" / "sub-01_footprint.json"
        rec = json.loads(fp.read_text())
        assert rec["status"] == "failed" and rec["exit_code"] == 1
        assert "demo: error:" in err
    assert tree_hash(synthetic_bids) == before


GROUP_FILES = [
    ("truncated JSON", '{"schema_version": "1.0.0", "participant": "0'),
    ("status edited by hand", None),
    ("foreign JSON", json.dumps({"fmriprep": "not ours"})),
    ("binary garbage", "\x00\x01\x02"),
]


def test_group_skips_hand_edited_files_with_one_warning_each(synthetic_bids, tmp_path, run_cli):
    out = tmp_path / "out"
    rc, _, err = run_cli(synthetic_bids, out, "participant", "--participant-label", "01",
                         "--pipeline", "command", "--", "true")
    assert rc == 0, err
    good = next(out.rglob("*_footprint.json"))
    for i, (_name, text) in enumerate(GROUP_FILES):
        p = good.parent / f"sub-x{i}_footprint.json"
        if text is None:
            rec = json.loads(good.read_text())
            rec["status"] = "sort of"
            text = json.dumps(rec)
        p.write_text(text)
    rc, stdout, err = run_cli(synthetic_bids, out, "group")
    assert rc == 0, err
    assert "1 successful run(s)" in stdout
    assert f"{len(GROUP_FILES)} unreadable file(s) skipped" in stdout
    warned = [ln for ln in err.splitlines() if "sub-x" in ln]
    assert len(warned) == len(GROUP_FILES), err


def test_bad_quality_tsv_is_65(synthetic_bids, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli(synthetic_bids, out, "participant", "--participant-label", "01", "--pipeline",
            "command", "--", "true")
    q = tmp_path / "q.tsv"
    q.write_text("who\twhat\n01\tgood\n")
    rc, _, err = run_cli(synthetic_bids, out, "group", "--quality-tsv", q)
    assert rc == 65 and "Traceback" not in err


# --- meters: what a broken machine reports ---------------------------------------------

@pytest.mark.parametrize("case,ok", [
    ("clock jump: 100 s of CPU in a 1 s interval on 2 cores", plausible_cpu_delta(100.0, 1.0, 2)),
    ("clock went back (negative interval)", plausible_power(10.0, -1.0, 1000)),
    ("negative power (counter reset)", plausible_power(-5.0, 1.0, 1000)),
    ("absurd power: 50 kW from one socket", plausible_power(50_000.0, 1.0, 2_000)),
])
def test_meter_readings_that_make_no_sense_are_dropped(case, ok):
    assert ok is False, case


def test_meter_plausible_values_are_kept():
    assert plausible_cpu_delta(1.9, 1.0, 2) and plausible_power(150.0, 1.0, 2_000)


def test_rapl_counter_wraparound_and_unknown_range():
    assert counter_delta(2**32 - 10, 5, 2**32) == 15
    assert counter_delta(100, 50, None) is None  # went back, range unknown: no negative energy


# --- sacct lines with odd fields -------------------------------------------------------

HEADER = "JobID|JobName|Partition|Submit|Elapsed|NCPUS|TotalCPU|CPUTime|ReqMem|MaxRSS|State|AllocTRES"


@pytest.mark.parametrize("line,check", [
    ("123_4|fp|cpu|2026-01-01T00:00:00|1-02:03:04|4|10:00.5|4-08:12:16|16G||COMPLETED|cpu=4,mem=16G,node=1",
     lambda j: j.elapsed_s == 93784 and j.req_mem_gb == 16 * 2**30 / 1e9),  # Slurm G = GiB
    ("124|fp|cpu|Unknown|Unknown|Unknown|Unknown|Unknown|Unknown|Unknown|PENDING|",
     lambda j: j.elapsed_s is None and j.ncpus is None),
    ("125|fp|gpu|2026-01-01T00:00:00|00:10:00|2|05:00|00:20:00|4000Mc|2G|CANCELLED by 1001|cpu=2,gres/gpu=1",
     lambda j: j.state == "CANCELLED" and j.n_gpu == 1 and abs(j.req_mem_gb - 2 * 4000 * 2**20 / 1e9) < 1e-9),
])
def test_sacct_odd_lines(line, check):
    (job,) = parse_sacct(HEADER + "\n" + line + "\n")
    assert check(job)


def test_sacct_wrong_field_count_is_a_clear_error():
    with pytest.raises(DataError, match="line 2"):
        parse_sacct(HEADER + "\n1|x|y\n")


FIELD = st.text(alphabet=string.ascii_letters + string.digits + ":-_.[]=,/ ", max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(FIELD, min_size=12, max_size=12), max_size=5))
def test_sacct_parser_never_crashes(rows):
    """Any sacct-shaped text: parsed, or a DataError with a line number, nothing else."""
    text = HEADER + "\n" + "\n".join("|".join(r) for r in rows) + "\n"
    try:
        jobs = parse_sacct(text)
    except DataError:
        return
    for j in jobs:
        assert j.elapsed_s is None or j.elapsed_s >= 0
        assert j.total_cpu_s is None or j.total_cpu_s >= 0

