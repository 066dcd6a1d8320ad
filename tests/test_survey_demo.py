"""Integration on the demo city: "do units flagged for rotation report lower trust in reviews?",
answered by analytics.survey and, with the same numbers, by the SQL workspace."""

from __future__ import annotations

import polars as pl
import pytest

from analytics import store
from analytics.dataset import load_dataset
from analytics.detectors import run_detectors
from analytics.settings import Settings
from analytics.sql_workspace import execute
from analytics.survey import analysis as sa

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_answer(demo_db):
    survey = sa.read_survey(demo_db)
    if survey.is_empty:
        pytest.skip("the demo city has no survey yet")
    settings = Settings()
    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, settings)
    finally:
        con.close()
    flags = run_detectors(data, settings, kinds=["rotation", "leniency"], seed=0)
    join = sa.unit_join(survey, flags, data.quarterly, kind="rotation", k=settings.privacy.k_min)
    return survey, flags, join


def test_trust_items_found_and_small_units_suppressed(demo_answer):
    survey, _, join = demo_answer
    assert join.trust_item_ids, "the demo survey should ask whether reviews are objective"
    small = join.per_unit.filter(pl.col("suppressed"))
    assert small["distrust_share"].null_count() == small.height
    assert small["respondents"].null_count() == small.height


def test_same_numbers_from_the_sql_workspace(demo_db, demo_answer):
    _, flags, join = demo_answer
    result = execute(demo_db, sa.trust_sql("rotation", 5), extra_tables={"flags": flags}).frame
    by_flag = {row["rotation_flagged"]: row for row in result.iter_rows(named=True)}
    cmp = join.comparison
    if cmp.flagged_units:
        assert by_flag[True]["units"] == cmp.flagged_units
        assert by_flag[True]["mean_distrust_share"] == pytest.approx(cmp.flagged_mean, abs=1e-4)
    assert by_flag[False]["units"] == cmp.other_units
    assert by_flag[False]["mean_distrust_share"] == pytest.approx(cmp.other_mean, abs=1e-4)
    assert by_flag[False]["respondents"] == cmp.other_respondents


def test_rotation_units_report_lower_trust(demo_answer):
    # The demo plants lower trust in rotation units; the join must find it, and strongly.
    _, _, join = demo_answer
    cmp = join.comparison
    assert cmp.flagged_units >= 5
    assert cmp.flagged_mean > cmp.other_mean and cmp.ci_low > 0
    assert join.pearson.r > 0 and join.pearson.ci_low > 0
