"""Participant report: content, escaping and self-containment (no browser needed)."""

import re

import pytest

from bids_energy.report import participant as rp
from bids_energy.report.render import CSP, equivalents, load_equivalents
from tests.fixtures.footprints import make_footprint

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)


def full_record():
    rec = make_footprint(
        wall_s=600,
        energy_wh=5.0,
        co2e_g=0.15,
        codecarbon_wh=20.0,
        steps=[
            {
                "step": "registration",
                "programs": ["antsRegistration"],
                "cpu_s": 300,
                "cpu_share": 0.6,
                "energy_wh": 3.0,
                "co2e_g": 0.09,
                "first_seen_s": 0,
                "last_seen_s": 400,
            },
            {
                "step": "brain extraction",
                "programs": ["bet"],
                "cpu_s": 200,
                "cpu_share": 0.4,
                "energy_wh": 2.0,
                "co2e_g": 0.06,
                "first_seen_s": 300,
                "last_seen_s": 600,
            },
        ],
    )
    rec["cleanup"] = {
        "files_before": 120,
        "bytes_before": 5_800_000_000,
        "files_removed": 100,
        "bytes_removed": 5_515_000_000,
        "files_after": 20,
        "bytes_after": 285_000_000,
        "mode": "delete",
        "manifest": "cleanup.tsv",
    }
    return rec


def test_report_shows_the_figures(tmp_path):
    out = rp.render_participant_report(full_record(), tmp_path / "r" / "sub-01.html")
    html = out.read_text()
    assert out.name == "sub-01.html"
    for needle in (
        "Energy footprint of sub-01",
        "estimated: tdp-model",
        "RAPL is not readable",
        "CA-QC",
        "PUE",
        "antsRegistration",
        "CodeCarbon (machine mode)",
        "whole machine (every process on the node)",
        "x4",
        "5.8 GB",
        "285.0 MB",
        "litres of gasoline",
        "EPA",
        "python3 -m",
    ):
        assert needle in html, needle
    assert html.count('class="pt band"') == 2  # one band per step on the power plot
    assert 'class="series"' in html


def test_self_contained_with_csp(tmp_path):
    html = rp.render_participant_html(full_record())
    assert f'content="{CSP}"' in html
    assert not EXTERNAL.search(html)
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()


def test_everything_is_escaped():
    rec = full_record()
    rec["participant"] = "<script>alert(1)</script>"
    rec["pipeline"]["command"] = ["echo", "<img src=x onerror=alert(1)>"]
    rec["warnings"] = ["<b>bold</b>"]
    rec["steps"][0]["step"] = "<svg onload=alert(1)>"
    html = rp.render_participant_html(rec)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<svg onload" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "rec",
    [
        {},
        {"schema_version": "1.0.0", "participant": "01"},
        {
            "energy": None,
            "timeline": {"columns": ["t_s"], "rows": [[0]]},
            "steps": "nope",
            "trackers": None,
            "cleanup": [],
        },
    ],
)
def test_partial_records_still_render(rec):
    html = rp.render_participant_html(rec)
    assert "Energy footprint of" in html and "n/a" in html


def test_downsample_keeps_mean_and_bounds_points():
    xs = list(range(10000))
    ys = [float(i % 10) for i in xs]
    dx, dy = rp.downsample(xs, ys, 1000)
    assert len(dx) <= 1000
    assert sum(dy) / len(dy) == pytest.approx(sum(ys) / len(ys), rel=1e-3)


def test_power_plot_node_vs_job_and_time_unit():
    tl = {
        "columns": ["t_s", "job_cpu_w", "node_cpu_w"],
        "rows": [[t * 60.0, 10.0, 30.0] for t in range(100)],
    }
    out = rp.power_plot(tl, [])
    assert "CPU, this job" in out and "CPU, whole node" in out
    assert "stroke-dasharray" in out
    assert "(min)" in out


def test_equivalents_arithmetic_and_sources():
    table = load_equivalents()
    assert all(r["source"] and r["year"] for r in table)
    eq = {e["key"]: e for e in equivalents(24.0, 4696.0)}
    assert eq["gasoline_litres"]["value"] == pytest.approx(2.0)  # 2,348 g CO2 per litre
    assert eq["led_bulb_hours"]["value"] == pytest.approx(2.4)  # 10 Wh per hour
    assert equivalents(None, None) == []


def test_every_equivalence_factor_is_checked_against_its_source_and_dated():
    for r in load_equivalents():
        assert re.match(r"checked \d{4}-\d{2}-\d{2} ", r["checked"]), r["key"]


def test_gasoline_factor_is_epas_grams_per_gallon_in_litres():
    (row,) = [r for r in load_equivalents() if r["key"] == "gasoline_litres"]
    assert "8,887 grams CO2 per gallon" in row["source"]
    assert row["per_unit"] == pytest.approx(8887 / 3.785411784, abs=0.5)


def test_phases_show_as_bar_table_and_bands():
    rec = make_footprint(wall_s=600, energy_wh=4.0, phases={
        "method": "pro rata by time", "spans": [["epoch-1", 10, 200], ["epoch-2", 200, 590]],
        "ignored_lines": 2, "events": 4,
        "rows": [
            {"phase": "epoch-1", "cpu_s": 100, "cpu_share": 0.3, "energy_wh": 1.0,
             "energy_share": 0.25, "co2e_g": 0.03, "time_s": 190, "first_seen_s": 10,
             "last_seen_s": 200, "occurrences": 1},
            {"phase": "epoch-2", "cpu_s": 200, "cpu_share": 0.6, "energy_wh": 2.6,
             "energy_share": 0.65, "co2e_g": 0.08, "time_s": 390, "first_seen_s": 200,
             "last_seen_s": 590, "occurrences": 1},
            {"phase": "(no phase)", "cpu_s": 30, "cpu_share": 0.1, "energy_wh": 0.4,
             "energy_share": 0.1, "co2e_g": 0.01, "time_s": 20, "first_seen_s": 0,
             "last_seen_s": 600, "occurrences": 2}]},
        model={"params": 11_000_000, "flops": 4e12, "flops_source": "user",
               "energy_wh_per_gflop": 0.001})
    html = rp.render_participant_html(rec)
    sec = html.split('<section id="phases">')[1].split("</section>")[0]
    assert "Energy by phase" in sec and "<svg" in sec
    assert sec.index("epoch-2") < sec.index("epoch-1"), "largest first"
    assert "65%" in sec and "(no phase)" in sec and "2 unparseable" in sec
    power = html.split('<section id="power">')[1].split("</section>")[0]
    assert "phase: epoch-1" in power and "phase: epoch-2" in power
    assert "phase: (no phase)" not in power
    assert 'id="model"' in html and "energy per GFLOP" in html


def test_bands_sharing_a_label_share_a_row():
    from bids_energy.report import svg

    bands = [{"label": "phase: train", "x0": 0, "x1": 1}, {"label": "phase: eval", "x0": 1, "x1": 2},
             {"label": "phase: train", "x0": 2, "x1": 3}]
    out = svg.line_plot([{"label": "cpu", "x": [0, 3], "y": [1, 2]}], "t", "W", "P", bands=bands)
    assert out.count(">phase: train</text>") == 1 and out.count('class="pt band"') == 3
    ys = re.findall(r'class="pt band" x="[\d.]+" y="([\d.]+)"', out)
    assert ys[0] == ys[2] != ys[1]
