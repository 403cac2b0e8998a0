"""``bids-energy estimate --sacct FILE --report DIR``: the TSV and the HTML agree."""

import csv
import re
from pathlib import Path

import pytest

from bids_energy.cli.estimate import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "sacct"


def test_estimate_sacct_report(tmp_path, capsys):
    tsv, rep = tmp_path / "jobs.tsv", tmp_path / "report"
    rc = main(["--sacct", str(FIX / "mixed.txt"), "--cluster-config", str(FIX / "cluster.toml"),
               "--out", str(tsv), "--report", str(rep)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    html_path = rep / "sacct_estimate.html"
    assert str(html_path) in capsys.readouterr().err
    with tsv.open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    html = html_path.read_text()
    assert len(rows) >= 3
    for r in rows:
        assert f"<td>{r['job_id']}</td>" in html
    total = sum(float(r["energy_wh"]) for r in rows)
    kpi = re.search(r'<div class="l">Energy</div><div class="v">([^<]+)</div>', html)
    assert float(kpi.group(1).replace(",", "")) == pytest.approx(total, rel=1e-2)
    for part in {r["partition"] for r in rows}:
        assert f"<td>{part}</td>" in html
    assert "all partitions" in html and "<svg" in html
    assert 'http-equiv="Content-Security-Policy"' in html and "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    stripped = html.replace("http://www.w3.org/2000/svg", "")
    assert "http://" not in stripped and "https://" not in stripped


def test_estimate_report_unwritable_is_write_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["--sacct", str(FIX / "mixed.txt"), "--out", str(tmp_path / "j.tsv"),
               "--report", str(blocker / "sub")])  # fmt: skip
    assert rc == 74
    assert "cannot write" in capsys.readouterr().err
