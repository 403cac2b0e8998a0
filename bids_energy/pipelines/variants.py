"""Variant tables turned into argv: lookup, conflict rules, version gates, extra arguments.

Every adapter describes its variants as data (``Variant`` rows). This module holds the one
piece of logic that reads those rows, so the rules (what conflicts, what a version refuses,
what an extra argument may not contradict) are the same for every pipeline and are tested
once. Nothing here touches the file system or runs a process.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from bids_energy.errors import UsageError
from bids_energy.pipelines.variant import NEUTRAL, Option, Variant, version_tuple

_PARAM_RE = re.compile(r"^(?P<prefix>[a-z][a-z0-9-]*?)-(?P<n>\d+)$")


class Pipeline(Protocol):
    """What these rules read of a pipeline adapter (``base.Pipeline`` has it all)."""

    name: str
    description: str
    variants: Mapping[str, Variant]
    default_variants: tuple[str, ...]


# --- lookup --------------------------------------------------------------------------------
def lookup_variant(table: Mapping[str, Variant], name: str) -> Variant | None:
    """Find ``name`` in ``table``; ``threads-8`` matches the parametric row ``threads-N``.

    The parametric row's ``{n}`` placeholders are filled in, so callers see a plain
    variant whose option values are the user's number.
    """
    if name in table and not table[name].parametric:
        return table[name]
    m = _PARAM_RE.match(name)
    if not m:
        return None
    row = table.get(f"{m['prefix']}-N")
    if row is None or not row.parametric:
        return None
    n = int(m["n"])
    if n < 1 or str(n) != m["n"]:
        return None

    def fill(opts: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {k: tuple(v.format(n=n) for v in vals) for k, vals in opts.items()}

    return dataclasses.replace(
        row,
        name=name,
        description=row.description.replace("{n}", str(n)),
        set_options=fill(row.set_options),
        append_options=fill(row.append_options),
        parametric=False,
    )


def _pattern_of(name: str) -> str:
    """``threads-8`` -> ``threads-N`` so conflicts can name the whole family."""
    m = _PARAM_RE.match(name)
    return f"{m['prefix']}-N" if m else name


# --- resolution ----------------------------------------------------------------------------
def resolve_variant_names(
    pipeline: Pipeline, names: Sequence[str], version: str | None = None
) -> list[str]:
    """Validate user variant names for ``pipeline``; return them de-duplicated, in order.

    Refused (UsageError, exit 64): unknown names, two variants of one conflict group, pairs a
    row declares as conflicting, two variants setting one option to different values, and a
    variant outside the versions it applies to (when the version is known). ``baseline`` is
    dropped when combined with others, since every variant already starts from it.
    """
    if not names:
        return list(pipeline.default_variants)
    table = pipeline.variants
    seen: list[str] = []
    resolved: dict[str, Variant] = {}
    for n in names:
        v = lookup_variant(table, n)
        if v is None:
            known = ", ".join(sorted(table)) or "(none)"
            raise UsageError(f"unknown variant {n!r} for pipeline {pipeline.name}; known: {known}")
        if n not in seen:
            seen.append(n)
            resolved[n] = v
    _check_conflicts(resolved)
    if version:
        for v in resolved.values():
            _check_version(pipeline, v, version)
    if len(seen) > 1:
        seen = [n for n in seen if n not in NEUTRAL] or seen[:1]
    return seen


def _check_conflicts(resolved: Mapping[str, Variant]) -> None:
    groups: dict[str, str] = {}
    for n, v in resolved.items():
        if v.group and v.group in groups:
            raise UsageError(
                f"variants {groups[v.group]!r} and {n!r} conflict: both choose {v.group}"
            )
        if v.group:
            groups[v.group] = n
    items = list(resolved.items())
    for i, (a, va) in enumerate(items):
        for b, vb in items[i + 1 :]:
            if (
                _pattern_of(b) in va.conflicts
                or b in va.conflicts
                or a in vb.conflicts
                or (_pattern_of(a) in vb.conflicts)
            ):
                raise UsageError(f"variants {a!r} and {b!r} conflict: they cannot run together")
            for opt, vals in va.set_options.items():
                if opt in vb.set_options and vb.set_options[opt] != vals:
                    raise UsageError(
                        f"variants {a!r} and {b!r} conflict: both set {opt} "
                        f"({' '.join(vals)} vs {' '.join(vb.set_options[opt])})"
                    )


def _check_version(pipeline: Pipeline, v: Variant, version: str) -> None:
    have = version_tuple(version)
    if not have:
        return
    if v.min_version and have < version_tuple(v.min_version):
        raise UsageError(
            f"variant {v.name!r} needs {pipeline.name} {v.min_version} or newer "
            f"(found {version}). {v.refused_note}".strip()
        )
    if v.max_version and have >= version_tuple(v.max_version):
        raise UsageError(
            f"variant {v.name!r} is not available in {pipeline.name} {v.max_version} and newer "
            f"(found {version}). {v.refused_note}".strip()
        )


def variant_warnings(pipeline: Pipeline, names: Iterable[str], version: str | None) -> list[str]:
    """Warnings the chosen variants carry for this version (e.g. aroma is a no-op in 24.x)."""
    out: list[str] = []
    have = version_tuple(version)
    for n in names:
        v = lookup_variant(pipeline.variants, n)
        if v is None:
            continue
        if not have and (v.min_version or v.max_version or v.version_warnings):
            out.append(
                f"{pipeline.name} version unknown: cannot check that variant {n!r} applies to it"
            )
            continue
        for lo, hi, text in v.version_warnings:
            if (not lo or have >= version_tuple(lo)) and (not hi or have < version_tuple(hi)):
                out.append(text)
    return out


# --- applying variants -----------------------------------------------------------------------
def apply_variants(base: Sequence[Option], variants: Sequence[Variant]) -> list[Option]:
    """Apply variant rows to a baseline option list, in phases so order does not matter.

    Removals first, then replacements, then appended values (``fsaverage`` adds to
    ``--output-spaces`` whatever ``res-1`` set it to), then added switches.
    """
    opts: dict[str, tuple[str, ...]] = dict(base)
    for v in variants:
        for name in v.remove_options:
            opts.pop(name, None)
    for v in variants:
        for name, vals in v.set_options.items():
            opts[name] = tuple(vals)
    for v in variants:
        for name, vals in v.append_options.items():
            opts[name] = opts.get(name, ()) + tuple(x for x in vals if x not in opts.get(name, ()))
    for v in variants:
        for flag in v.add_flags:
            opts.setdefault(flag, ())
    return list(opts.items())


def touched_options(variants: Sequence[Variant]) -> dict[str, str]:
    """Option name -> the variant that set, added or removed it."""
    out: dict[str, str] = {}
    for v in variants:
        if v.name in NEUTRAL:
            continue
        for name in (*v.set_options, *v.append_options, *v.add_flags, *v.remove_options):
            out.setdefault(name, v.name)
    return out


def parse_options(args: Sequence[str]) -> list[Option]:
    """Split ``--opt v1 v2 --flag --k=v`` into options; a bare leading value is an error.

    A token is an option when it starts with ``-`` and is not a number; the values that
    follow belong to it until the next option.
    """
    out: list[Option] = []
    for tok in args:
        if tok.startswith("-") and not _is_number(tok):
            if "=" in tok and tok.startswith("--"):
                name, val = tok.split("=", 1)
                out.append((name, (val,)))
            else:
                out.append((tok, ()))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + (tok,))
        else:
            raise UsageError(f"extra argument {tok!r} after -- does not follow an option")
    return out


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def merge_extra_args(
    options: Sequence[Option],
    extra_args: Sequence[str],
    touched: Mapping[str, str],
    aliases: Mapping[str, str] | None = None,
    exclusive: Sequence[frozenset[str]] = (),
) -> tuple[list[Option], list[str]]:
    """Fold the user's pass-through arguments into the command without doubling any option.

    An extra option that a chosen variant set, added or removed (or that is mutually
    exclusive with one it added) is refused, because silently running something else than
    the named variant would make its footprint lie. Repeating exactly what the variant set
    is dropped with a warning. An extra option that only overrides a baseline value
    replaces it (warning). Anything else is appended as given.
    """
    aliases = aliases or {}
    current = dict(options)
    order = [name for name, _ in options]
    warnings: list[str] = []
    for raw_name, vals in parse_options(extra_args):
        name = aliases.get(raw_name, raw_name)
        shown = " ".join((raw_name, *vals))
        owner = touched.get(name)
        if owner is None:
            for group in exclusive:
                if name in group:
                    hit = [o for o in group if o != name and o in touched]
                    if hit:
                        owner = touched[hit[0]]
        if owner is not None:
            if name in current and current[name] == vals and name in touched:
                warnings.append(f"extra argument {shown!r} repeats variant {owner!r}; dropped")
                continue
            raise UsageError(
                f"extra argument {shown!r} contradicts variant {owner!r}; "
                "drop the argument or choose another variant"
            )
        if name in current:
            if current[name] != vals:
                warnings.append(f"extra argument {shown!r} replaces the baseline value")
            current[name] = vals
        else:
            current[name] = vals
            order.append(name)
    return [(n, current[n]) for n in order], warnings


def render(options: Iterable[Option], repeat: Iterable[str] = ()) -> list[str]:
    """Flatten options back into argv tokens; options in ``repeat`` are written once per
    value (recon-all wants ``-i a.nii -i b.nii``, not ``-i a.nii b.nii``)."""
    repeat = set(repeat)
    argv: list[str] = []
    for name, vals in options:
        if name in repeat:
            for val in vals:
                argv += [name, val]
        else:
            argv.append(name)
            argv.extend(vals)
    return argv


def add_warnings(target: list[str], new: Iterable[str]) -> None:
    """Append warnings once; build_command may run twice (dry run, then the real run)."""
    for w in new:
        if w not in target:
            target.append(w)


def warn_if_variant_overrides_threads(job, options, touched: dict, option: str) -> None:
    """--nthreads loses to a variant that fixes the thread count (nthreads-16, threads-N,
    openmp-N): say so in the footprint rather than silently run another count."""
    if not job.nthreads or option not in touched:
        return
    value = dict(options)[option][0]
    if value != str(job.nthreads):
        add_warnings(job.warnings, [f"--nthreads {job.nthreads} ignored: variant "
                                    f"{touched[option]!r} sets {option} {value}"])


# --- presentation ----------------------------------------------------------------------------
def describe_changes(v: Variant) -> str:
    """The flag changes of one row, in the words a command line uses."""
    parts: list[str] = []
    parts += [f"drop {n}" for n in v.remove_options]
    parts += [" ".join((n, *vals)) for n, vals in v.set_options.items()]
    parts += [f"add {' '.join(vals)} to {n}" for n, vals in v.append_options.items()]
    parts += list(v.add_flags)
    return "; ".join(parts) or "(baseline command)"


def describe_versions(v: Variant) -> str:
    if v.min_version and v.max_version:
        return f">={v.min_version},<{v.max_version}"
    if v.min_version:
        return f">={v.min_version}"
    if v.max_version:
        return f"<{v.max_version}"
    return "all"


def format_variant_table(pipeline: Pipeline) -> str:
    """The text ``--list-variants`` prints: one row per variant, then the combination rules."""
    rows = [("variant", "device", "versions", "conflict group", "flags", "description")]
    for name, v in pipeline.variants.items():
        rows.append(
            (
                name + (" *" if name in pipeline.default_variants else ""),
                v.device or "-",
                describe_versions(v),
                v.group or "-",
                describe_changes(v),
                v.description,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"{pipeline.name}: {pipeline.description}".rstrip(": ")]
    for r in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
        )
    lines.append("")
    lines.append("* default when no --variant is given. Variants combine unless they share a")
    lines.append("conflict group or set one option to different values.")
    for name, v in pipeline.variants.items():
        if v.conflicts:
            lines.append(f"  {name} cannot run with {', '.join(v.conflicts)}")
    if any(v.parametric for v in pipeline.variants.values()):
        lines.append("N is any positive whole number (e.g. threads-8).")
    return "\n".join(lines) + "\n"
