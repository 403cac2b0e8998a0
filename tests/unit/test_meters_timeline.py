"""Timeline downsampling keeps duration-weighted means."""

import pytest

from bids_energy.footprint import timeline_block
from bids_energy.meters.timeline import Timeline, merge_rows


def test_merge_weighted():
    dt, row = merge_rows((1.0, [1.0, 0.5, 10.0, None]), (3.0, [4.0, 1.0, 2.0, 8.0]))
    assert dt == 4.0
    assert row[0] == 4.0
    assert row[1] == pytest.approx((0.5 + 3.0) / 4)
    assert row[2] == pytest.approx((10 + 6) / 4)
    assert row[3] == 8.0


def test_downsample_bounded_and_mean_preserved():
    tl = Timeline(1.0, max_points=10)
    for i in range(100):
        tl.add(1.0, [float(i + 1), 0.5, float(i % 2), None, 0.1, 0.0, None, None])
    rec = timeline_block(tl.data())
    assert len(rec["rows"]) <= 10
    assert rec["interval_s"] > 1.0
    assert rec["rows"][-1][0] == 100.0
    assert sum(r[2] for r in rec["rows"]) / len(rec["rows"]) == pytest.approx(0.5, abs=0.06)


def test_short_final_interval_folded():
    tl = Timeline(1.0, max_points=10)
    tl.add(1.0, [1.0, 1.0, 10.0, None, 0.1, 0.0, None, None])
    tl.add(0.01, [1.01, 0.0, 0.0, None, 0.0, 0.0, None, None], fold_if_short=True)
    assert len(tl.rows) == 1 and tl.rows[0][1][0] == 1.01
