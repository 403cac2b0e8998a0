"""The generated Slurm scripts: what Compute Canada users need, checked line by line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bids_energy.errors import InputMissingError, NothingSelectedError
from bids_energy.hpc.participants import (
    discover_participants,
    labels_from_folders,
    labels_from_tsv,
)
from bids_energy.hpc.slurm import (
    SACCT_FORMAT,
    SlurmPlan,
    app_command,
    render_array_script,
    render_group_script,
    valid_mem,
    valid_time,
    write_job_files,
)


def _plan(**kw) -> SlurmPlan:
    base = dict(
        bids_dir=Path("/project/ds"),
        output_dir=Path("/scratch/out"),
        pipeline="fmriprep",
        variants=("fs-no-reconall",),
        image=Path("/project/img/bids-energy.sif"),
        account="def-lab",
        time="12:00:00",
    )
    base.update(kw)
    return SlurmPlan(**base)


def _dataset(root: Path, subs: list[str], tsv: list[str] | None = None) -> Path:
    root.mkdir()
    for s in subs:
        (root / f"sub-{s}" / "anat").mkdir(parents=True)
    if tsv is not None:
        (root / "participants.tsv").write_text(
            "participant_id\tage\n" + "".join(f"sub-{s}\t30\n" for s in tsv))
    return root


# --- participants ------------------------------------------------------------------------

def test_labels_from_tsv_keeps_order_and_strips_prefix():
    text = "age\tparticipant_id\n30\tsub-10\n31\tsub-02\n32\t02\n"
    assert labels_from_tsv(text) == ["10", "02"]


def test_labels_from_tsv_without_column_is_empty():
    assert labels_from_tsv("id\tage\nsub-01\t3\n") == []
    assert labels_from_tsv("") == []


def test_labels_from_folders_sorted_and_filtered():
    assert labels_from_folders(["sub-b", "derivatives", "sub-a", "sub-"]) == ["a", "b"]


def test_discover_prefers_tsv_and_drops_missing_folders(tmp_path):
    ds = _dataset(tmp_path / "ds", ["01", "02", "03"], tsv=["03", "01", "99"])
    assert discover_participants(ds) == ["03", "01"]


def test_discover_falls_back_to_folders(tmp_path):
    ds = _dataset(tmp_path / "ds", ["02", "01"])
    assert discover_participants(ds) == ["01", "02"]


def test_discover_filters_labels_with_or_without_sub(tmp_path):
    ds = _dataset(tmp_path / "ds", ["01", "02", "03"])
    assert discover_participants(ds, ["sub-03", "01"]) == ["01", "03"]


def test_discover_unknown_label_and_empty_dataset(tmp_path):
    ds = _dataset(tmp_path / "ds", ["01"])
    with pytest.raises(NothingSelectedError, match="07"):
        discover_participants(ds, ["07"])
    empty = _dataset(tmp_path / "empty", [])
    with pytest.raises(NothingSelectedError):
        discover_participants(empty)
    with pytest.raises(InputMissingError):
        discover_participants(tmp_path / "nope")


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["30", "12:00:00", "1-12", "2-00:30:00", "90:00"])
def test_valid_times(value):
    assert valid_time(value)


@pytest.mark.parametrize("value", ["", "12h", "1:2:3:4", "-1", "1-"])
def test_invalid_times(value):
    assert not valid_time(value)


def test_mem_sizes():
    assert valid_mem("8G") and valid_mem("4000M") and valid_mem("512")
    assert not valid_mem("8 GB") and not valid_mem("G")


# --- the array script --------------------------------------------------------------------

def test_array_script_header_and_task_line(tmp_path):
    text = render_array_script(_plan(cpus=4, mem="8G", max_parallel=10),
                               tmp_path / "p.txt", 3, tmp_path / "logs")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for expected in ("#SBATCH --account=def-lab", "#SBATCH --time=12:00:00",
                     "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8G",
                     "#SBATCH --array=1-3%10", f"#SBATCH --output={tmp_path}/logs/%x_%A_%a.out"):
        assert expected in lines
    assert 'LABEL=$(sed -n "${SLURM_ARRAY_TASK_ID}p" "$PARTICIPANTS")' in lines
    assert "#SBATCH --partition" not in text  # unset options are left out


def test_array_script_runs_apptainer_with_cleanenv_binds_and_workdir(tmp_path):
    text = render_array_script(_plan(), tmp_path / "p.txt", 2, tmp_path)
    run = [ln for ln in text.splitlines() if ln.startswith("apptainer run")]
    assert len(run) == 1
    cmd = run[0]
    assert "--cleanenv" in cmd
    assert '-B "$BIDS_DIR":/data:ro,"$OUT_DIR":/out,"$WORK_DIR":/work ' in cmd
    assert cmd.endswith("/project/img/bids-energy.sif /data /out participant "
                        '--participant-label "$LABEL" --pipeline fmriprep '
                        "--variant fs-no-reconall --work-dir /work")
    assert "SLURM_TMPDIR" in text


def test_slurm_ids_and_license_pass_through_cleanenv(tmp_path):
    plan = _plan(runtime="singularity", fs_license=Path("/home/u/license.txt"),
                 templateflow_home=Path("/project/tf"))
    text = render_array_script(plan, tmp_path / "p.txt", 1, tmp_path)
    assert "export SINGULARITYENV_FS_LICENSE=/opt/bids-energy/license.txt" in text
    assert "export SINGULARITYENV_TEMPLATEFLOW_HOME=/templateflow" in text
    assert "/home/u/license.txt:/opt/bids-energy/license.txt:ro" in text
    assert "/project/tf:/templateflow" in text
    assert 'export "SINGULARITYENV_$var=${!var}"' in text
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
        assert var in text
    assert "singularity run --cleanenv" in text
    assert "APPTAINERENV_" not in text


def test_gpu_request_adds_nv(tmp_path):
    text = render_array_script(_plan(gpus=1), tmp_path / "p.txt", 1, tmp_path)
    assert "#SBATCH --gpus-per-node=1" in text
    assert "apptainer run --cleanenv -B" in text and " --nv " in text


def test_runtime_none_runs_python_module_with_pythonpath(tmp_path):
    plan = _plan(runtime="none", image=None, python="/opt/py/bin/python3",
                 pythonpath="/src/repo", pipeline="demo", variants=())
    text = render_array_script(plan, tmp_path / "p.txt", 3, tmp_path)
    assert 'export PYTHONPATH=/src/repo"${PYTHONPATH:+:$PYTHONPATH}"' in text
    assert ('/opt/py/bin/python3 -m bids_energy "$BIDS_DIR" "$OUT_DIR" participant '
            '--participant-label "$LABEL" --pipeline demo --work-dir "$WORK_DIR"') in text
    assert "apptainer" not in text and "--cleanenv" not in text


def test_paths_with_spaces_are_quoted():
    plan = _plan(bids_dir=Path("/my data/ds"), extra_args=("--command-template", "echo {x} y"))
    text = render_array_script(plan, Path("/a b/p.txt"), 1, Path("/logs"))
    assert "BIDS_DIR='/my data/ds'" in text
    assert "PARTICIPANTS='/a b/p.txt'" in text
    assert "'echo {x} y'" in app_command(plan, "participant")


def test_extra_args_only_for_participant_level():
    plan = _plan(extra_args=("--nthreads", "8"))
    assert app_command(plan, "participant").endswith("--nthreads 8")
    assert "--nthreads" not in app_command(plan, "group")
    assert "--participant-label" not in app_command(plan, "group")


# --- the group script --------------------------------------------------------------------

def test_group_script_saves_sacct_then_runs_group(tmp_path):
    text = render_group_script(_plan(), 3, tmp_path)
    lines = text.splitlines()
    assert "#SBATCH --job-name=bids-energy-fmriprep-fs-no-reconall-group" in lines
    assert "#SBATCH --array" not in text
    sacct = next(i for i, ln in enumerate(lines) if "sacct -j" in ln)
    group = next(i for i, ln in enumerate(lines) if ln.startswith("apptainer run"))
    assert sacct < group
    assert f"--format {SACCT_FORMAT}" in lines[sacct]
    assert 'SACCT_TSV="$OUT_DIR/sacct_${ARRAY_JOB_ID}.tsv"' in lines
    assert lines[group].endswith("/data /out group --pipeline fmriprep --variant fs-no-reconall")
    assert "N_TASKS=3" in lines


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_scripts_are_valid_bash(tmp_path):
    files = write_job_files(_plan(fs_license=Path("/l.txt")), ["01", "02"], tmp_path / "s")
    for script in (files.array_script, files.group_script, files.submit_script):
        proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_write_job_files_layout(tmp_path):
    files = write_job_files(_plan(), ["03", "01"], tmp_path / "slurm")
    assert files.participants_file.read_text() == "03\n01\n"
    assert files.n_tasks == 2
    assert (tmp_path / "slurm" / "logs").is_dir()
    assert files.array_script.stat().st_mode & 0o111
    submit = files.submit_script.read_text()
    assert "--dependency=afterany:\"$array\"" in submit
    assert str(files.group_script) in submit


def test_array_task_reads_its_line(tmp_path):
    """Run the task-selection lines of the real script with a fake task id."""
    files = write_job_files(_plan(runtime="none", image=None), ["01", "02", "03"], tmp_path)
    text = files.array_script.read_text()
    head = text.split("# Work on node-local disk")[0]
    probe = tmp_path / "probe.sh"
    probe.write_text(head + 'echo "$LABEL"\n')
    out = subprocess.run(["bash", str(probe)], env={"SLURM_ARRAY_TASK_ID": "2", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True)
    assert out.stdout.strip() == "02", out.stderr
    bad = subprocess.run(["bash", str(probe)], env={"SLURM_ARRAY_TASK_ID": "4", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True)
    assert bad.returncode == 64


def _fake_bin(tmp_path: Path, sacct_body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sacct = bin_dir / "sacct"
    sacct.write_text("#!/bin/bash\n" + sacct_body)
    sacct.chmod(0o755)
    return bin_dir


def _run_group(tmp_path: Path, sacct_body: str, tries: str = "1"):
    out = tmp_path / "out"
    out.mkdir()
    calls = tmp_path / "calls.txt"
    fake_python = tmp_path / "python"
    fake_python.write_text(f'#!/bin/bash\necho "$@" >> {calls}\n')
    fake_python.chmod(0o755)
    plan = _plan(runtime="none", image=None, output_dir=out, python=str(fake_python),
                 pipeline="demo", variants=())
    files = write_job_files(plan, ["01", "02"], tmp_path / "slurm")
    env = {"PATH": f"{_fake_bin(tmp_path, sacct_body)}:/usr/bin:/bin",
           "BIDS_ENERGY_SACCT_TRIES": tries}
    proc = subprocess.run(["bash", str(files.group_script), "77"], env=env,
                          capture_output=True, text=True, timeout=30)
    return proc, out, calls


def test_group_script_saves_sacct_and_runs_group(tmp_path):
    table = ("JobID|State\\n77_1|COMPLETED\\n77_1.batch|COMPLETED\\n77_2|FAILED\\n")
    proc, out, calls = _run_group(tmp_path, f'printf "{table}"\n')
    assert proc.returncode == 0, proc.stderr
    assert (out / "sacct_77.tsv").read_text().splitlines()[1] == "77_1|COMPLETED"
    assert calls.read_text().split() == ["-m", "bids_energy", "/project/ds", str(out), "group",
                                         "--pipeline", "demo"]


def test_group_script_without_sacct_still_runs_group(tmp_path):
    proc, out, calls = _run_group(tmp_path, "exit 1\n")
    assert proc.returncode == 0, proc.stderr
    assert "sacct gave nothing" in proc.stderr
    assert not list(out.glob("sacct_*"))
    assert "group --pipeline demo" in calls.read_text()


def test_array_script_forwards_every_variable_context_reads(tmp_path):
    """Job name and GPU count were read but never forwarded."""
    from bids_energy.context import SLURM_VARS

    plan = SlurmPlan(bids_dir=tmp_path, output_dir=tmp_path / "o", pipeline="demo",
                     image=tmp_path / "x.sif")
    text = render_array_script(plan, tmp_path / "p.txt", 1, tmp_path)
    loop = next(line for line in text.splitlines() if line.startswith("for var in "))
    assert {w.rstrip(";") for w in loop.split()[3:-1]} == set(SLURM_VARS.values())
    assert {"SLURM_JOB_NAME", "SLURM_GPUS_ON_NODE;"} <= set(loop.split())
