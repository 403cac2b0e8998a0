"""`command`: measure any user command (a training script, another tool) like a pipeline.

The command comes after ``--`` (or from ``--command-template``) and may use the placeholders
``{bids_dir} {output_dir} {participant} {session} {work_dir} {nthreads}``; it is split
with shlex when given as one string and is never run through a shell.
"""

from __future__ import annotations

import shlex
import shutil

from bids_energy.errors import UsageError
from bids_energy.pipelines.base import Job, Pipeline, Variant

PLACEHOLDERS = ("bids_dir", "output_dir", "participant", "session", "work_dir", "nthreads")


class CommandPipeline(Pipeline):
    name = "command"
    description = "any command, with {bids_dir} {output_dir} {participant} placeholders"
    variants = {"baseline": Variant("baseline", "the command as given")}

    def find_executable(self, override: str | None = None) -> str | None:
        return override  # decided from the command itself in build_command

    def version(self, executable: str) -> str | None:
        return None

    def template(self, job: Job) -> list[str]:
        tpl = job.options.get("command_template")
        argv = shlex.split(tpl) if tpl else list(job.extra_args)
        if not argv:
            raise UsageError("pipeline 'command' needs a command: add it after '--' "
                             "(e.g. -- python train.py {bids_dir} {participant})")
        return argv

    def build_command(self, job: Job) -> list[str]:
        values = {
            "bids_dir": str(job.bids_dir),
            "output_dir": str(job.subject_dir),
            "participant": job.participant,
            "session": job.session or "",
            "work_dir": str(job.work_dir),
            "nthreads": str(job.nthreads or ""),
        }
        out = []
        for arg in self.template(job):
            try:
                out.append(arg.format(**values))
            except (KeyError, IndexError, ValueError) as exc:
                raise UsageError(f"bad placeholder in command argument {arg!r}: {exc}; "
                                 f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}") from None
        exe = shutil.which(out[0]) or (out[0] if "/" in out[0] else None)
        if exe is None:
            raise UsageError(f"command not found: {out[0]}")
        return out
