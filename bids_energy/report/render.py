"""Shared jinja2 environment, number formatting and everyday equivalents for both reports."""

from __future__ import annotations

import csv
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from bids_energy.errors import WriteError

# Browsers enforce this: nothing may be fetched, only inline styles and data: images.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def num(value, digits: int = 3) -> str:
    """Significant-digit formatting that never prints '0.000' for a small but real figure."""
    if value is None or jinja2.is_undefined(value):
        return "n/a"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "n/a"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 10**digits:
        return f"{v:,.0f}"
    if a < 1e-3:
        return f"{v:.{max(digits - 1, 1)}e}"
    return f"{v:.{digits}g}"


def duration(seconds) -> str:
    """7.3 -> '7.3 s', 4000 -> '1 h 06 min 40 s'."""
    if seconds is None or jinja2.is_undefined(seconds):
        return "n/a"
    s = float(seconds)
    if math.isnan(s):
        return "n/a"
    if s < 60:
        return f"{s:.1f} s"
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    return f"{h} h {m:02d} min {sec:02d} s" if h else f"{m} min {sec:02d} s"


def human_bytes(n) -> str:
    if n is None or jinja2.is_undefined(n):
        return "n/a"
    v = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(v) < 1000 or unit == "TB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1000
    return f"{v:.1f} TB"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bids_energy.report", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = num
    env.filters["duration"] = duration
    env.filters["bytes"] = human_bytes
    env.globals["csp"] = Markup(CSP)  # a constant: no escaping needed
    return env


@lru_cache(maxsize=1)
def load_equivalents() -> tuple[dict, ...]:
    """Rows of data/equivalents.csv (label, basis energy_wh|co2e_g, per_unit, source, year)."""
    text = resources.files("bids_energy").joinpath("data", "equivalents.csv").read_text("utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        r["per_unit"] = float(r["per_unit"])
        rows.append(r)
    return tuple(rows)


def equivalents(energy_wh, co2e_g, table=None) -> list[dict]:
    """Everyday comparisons for one figure; each keeps its source and year."""
    out = []
    for r in table if table is not None else load_equivalents():
        basis = energy_wh if r["basis"] == "energy_wh" else co2e_g
        if basis is None or r["per_unit"] <= 0:
            continue
        out.append({**r, "value": float(basis) / r["per_unit"]})
    return out


def write_html(html: str, out_html: Path) -> Path:
    out_html = Path(out_html)
    try:
        out_html.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_html.with_name(out_html.name + ".tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(out_html)
    except OSError as exc:
        raise WriteError(f"cannot write report {out_html}: {exc}") from exc
    return out_html
