"""The rotation Monte Carlo engine: its random streams, its null, and the sequential p-values against full draws."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_rotation import data_of, honest, queue, unit_rows

from analytics.detectors import rotation
from analytics.detectors.rotation import simulate
from analytics.detectors.rotation.statistic import Windows, expected
from analytics.detectors.rotation.subjects import cells_of_scopes, queues
from analytics.settings import Settings


def test_streams_do_not_depend_on_batching_or_on_other_tests():
    keys = np.array([11, 22, 33], dtype=np.uint64)
    whole = simulate.uniforms(keys, slot=5, quarters=12, first_draw=0, draws=128)
    later = simulate.uniforms(keys[1:], slot=5, quarters=12, first_draw=64, draws=64)
    assert np.array_equal(whole[1:, :, 64:], later)
    assert not np.array_equal(whole[0], whole[1])
    # Roughly uniform 16-bit values.
    big = simulate.uniforms(keys, slot=0, quarters=12, first_draw=0, draws=4000).astype(float) / 65536
    assert big.mean() == pytest.approx(0.5, abs=0.01) and (big < 0.1).mean() == pytest.approx(0.1, abs=0.01)


def test_schedule_rounds_add_up_to_the_draws():
    assert simulate.schedule(2000) == [64, 64, 128, 256, 512, 976]
    assert sum(simulate.schedule(10)) == 12 and all(b % 4 == 0 for b in simulate.schedule(2000))


def _queues(rows):
    settings = Settings()
    scopes = cells_of_scopes(data_of(rows).quarterly, settings.rotation.min_people)
    order = np.argsort(-scopes.n_slots, kind="stable")
    return scopes, queues(scopes, order, settings.rotation.min_people, settings.rotation.min_quarters)


def test_null_draws_keep_the_margins_and_have_unit_mean_dispersion():
    rng = np.random.default_rng(2)
    goods = [set(rng.choice(12, 5, replace=False).tolist()) for _ in range(12)]
    rows = unit_rows("甲", goods, n=12, absent={3: {0, 1}, 7: {5}})
    scopes, q = _queues(rows)
    top = q.take(np.flatnonzero(q.variant == 0))
    windows = Windows.for_years(scopes.n_years)
    ex = expected(top, windows)
    draws = simulate.Draws.of(top, np.array([7], dtype=np.uint64))
    dev, reps = simulate.free_draws(draws, ex.m, windows, 0, 4000)
    # E[D] = 1 under H0 in every window, and E[repeats] is what the formula says.
    assert (dev / ex.var[:, :, None]).mean(axis=2)[0] == pytest.approx(np.ones(windows.count), abs=0.06)
    assert reps.mean(axis=2)[0] == pytest.approx(ex.repeats[0], rel=0.06)
    # Fixed margins: the whole-period sum of squared deviations is never below what k_t allow (a spot check).
    assert dev.min() >= 0


def test_sequential_p_values_follow_besag_clifford_and_match_the_full_draws():
    rows = unit_rows("轮流局", queue()) + honest(np.random.default_rng(4), 40)
    data = data_of(rows)
    seq = rotation.rotation_table(data, Settings(), seed=3)
    full = rotation.rotation_table(data, Settings(), seed=3, sequential=False)
    key = ["subject", "variant", "window"]
    both = seq.join(full, on=key, suffix="_full").filter(pl.col("p_value").is_not_null())
    assert both.height == seq.filter(pl.col("p_value").is_not_null()).height
    exact = both.filter(pl.col("draws_full") == 0)  # nobody repeats, same people throughout: exact in both runs
    assert exact.height > 0 and (exact["draws"] == 0).all() and (exact["p_value"] == exact["p_value_full"]).all()
    both = both.filter(pl.col("draws_full") > 0)
    assert (both["draws_full"] == 2000).all()
    stopped = both.filter(pl.col("draws") < 2000)
    # Stopped after h = 10 draws at least as extreme: p = h / L.
    assert (stopped["p_value"] - 10 / stopped["draws"]).abs().max() < 1e-12
    ran_out = both.filter(pl.col("draws") == 2000)
    assert (ran_out["p_value"] == ran_out["p_value_full"]).all()  # the same draws, so the same p
    # Where the sequential run stopped early the full p is in the same region (both above 0.005).
    assert (stopped["p_value_full"] > 0.002).all()
    assert seq.filter(pl.col("status") == "flag")[key].equals(full.filter(pl.col("status") == "flag")[key])
    # The sequential run draws far less.
    assert both["draws"].sum() < 0.2 * both["draws_full"].sum()
