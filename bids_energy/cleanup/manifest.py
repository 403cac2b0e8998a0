"""The cleanup manifest: one TSV row per path, with its size and the rule that decided it.

Written before anything is deleted (so an interrupted cleanup still leaves its record), and
in dry runs too, so a user sees what would go. Names with tabs or newlines are quoted the
way the csv module and pandas read them back.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

COLUMNS = ("path", "kind", "size_bytes", "action", "rule")


def write_manifest(path: Path, rows: Iterable[tuple[str, str, int, str, str]]) -> Path:
    """Write rows atomically (temporary file, then rename) and return the path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8", errors="backslashreplace") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, path)
    return path


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows as dicts (``size_bytes`` stays a string), for tests and the group report."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))
