"""Glob patterns compiled once into one regex per rule class, and the precedence that decides.

Pure logic: no file system access. Patterns follow gitignore's conventions, because users
already know them and they say what happens to folders:

* a pattern without ``/`` (``*preproc*``, ``*IsRunning*``) matches a name at any depth;
* a pattern containing ``/`` (``sub-*/mri/orig*``) is anchored at the pipeline's output
  folder; a leading ``/`` only makes that explicit;
* ``*`` and ``?`` never cross a ``/``; ``**`` does (``sub-*/**/T1.mgz``);
* a pattern that matches a folder matches everything below it; a trailing ``/``
  (``figures/``) matches folders only.

Every class (protected, user keep, user delete, pipeline keep, pipeline delete) is joined into
one alternation of named groups, so a path costs one regex call per class and the group that
matched names the rule that decided.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bids_energy.errors import UsageError

KEEP = "keep"
DELETE = "delete"
PROTECTED = "protected"

# Names this app (or the BIDS derivative contract) needs; no rule may delete them.
PROTECTED_GLOBS: tuple[str, ...] = (
    "dataset_description.json",
    ".bidsignore",
    "**/logs/CITATION.*",
    "*_footprint.json",
    "*_footprint.html",
    "*_cleanup.tsv",
)

DEFAULT_RULE = "default:keep-unmatched"


def validate_glob(glob: str) -> str:
    """Refuse patterns that cannot mean a path inside the output folder."""
    if not isinstance(glob, str) or not glob.strip("/"):
        raise UsageError(f"empty cleanup pattern: {glob!r}")
    if "\x00" in glob:
        raise UsageError(f"cleanup pattern contains a NUL byte: {glob!r}")
    parts = glob.strip("/").split("/")
    if any(p in ("..", ".") for p in parts):
        raise UsageError(
            f"cleanup pattern {glob!r} uses '.' or '..'; patterns are relative to the "
            "pipeline's output folder and cannot leave it"
        )
    return glob


_FNMATCH_WRAPPER = re.compile(r"\(\?s:(.*)\)\\[zZ]", re.DOTALL)


def _translate_class(glob: str, i: int) -> tuple[str, int]:
    """Translate a ``[...]`` set starting at ``glob[i] == '['``; literal ``[`` if unclosed."""
    j = i + 1
    if j < len(glob) and glob[j] == "!":
        j += 1
    if j < len(glob) and glob[j] == "]":
        j += 1
    while j < len(glob) and glob[j] != "]":
        j += 1
    if j >= len(glob):
        return re.escape("["), i + 1
    # The set's meaning (ranges, reversed ranges that match nothing, escapes) is the
    # standard library's: fnmatch translates the bracket expression alone, so this matcher
    # and fnmatch cannot disagree on it.
    inner = _FNMATCH_WRAPPER.fullmatch(fnmatch.translate(glob[i : j + 1]))
    piece = inner.group(1) if inner else "(?!)"
    # a set never matches the separator, as in shells
    out = f"(?!/){piece}"
    return out, j + 1


def translate(glob: str) -> str:
    """Regex source (for ``fullmatch``) of one pattern, per the module's conventions."""
    validate_glob(glob)
    dir_only = glob.endswith("/")
    anchored = "/" in glob.rstrip("/")
    g = glob.strip("/")
    out: list[str] = []
    i, n = 0, len(g)
    while i < n:
        c = g[i]
        if c == "*":
            if g.startswith("**", i):
                at_seg_start = i == 0 or g[i - 1] == "/"
                if at_seg_start and g.startswith("**/", i):
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                out.append(".*")
                i += 2
                while i < n and g[i] == "*":
                    i += 1
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            piece, i = _translate_class(g, i)
            out.append(piece)
            continue
        else:
            out.append(re.escape(c))
        i += 1
    prefix = "" if anchored else "(?:.*/)?"
    suffix = "/.*" if dir_only else "(?:/.*)?"
    return prefix + "".join(out) + suffix


class PatternSet:
    """Several globs compiled into one regex; ``match`` returns the first glob that matches."""

    def __init__(self, globs: Iterable[str]):
        self.globs: tuple[str, ...] = tuple(dict.fromkeys(validate_glob(g) for g in globs))
        if self.globs:
            source = "|".join(f"(?P<g{k}>{translate(g)})" for k, g in enumerate(self.globs))
            self._regex: re.Pattern[str] | None = re.compile(source, re.DOTALL)
        else:
            self._regex = None

    def match(self, relpath: str) -> str | None:
        if self._regex is None:
            return None
        m = self._regex.fullmatch(relpath)
        if m is None:
            return None
        return self.globs[int(m.lastgroup[1:])]  # type: ignore[index]

    def __bool__(self) -> bool:
        return bool(self.globs)


@dataclass(frozen=True)
class Decision:
    action: str  # keep | delete | protected
    rule: str  # "<class>:<glob>" or "default:keep-unmatched"


def normalise_rules(rules: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """Accept an adapter's ``{"keep": [...], "delete": [...]}`` (either may be absent)."""
    rules = rules or {}
    unknown = set(rules) - {"keep", "delete", "description"}
    if unknown:
        raise UsageError(f"unknown cleanup rule keys: {sorted(unknown)}")
    out = {}
    for key in ("keep", "delete"):
        value = rules.get(key, ()) or ()
        if isinstance(value, str):
            value = (value,)
        out[key] = tuple(value)
    return out


class Classifier:
    """Decide keep/delete/protected for a path relative to the pipeline's output folder.

    Precedence, highest first: protected > user keep > user delete > pipeline keep >
    pipeline delete > keep. Unmatched paths are kept: only what a rule names is deleted.
    """

    def __init__(
        self,
        pipeline_rules: Mapping[str, Sequence[str]] | None = None,
        user_keep: Sequence[str] = (),
        user_delete: Sequence[str] = (),
        protected_paths: Iterable[str] = (),
        protected_globs: Sequence[str] = PROTECTED_GLOBS,
    ):
        rules = normalise_rules(pipeline_rules)
        self.protected_paths = frozenset(protected_paths)
        self._classes: list[tuple[str, str, PatternSet]] = [
            (PROTECTED, "protected", PatternSet(protected_globs)),
            (KEEP, "user-keep", PatternSet(user_keep)),
            (DELETE, "user-delete", PatternSet(user_delete)),
            (KEEP, "pipeline-keep", PatternSet(rules["keep"])),
            (DELETE, "pipeline-delete", PatternSet(rules["delete"])),
        ]
        self._classes = [c for c in self._classes if c[2]]
        # One alternation over every class, in precedence order: the first alternative that
        # matches is the deciding rule, and one regex call per path replaces one per class.
        self._decisions: dict[str, Decision] = {}
        parts = []
        for c, (action, label, patterns) in enumerate(self._classes):
            for k, glob in enumerate(patterns.globs):
                name = f"c{c}_{k}"
                self._decisions[name] = Decision(action, f"{label}:{glob}")
                parts.append(f"(?P<{name}>{translate(glob)})")
        self._combined = re.compile("|".join(parts), re.DOTALL) if parts else None

    def classify(self, relpath: str) -> Decision:
        if relpath in self.protected_paths:
            return Decision(PROTECTED, "protected:written-by-this-run")
        if self._combined is not None:
            m = self._combined.fullmatch(relpath)
            if m is not None:
                return self._decisions[m.lastgroup]  # type: ignore[index]
        return Decision(KEEP, DEFAULT_RULE)

    def describe(self) -> dict[str, list[str]]:
        """The rules as data, for the footprint record."""
        return {label: list(p.globs) for _, label, p in self._classes}
