from pathlib import Path

import pytest

from bids_energy.errors import DataError
from bids_energy.estimate.sacct import (
    gpus_from_tres,
    parse_duration_s,
    parse_mem_gb,
    parse_sacct,
    parse_state,
    parse_tres,
    split_job_id,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sacct" / "mixed.txt"


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("1-02:03:04", 93784),
        ("02:03:04", 7384),
        ("03:04", 184),
        ("03:04.567", 184.567),
        ("00:00.002", 0.002),
        ("2-10:29:58.512", 210598.512),
        ("", None),
        ("Unknown", None),
    ],
)
def test_durations(text, seconds):
    got = parse_duration_s(text)
    assert got == pytest.approx(seconds) if seconds is not None else got is None


def test_bad_duration():
    with pytest.raises(DataError):
        parse_duration_s("1:2:3:4")
    with pytest.raises(DataError):
        parse_duration_s("ab:cd")


GIB = 1024**3 / 1e9  # Slurm's G is GiB; the project reports decimal GB


@pytest.mark.parametrize(
    "text,gb,scope",
    [
        ("16G", 16 * GIB, ""),
        ("4000Mc", 4000 * 1024**2 / 1e9, "c"),
        ("16Gn", 16 * GIB, "n"),
        ("1024K", 1024 * 1024 / 1e9, ""),
        ("2T", 2 * 1024**4 / 1e9, ""),
        ("1073741824", GIB, ""),
        ("1000000000", 1.0, ""),
        ("1.5G", 1.5 * GIB, ""),
    ],
)
def test_memory_units(text, gb, scope):
    assert parse_mem_gb(text) == (pytest.approx(gb), scope)


def test_memory_missing_and_bad():
    assert parse_mem_gb("") == (None, "")
    with pytest.raises(DataError):
        parse_mem_gb("16 GB")


@pytest.mark.parametrize(
    "job_id,base,step",
    [
        ("123", "123", None),
        ("123.batch", "123", "batch"),
        ("123.extern", "123", "extern"),
        ("123.0", "123", "0"),
        ("123_4", "123_4", None),
        ("123_4.batch", "123_4", "batch"),
        ("123_[1-3]", "123_[1-3]", None),
        ("123_[1,5%2]", "123_[1,5%2]", None),
        ("123+1.0", "123+1", "0"),
    ],
)
def test_job_ids(job_id, base, step):
    assert split_job_id(job_id) == (base, step)


def test_bad_job_id():
    with pytest.raises(DataError):
        split_job_id("abc")


def test_states_and_tres():
    assert parse_state("CANCELLED by 3001") == "CANCELLED"
    assert parse_state("") is None
    tres = parse_tres("billing=4,cpu=4,gres/gpu=2,mem=16G,node=1")
    assert gpus_from_tres(tres) == 2
    assert gpus_from_tres(parse_tres("cpu=4,gres/gpu:v100=2,gres/gpu:a100=1")) == 3
    assert gpus_from_tres(parse_tres("")) == 0


def test_fixture_folds_steps_without_double_counting():
    jobs = {j.job_id: j for j in parse_sacct(FIXTURE.read_text())}
    assert list(jobs) == ["1001", "1002_1", "1002_2", "1002_[3-5]", "1003"]
    j = jobs["1001"]
    assert j.total_cpu_s == pytest.approx(2 * 86400 + 10.5 * 3600)  # allocation line only
    assert j.elapsed_s == pytest.approx(8.3 * 3600)
    assert j.req_mem_gb == pytest.approx(16 * GIB) and j.mem_source == "ReqMem"
    assert j.max_rss_gb == pytest.approx(12345678 * 1024 / 1e9)  # from the batch step (K)
    assert sorted(j.steps) == ["batch", "extern"]
    a1 = jobs["1002_1"]
    assert a1.req_mem_gb == pytest.approx(4 * 4000 * 1024**2 / 1e9)  # per-CPU x NCPUS
    assert a1.n_gpu == 1
    a2 = jobs["1002_2"]
    assert a2.state == "CANCELLED" and a2.n_gpu == 2 and a2.elapsed_s == 86400
    assert jobs["1002_[3-5]"].state == "PENDING"
    f = jobs["1003"]
    assert f.req_mem_gb is None and f.mem_source == "MaxRSS" and f.mem_gb == pytest.approx(2 * GIB)
    assert f.total_cpu_s == pytest.approx(15 * 60 + 20.25)  # Unknown: steps summed instead
    assert f.elapsed_s == pytest.approx(630.5)


def test_steps_only_sum_cpu():
    text = (
        "JobID|Elapsed|NCPUS|TotalCPU|MaxRSS|State\n"
        "7.0|01:00:00|2|00:30:00|1G|COMPLETED\n"
        "7.1|00:30:00|2|00:15:00|3G|COMPLETED\n"
    )
    (job,) = parse_sacct(text)
    assert job.total_cpu_s == 45 * 60 and job.max_rss_gb == pytest.approx(3 * GIB) and job.elapsed_s == 3600
    assert job.warnings


def test_trailing_separator_and_errors():
    assert parse_sacct("JobID|Elapsed|\n5|00:01:00|\n")[0].elapsed_s == 60
    assert parse_sacct("") == []
    with pytest.raises(DataError, match="header"):
        parse_sacct("5|00:01:00\n")
    with pytest.raises(DataError, match="fields"):
        parse_sacct("JobID|Elapsed\n5|00:01:00|x|y\n")
