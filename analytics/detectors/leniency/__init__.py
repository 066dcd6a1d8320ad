"""Leniency (老好人) and inflated grades (DETECTORS.md section 2): the quota detector (L1) and the leniency detector (L3).

One module per concept:
- quota: kind 'quota', one flag per unit: 好 over the quarterly cap, 优秀 over the annual cap, and the unit's
  share of 好 against its lane (beta-binomial).
- within_unit: a reviewer against the unit's other people at equal score (Mantel-Haenszel over score fifths,
  the spread between reviewers in the standard error).
- sole: a unit's only reviewer (or a unit without reviewer names) by its 好 against the cap and its lane
  (the variance between the lane's units in the standard error), never by its score level.
- detector: kind 'leniency', one flag per reviewer and unit, on the fairest basis the data allow, with the
  caveat that goes with that basis (evidence: the sentences).
- views: the funnel plot and a reviewer's grade mix beside its lane, for the app.

`DETECTORS` (the quota detector) and `DETECTOR` (the leniency detector) are what the registry finds.
"""

from analytics.detectors.leniency.detector import LeniencyDetector
from analytics.detectors.leniency.quota import QuotaDetector
from analytics.detectors.leniency.views import funnel_data, reviewer_mix

DETECTOR = LeniencyDetector()
DETECTORS = [QuotaDetector()]

__all__ = ["DETECTOR", "DETECTORS", "LeniencyDetector", "QuotaDetector", "funnel_data", "reviewer_mix"]
