"""The overview's cached analytics, named once: pages/overview.py draws from them and the warm-up
(pages/_ui/warm.py) fills them for the whole store before the first visitor has logged in.

Both go through these functions, so the cache keys are the same by construction: the first overview
of a new server process then computes nothing (tests/test_app.py counts the misses). `where` is
(scope key, sidebar filters); None means the session's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from analytics import overview, person, rankings, unit_need
from analytics.dataset import AssessmentData
from pages._ui.cache import DATA, FULL, SETTINGS, VISIBLE, WHOLE, WHOLE_STORE, call, call_in
from pages._ui.flags import warm as warm_flags

MIX_QUARTERS = 8  # quarters in the grade mix and the need heatmap
WARNINGS = 6  # the strongest warnings listed


def _call(where: tuple | None, func: Callable, *args: Any, **kwargs: Any) -> Any:
    return call(func, *args, **kwargs) if where is None else call_in(*where, func, *args, **kwargs)


def headline(year: int, quarter: int, where: tuple | None = None) -> dict:
    return _call(where, overview.headline, DATA, SETTINGS, year, quarter)


def grade_mix(where: tuple | None = None) -> pl.DataFrame:
    return _call(where, overview.grade_mix, DATA, last=MIX_QUARTERS)


def need_cells(year: int, quarter: int, where: tuple | None = None) -> pl.DataFrame:
    return _call(where, unit_need.good_share_cells, DATA, SETTINGS, year, quarter, last=MIX_QUARTERS)


def ranked(year: int, quarter: int, where: tuple | None = None) -> pl.DataFrame:
    """Everyone's place in the whole lane (the lanes' top and bottom), narrowed to what the scope may see."""
    return _call(where, rankings.rank_people, WHOLE, SETTINGS, period=f"{year}Q{quarter}", visible=VISIBLE)


def strongest(flags: pl.DataFrame, where: tuple | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The strongest warnings and the few people they name (not everyone's directory)."""
    top = overview.strongest(flags, k=WARNINGS)
    named = tuple(sorted(set(top.filter(pl.col("subject_type") == "person")["subject"].to_list())))
    return top, _call(where, person.directory, FULL, among=named)


def warm(full: AssessmentData) -> None:
    """The whole store's first overview computed ahead: every unit and lane, the latest quarter (what the
    sidebar shows first), the flags with their reviews."""
    known = overview.periods(full)
    if not known:
        return
    year, quarter = overview.parse_period(known[-1])
    where = (WHOLE_STORE, ((), ()))
    flags = warm_flags(WHOLE_STORE)
    headline(year, quarter, where)
    grade_mix(where)
    need_cells(year, quarter, where)
    ranked(year, quarter, where)
    if flags is not None:
        strongest(flags, where)
