"""Headless Chromium opens both reports from disk with networking routed to a trap.

Every request the browser makes goes through ``--proxy-server`` to a local listener that only
records it; the reports must cause none. A control page with an external image proves the trap
catches requests (without the CSP) and that the reports' CSP blocks them (with it).
"""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
from pathlib import Path

import pytest

from bids_energy.report.group import run_group_level
from bids_energy.report.participant import render_participant_report
from bids_energy.report.render import CSP
from tests.fixtures.footprints import make_footprint, write_footprints
from tests.fixtures.tools import SYSTEM_STEP, require_file

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
]


@pytest.fixture(scope="module", autouse=True)
def _chromium() -> None:
    require_file(CHROMIUM, SYSTEM_STEP)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--no-pings",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
]
# Chromium's own service calls that no flag silences (updater, account check). Exact hosts only:
# a page leak would go to a CDN or font host, which still counts.
BROWSER_OWN = {"update.googleapis.com", "accounts.google.com", "clients2.google.com"}


def host_of(request_line: str) -> str:
    target = request_line.split(" ", 1)[1]
    target = target.split("://", 1)[-1]
    return target.split("/", 1)[0].split(":", 1)[0]


class Trap:
    """A local 'proxy' that answers nothing useful and remembers every request line."""

    def __init__(self):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self):
                seen.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = do_CONNECT = _record

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page_requests(self) -> list[str]:
        return [s for s in self.seen if host_of(s) not in BROWSER_OWN]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trap():
    t = Trap()
    yield t
    t.close()


def chromium(args: list[str], profile: Path, trap: Trap, timeout: int = 90) -> str:
    cmd = [
        str(CHROMIUM),
        *FLAGS,
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{trap.port}",
        "--proxy-bypass-list=<-loopback>",
        *args,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def demo_reports(root: Path) -> tuple[Path, Path]:
    rec = make_footprint(
        wall_s=900,
        energy_wh=6.0,
        co2e_g=0.18,
        codecarbon_wh=19.0,
        steps=[
            {
                "step": "registration",
                "programs": ["antsRegistration"],
                "cpu_s": 500,
                "cpu_share": 0.6,
                "energy_wh": 3.6,
                "first_seen_s": 0,
                "last_seen_s": 600,
            },
            {
                "step": "brain extraction",
                "programs": ["bet"],
                "cpu_s": 330,
                "cpu_share": 0.4,
                "energy_wh": 2.4,
                "first_seen_s": 500,
                "last_seen_s": 900,
            },
        ],
    )
    part = render_participant_report(rec, root / "sub-01_footprint.html")
    write_footprints(root / "out", 30)
    group = run_group_level(root / "out")["html"]
    return part, group


def svg_marks(dom: str) -> int:
    return len(re.findall(r'class="(?:pt[^"]*|series)"', dom))


def test_reports_render_offline_and_request_nothing(tmp_path, trap):
    part, group = demo_reports(tmp_path)
    for page, min_plots in ((part, 2), (group, 3)):
        html = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
        assert not re.search(r"<script|<link|@import|url\(", html, re.I)
        dom = chromium(["--dump-dom", page.as_uri()], tmp_path / "profile", trap)
        assert dom.count('<svg class="plot"') >= min_plots
        assert svg_marks(dom) >= 5
        assert re.search(r"<table[^>]*>.*?<td", dom, re.S)
        assert "Content-Security-Policy" in dom
        shot = tmp_path / f"{page.stem}.png"
        chromium(
            [f"--screenshot={shot}", "--window-size=1100,1600", page.as_uri()],
            tmp_path / "profile",
            trap,
        )
        assert shot.stat().st_size > 20_000
    assert trap.page_requests() == []


def test_trap_catches_requests_and_csp_blocks_them(tmp_path, trap):
    bait = '<img src="http://bait.invalid/pixel.png" alt="">'
    open_page = tmp_path / "open.html"
    open_page.write_text(f"<!DOCTYPE html><html><body>{bait}</body></html>")
    chromium(["--dump-dom", open_page.as_uri()], tmp_path / "profile", trap)
    assert any("bait.invalid" in s for s in trap.page_requests()), trap.seen  # the trap works
    trap.seen.clear()
    guarded = tmp_path / "guarded.html"
    guarded.write_text(
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
        f'content="{CSP}"></head><body>{bait}</body></html>'
    )
    chromium(["--dump-dom", guarded.as_uri()], tmp_path / "profile", trap)
    assert trap.page_requests() == []  # the reports' CSP stops what a template change might add
