"""Rotating good grade (好等次轮流坐庄): is 好 (or 一般) handed round in turns instead of following the work?

Follows ../shared/DETECTORS.md section 1, widened to where rotation hides in practice:

- subjects.py: what is tested. Every unit and every section (内设机构) of at least `rotation.min_people`
  people; per scope three queues: 好 as given ('top'), 好 without persistent holders (people given 好 in
  every quarter they were graded: a star leaves the rest rotating), and 一般/较差 among the people not
  given 好 that quarter ('bottom').
- statistic.py: R1 dispersion D, R2 repeat ratio RR and the test statistic D x RR, for every window
  (whole period, each two-year span, each year) from the same draws.
- simulate.py: the Monte Carlo engine: fixed-margin null with each person's actual presence, counter-based
  random streams per test, sequential (Besag-Clifford) p-values that stop early for unremarkable queues.
- table.py: every test in one table; Benjamini-Hochberg over all sufficient tests of all scopes, variants
  and windows together; status 'flag' / 'no evidence of rotation' / 'insufficient evidence'.
- flags.py: one flag per rotation (unit, 'top' | 'bottom'), its parts strongest first in `statistics`.
- evidence.py: the grid and histogram for the app.

Minimum evidence: `rotation.min_quarters` informative quarters (0 < k_t < n_t) in the window,
`rotation.min_people` people, and a smallest attainable p at or below `rotation.alpha` (Tarone: the others
stay out of the correction). Units that declare "no 好 two quarters running" (`rotation.no_consecutive_good_units`)
are tested on D alone against a null that obeys the rule. R3 (scores against 好) is left to the evidence view:
scores can be edited to agree with a rotated grade.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analytics.dataset import AssessmentData
from analytics.detectors.rotation.evidence import evidence
from analytics.detectors.rotation.flags import flags_from_table, sentences
from analytics.detectors.rotation.table import SCHEMA, STATUS_FLAG, STATUS_NONE, STATUS_THIN, assess, tests
from analytics.settings import Settings

__all__ = ["DETECTOR", "STATUS_FLAG", "STATUS_NONE", "STATUS_THIN", "evidence", "flags_from_table", "rotation_table"]


@dataclass(frozen=True)
class RotationDetector:
    kind: str = "rotation"
    name_zh: str = "好等次轮流坐庄"
    name_en: str = "Rotating good grade"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        """One flag per queue whose grades are more evenly spread and less repeated than chance allows."""
        return flags_from_table(assess(tests(data.quarterly, settings, seed), settings))


DETECTOR = RotationDetector()


def rotation_table(
    data: AssessmentData, settings: Settings, seed: int = 0, unit: str | None = None, sequential: bool = True
) -> pl.DataFrame:
    """Every tested scope, variant and window with its statistics, p- and q-values, status and sentences,
    strongest first. `unit` restricts to one unit (q-values then count that unit's tests only);
    `sequential=False` draws all `rotation.draws` for every test (the reference the sequential run is checked against)."""
    table = assess(tests(data.quarterly, settings, seed, sequential=sequential, unit=unit), settings)
    return (
        table.with_columns(*sentences())
        if table.height
        else table.with_columns(
            *(pl.lit(None, dtype=pl.Utf8).alias(c) for c in ("evidence_zh", "evidence_en", "caveat_zh", "caveat_en"))
        )
    )


__all__ += ["SCHEMA"]
