"""Outcome use on the demo city: every planted outcome-rule break is flagged, and few others.

Run `python -m pytest tests/test_outcomes_demo.py -s` to print recall and precision; by hand:
`python -m analytics demo --db /tmp/demo.duckdb`, then `python -m analytics flags --db /tmp/demo.duckdb`
(kind outcome_rule) against the demo_truth table.
"""

from __future__ import annotations

import polars as pl
import pytest

from analytics import outcomes as oc
from analytics import store
from analytics.dataset import load_dataset
from analytics.detectors.outcome_rules import DETECTOR
from analytics.settings import load_settings


@pytest.fixture(scope="module")
def demo(demo_db):
    con = store.connect(demo_db, read_only=True)
    try:
        settings = load_settings()
        truth = con.sql("SELECT * FROM demo_truth WHERE pattern = 'outcome_rule'").pl()
        return load_dataset(con, settings), settings, truth
    finally:
        con.close()


def test_planted_breaks_are_flagged_and_few_others(demo):
    data, settings, truth = demo
    flags = DETECTOR.detect(data, settings)
    person = flags.filter(pl.col("subject_type") == "person").with_columns(year=pl.col("period_from").str.slice(0, 4))
    planted = truth.with_columns(year=pl.col("detail").str.slice(0, 4))  # detail: '2024: excellent_min_good; ...'
    assert planted.height >= 5
    found = planted.join(person, on=["subject", "year"], how="semi").height
    correct = person.join(planted, on=["subject", "year"], how="semi").height
    recall, precision = found / planted.height, correct / max(person.height, 1)
    print(
        f"outcome_rule: planted {planted.height}, person flags {person.height}, recall {recall:.2f}, precision {precision:.2f}"
    )
    assert recall == 1.0 and precision >= 0.9
    # honest units: concentration tests stay quiet (chance flags at q just under 0.05 in ~100 units: a few)
    assert flags.filter(pl.col("subject_type") != "person").height <= 3


def test_demo_summaries_are_consistent(demo):
    data, settings, _ = demo
    linked = oc.link(data, settings)
    assert linked.select("person_id", "year").is_duplicated().sum() == 0
    flow = oc.flow(data, settings)
    for stage in ("pattern", "annual"):
        assert flow.filter(pl.col("source_stage") == stage)["value"].sum() == linked.height
    timing = {r["outcome"]: r for r in oc.time_to_outcome(data, settings).to_dicts()}
    assert 0 < timing["bonus"]["median_days"] < 60  # bonuses are paid early in the following year
    by_pattern = oc.rates_by_pattern(data, settings).filter(pl.col("outcome") == "commendation")
    rate = dict(zip(by_pattern["pattern"], by_pattern["rate"], strict=True))
    assert rate["4×好"] > rate["2×好+2×较好"] > rate.get("含一般或较差", 0.0)
    assert oc.unknown_outcomes(data).height == 0
