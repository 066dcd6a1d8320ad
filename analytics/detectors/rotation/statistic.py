"""The rotation statistics of ../shared/DETECTORS.md section 1, for every window of a queue at once.

For a window w (the whole period, each two-year span, each year), with E_it = 1 when person i could be
given the grade in quarter t and p_t = k_t / n_t:

- R1 dispersion D = sum_i (C_i - m_i)^2 / sum_i v_i, m_i = sum_t E_it p_t, v_i = sum_t E_it p_t (1 - p_t)
  (the presence-adjusted form of var_i(C_i) / mean sum_t p_t (1 - p_t); E[numerator] = denominator under H0).
- R2 repeat ratio RR = repeats / expected repeats, both over calendar-consecutive quarter pairs inside w.
- Test statistic T = (D + 0.1) x RR (D alone where no repeat is possible, or the unit declares a no-repeat rule).

Why a product: both have mean 1 under H0 and both fall to 0 under rotation. Fisher's combination of two
Monte Carlo p-values cannot be smaller than its resolution allows, so a queue whose only trace is "never twice
running" (RR = 0, D unremarkable) reached p ~ 0.009 and was lost in the correction; T is 0 exactly when nobody
repeats (the 0.1 keeps D = 0 from zeroing it), so its p-value is the chance that nobody repeats, which is known
exactly when the same people are eligible throughout the window: the overlaps of consecutive quarters are then
independent hypergeometrics, P(no repeat) = prod_t C(n - k_t+1, k_t) / C(n, k_t) (see no_repeat_chance).

Windows are sums of calendar years, so each draw's counts per year give every window's statistics: the
null draws of the whole period, cut to a window, are null draws of that window (quarters are independent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from analytics.detectors.rotation.subjects import Queues

D_OFFSET = 0.1  # T = (D + 0.1) x RR: zero exactly when nobody repeats


@dataclass(frozen=True)
class Windows:
    """The tested windows as unions of calendar years: years[w] = (first, last) year index, whole first."""

    years: tuple[tuple[int, int], ...]
    of_year: np.ndarray  # (W, Y) 1 where year y lies in window w
    of_cross: np.ndarray  # (W, Y - 1) 1 where the pair (Q4 of y, Q1 of y + 1) lies in window w

    @classmethod
    def for_years(cls, n_years: int) -> Windows:
        spans = [(0, n_years - 1)]
        if n_years >= 3:
            spans += [(y, y + 1) for y in range(n_years - 1)]
        if n_years >= 2:
            spans += [(y, y) for y in range(n_years)]
        of_year = np.array([[a <= y <= b for y in range(n_years)] for a, b in spans], dtype=np.float64)
        of_cross = np.array([[a <= y < b for y in range(n_years - 1)] for a, b in spans], dtype=np.float64)
        return cls(tuple(spans), of_year, of_cross.reshape(len(spans), max(n_years - 1, 0)))

    @property
    def count(self) -> int:
        return len(self.years)

    def quarter_mask(self) -> np.ndarray:
        """(W, T) True for the quarters of each window."""
        return np.repeat(self.of_year > 0, 4, axis=1)


def _by_year(x: np.ndarray) -> np.ndarray:
    """Sum the last (quarter) axis into calendar years."""
    return x.reshape(*x.shape[:-1], x.shape[-1] // 4, 4).sum(axis=-1)


@dataclass
class Expected:
    """What the null expects per test and window, and the descriptive counts of the real grades."""

    m: np.ndarray  # (N, P, W) expected count per person
    var: np.ndarray  # (N, W) sum of v_i
    repeats: np.ndarray  # (N, W) expected consecutive repeats
    informative: np.ndarray  # (N, W) quarters with 0 < k_t < n_t
    people: np.ndarray  # (N, W) people eligible at least once
    quarters: np.ndarray  # (N, W) quarters with anyone eligible
    cells: np.ndarray  # (N, W) eligible person-quarters
    chosen: np.ndarray  # (N, W) of them given the grade
    c_min: np.ndarray  # (N, W) fewest / most times given, over those present every quarter of the window
    c_max: np.ndarray
    full: np.ndarray  # (N, W) people present every quarter of the window
    never: np.ndarray  # (N, W) people present but never given it
    first: np.ndarray  # (N, W) first and last quarter (time index) with anyone eligible; -1 when none
    last: np.ndarray


def expected(q: Queues, windows: Windows) -> Expected:
    e, x = q.eligible, q.chosen
    n_t = e.sum(axis=1)
    k = x.sum(axis=1)
    p = np.divide(k, n_t, out=np.zeros(k.shape), where=n_t > 0)
    wy, wc = windows.of_year.T, windows.of_cross.T
    m = _by_year(e * p[:, None, :]) @ wy
    var = _by_year(n_t * p * (1 - p)) @ wy
    both = (e[:, :, :-1] & e[:, :, 1:]).sum(axis=1)
    pair = np.concatenate([both * p[:, :-1] * p[:, 1:], np.zeros((len(k), 1))], axis=1)
    pair = pair.reshape(len(k), -1, 4)
    reps = pair[:, :, :3].sum(axis=2) @ wy + pair[:, :-1, 3] @ wc
    informative = _by_year(((k > 0) & (k < n_t)).astype(np.int64)) @ wy
    present = _by_year(e.astype(np.int64)) @ wy  # (N, P, W)
    given = _by_year(x.astype(np.int64)) @ wy
    quarters = _by_year((n_t > 0).astype(np.int64)) @ wy  # (N, W)
    seen = present > 0
    full = seen & (present == quarters[:, None, :])
    pool = np.where(full.any(axis=1, keepdims=True), full, seen)
    big = np.iinfo(np.int64).max
    c_min = np.where(pool, given, big).min(axis=1)
    c_max = np.where(pool, given, -1).max(axis=1)
    mask = windows.quarter_mask()[None, :, :] & (n_t > 0)[:, None, :]  # (N, W, T)
    any_q = mask.any(axis=2)
    first = np.where(any_q, mask.argmax(axis=2), -1)
    last = np.where(any_q, mask.shape[2] - 1 - mask[:, :, ::-1].argmax(axis=2), -1)
    return Expected(
        m=m, var=var, repeats=reps, informative=informative.astype(np.int64), people=seen.sum(axis=1),
        quarters=quarters, cells=present.sum(axis=1), chosen=given.sum(axis=1), c_min=np.where(c_min == big, 0, c_min),
        c_max=np.maximum(c_max, 0), full=full.sum(axis=1), never=(seen & (given == 0)).sum(axis=1),
        first=first, last=last,
    )  # fmt: skip


class Tally:
    """Running sums over person slots of one batch of draws: sum (C_i - m_i)^2 per window, repeats per year."""

    def __init__(self, n: int, windows: Windows, draws: int, quarters: int):
        self.windows = windows
        self.dev = np.zeros((n, windows.count, draws))
        years = quarters // 4
        self.within = np.zeros((n, years, draws), dtype=np.int64)
        self.cross = np.zeros((n, years, draws), dtype=np.int64)
        self._pairs = np.zeros((n, quarters, draws), dtype=bool)
        self._wy = windows.of_year.astype(np.float32)

    def add(self, take: np.ndarray, m_slot: np.ndarray) -> None:
        """take: (a, T, B) the slot's grade in each quarter and draw, for the first a tests; m_slot: (a, W)."""
        a = take.shape[0]
        per_year = take.reshape(a, -1, 4, take.shape[2]).view(np.uint8).sum(axis=2, dtype=np.float32)  # (a, Y, B)
        counts = np.matmul(self._wy, per_year)  # (a, W, B)
        gap = counts - m_slot[:, :, None]
        self.dev[:a] += gap * gap
        pairs = self._pairs[:a]
        np.logical_and(take[:, :-1], take[:, 1:], out=pairs[:, :-1])
        by = pairs.reshape(a, -1, 4, take.shape[2]).view(np.uint8)
        self.within[:a] += by[:, :, :3].sum(axis=2, dtype=np.int64)
        self.cross[:a] += by[:, :, 3]

    def repeats(self) -> np.ndarray:
        """(n, W, B) consecutive repeats inside each window."""
        w = self.windows
        out = np.einsum("wy,nyb->nwb", w.of_year, self.within)
        if w.of_cross.shape[1]:
            out += np.einsum("wy,nyb->nwb", w.of_cross, self.cross[:, :-1])
        return out


def statistic(dev: np.ndarray, reps: np.ndarray, ex: Expected, use_repeats: np.ndarray) -> tuple:
    """(D, RR, T) for draws shaped (n, W, B); T rounded so the same configuration ties whatever the sum order."""
    var = ex.var[:, :, None]
    d = np.divide(dev, var, out=np.full(dev.shape, np.nan), where=var > 0)
    exp = ex.repeats[:, :, None]
    rr = np.divide(reps, exp, out=np.full(dev.shape, np.nan), where=exp > 0)
    with_rr = use_repeats[:, None, None] & (exp > 0)
    t = np.where(with_rr, (d + D_OFFSET) * np.nan_to_num(rr), d)
    return d, rr, np.round(t, 9)


def no_repeat_chance(q: Queues, windows: Windows) -> np.ndarray:
    """(N, W) P(nobody given the grade two quarters running) under H0, exact where the window's eligible people
    are the same every quarter; NaN elsewhere.

    With one eligible set of n people, given S_t+1 the overlap with S_t depends only on |S_t+1| = k_t+1, so
    the events 'S_t and S_t+1 disjoint' are independent, each of chance C(n - k_t+1, k_t) / C(n, k_t).
    """
    e = q.eligible
    k = q.chosen.sum(axis=1).astype(np.float64)
    n = e.sum(axis=1).astype(np.float64)
    same = (e[:, :, 1:] == e[:, :, :-1]).all(axis=1)  # (N, T - 1)
    k1, k2, m = k[:, :-1], k[:, 1:], n[:, :-1]
    room = m - k1 - k2
    log_h = np.where(
        room >= 0,
        gammaln(np.maximum(m - k2, 0) + 1) - gammaln(np.maximum(room, 0) + 1) - gammaln(m + 1)
        + gammaln(np.maximum(m - k1, 0) + 1),
        -np.inf,
    )  # fmt: skip
    quarter = windows.quarter_mask()
    pair = quarter[:, :-1] & quarter[:, 1:]  # (W, T - 1)
    log_p = np.where(pair[None], log_h[:, None, :], 0.0).sum(axis=2)
    constant = ~(pair[None] & ~same[:, None, :]).any(axis=2)
    return np.where(constant, np.exp(log_p), np.nan)
