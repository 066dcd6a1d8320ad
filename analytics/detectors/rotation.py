"""Rotating good grade (好等次轮流坐庄): is 好 handed round in turns instead of following the work?

Follows ../shared/DETECTORS.md section 1. A *subject* is a unit, or a section that has its own reviewer
(every reviewer who grades the section grades only that section) and at least `rotation.min_people` people.

Per subject, over all quarters present:

- R1 dispersion. C_i = number of 好 for person i. With every person present every quarter,
  D = var_i(C_i) / mean_i sum_t p_t (1 - p_t). We use the presence-adjusted form
  D = sum_i (C_i - m_i)^2 / sum_i v_i, with m_i = sum_t E_it p_t and v_i = sum_t E_it p_t (1 - p_t)
  (E_it = 1 when person i could be graded in quarter t); it equals the textbook form under full presence
  and keeps E[numerator] = denominator under H0 exactly. Rotation drives D towards 0.
- R2 repeat ratio. RR = observed 好 in two calendar-consecutive quarters / the number expected under H0
  (sum_t p_t p_t+1 over people eligible in both, = k_t k_t+1 / n with full presence). Rotation drives RR
  towards 0. Companion (descriptive): mean and spread of the waiting time between a person's 好.
- R3 merit decoupling, where scores exist: mean over quarters of AUC_t = P(o_i > o_j | i got 好, j did not).
  Reported and shown in the evidence only: scores can be edited to agree with a rotated grade.

Null H0 (fixed margins): in every quarter the k_t people with 好 are a uniformly random k_t-subset of the
people *eligible* that quarter, independently across quarters. Eligible means graded 好/较好/一般/较差;
a 不确定等次 row (probation, long leave, under investigation) is present but not eligible: that person could
not have received 好, so the draw excludes them, exactly as the unit had to.

p-values are lower-tail Monte Carlo, (1 + #{null <= observed}) / (B + 1), B = `rotation.draws`. R1 and R2
are combined by Fisher's F = -2 (ln p1 + ln p2), and F is calibrated against its own simulated null: the
observed value and the B draws are exchangeable under H0, each gets its rank p-values against the other B,
and the combined p is the observed F's rank among the B + 1 values of F. The textbook chi-square(4) cut-off
would over-flag because R1 and R2 are correlated; this calibration is exact.
Units that declare a "no 好 two quarters running" rule (`rotation.no_consecutive_good_units`) are tested on
R1 alone against a null that obeys the same rule (R2 is zero by construction there).

Minimum evidence: at least `rotation.min_quarters` informative quarters (0 < k_t < n_t), `rotation.min_people`
people, and a smallest attainable p-value (estimated from the null: the share of draws tied with the most
extreme one) at or below `rotation.alpha`. Other subjects are 'insufficient evidence' and, as in Tarone's
method for discrete tests, are left out of the Benjamini-Hochberg correction. A flag needs q <= alpha.

The simulation is vectorised across subjects and draws: subjects are sorted by size and processed in
chunks; inside a chunk a sequential-sampling pass over person slots draws every (subject, quarter, draw)
subset at once (include slot j with probability remaining_k / remaining_eligible, from 16-bit uniforms:
each inclusion probability is within 1/65536 of exact). Chunks run on a small thread pool. Each subject has its
own random stream, seeded from (seed, subject), so its p-value does not depend on what else is in the data.

Public: DETECTOR (kind 'rotation'), rotation_table(data, settings, seed) (every subject with statistics,
p/q-values and status 'flag' / 'no evidence of rotation' / 'insufficient evidence'), evidence(data, unit,
section) (grid, C_i histogram against H0, statistics) for the app.
"""

from __future__ import annotations

import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.dataset import AssessmentData
from analytics.detectors.base import empty_flags, finish_flags
from analytics.settings import Settings
from analytics.stats import bh_qvalues
from analytics.vocab import AVERAGE, FAIRLY_GOOD, GOOD, POOR

GRADED = (GOOD, FAIRLY_GOOD, AVERAGE, POOR)
KEY = ["subject_type", "unit", "subject"]
STATUS_FLAG, STATUS_NONE, STATUS_THIN = "flag", "no evidence of rotation", "insufficient evidence"
CELLS_PER_CHUNK = 250_000  # (subjects x quarters x draws) per chunk: working arrays stay near the L2 cache
D_RESOLUTION = 1e6  # D is compared at 1e-6: the same configuration summed in another order must tie
KEY_SPAN = 1 << 36  # integer keys of D stay below this (D < 68,000)


@dataclass(frozen=True)
class RotationDetector:
    kind: str = "rotation"
    name_zh: str = "好等次轮流坐庄"
    name_en: str = "Rotating good grade"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        """Flags for subjects whose 好 is more evenly spread and less repeated than chance allows."""
        return flags_from_table(rotation_table(data, settings, seed))


DETECTOR = RotationDetector()


# ----------------------------------------------------------------------------------------------------------
# Cells: one row per subject, person and quarter
# ----------------------------------------------------------------------------------------------------------


def _base(quarterly: pl.DataFrame) -> pl.DataFrame:
    """The columns the test needs, with the calendar period index and eligibility."""
    cols = ["person_id", "name", "unit", "section", "reviewer", "lane", "year", "quarter", "grade", "score"]
    q = quarterly.select([pl.col(c) if c in quarterly.columns else pl.lit(None).alias(c) for c in cols])
    return q.filter(
        pl.col("unit").is_not_null()
        & pl.col("person_id").is_not_null()
        & pl.col("year").is_not_null()
        & pl.col("quarter").is_not_null()
    ).with_columns(
        (pl.col("year").cast(pl.Int64) * 4 + pl.col("quarter").cast(pl.Int64) - 1).alias("period"),
        pl.col("grade").is_in(GRADED).fill_null(False).alias("eligible"),
        (pl.col("grade") == GOOD).fill_null(False).alias("good"),
        pl.col("score").cast(pl.Float64),
        pl.col("section").cast(pl.Utf8),
        pl.col("reviewer").cast(pl.Utf8),
    )


def own_reviewer_sections(quarterly: pl.DataFrame, min_people: int) -> pl.DataFrame:
    """(unit, section) pairs graded by reviewers who grade no other section, with >= min_people people.

    A section that is the whole unit adds nothing to the unit's own test and is left out.
    """
    q = _base(quarterly)
    graded = q.filter(pl.col("section").is_not_null() & pl.col("reviewer").is_not_null())
    reach = graded.group_by("unit", "reviewer").agg(pl.col("section").n_unique().alias("sections_of_reviewer"))
    sections = (
        graded.join(reach, on=["unit", "reviewer"])
        .group_by("unit", "section")
        .agg(
            (pl.col("sections_of_reviewer") == 1).all().alias("own_reviewer"),
            pl.col("person_id").n_unique().alias("people"),
        )
    )
    unit_people = q.group_by("unit").agg(pl.col("person_id").n_unique().alias("unit_people"))
    return (
        sections.join(unit_people, on="unit")
        .filter(pl.col("own_reviewer") & (pl.col("people") >= min_people) & (pl.col("people") < pl.col("unit_people")))
        .select("unit", "section")
    )


def _collapse(rows: pl.DataFrame) -> pl.DataFrame:
    """One cell per subject, person and period (a duplicated row counts once)."""
    keys = [*KEY, "person_id", "period"]
    if rows.select(pl.struct(keys).is_unique().all()).item():
        # The usual case, one row per cell already: the same columns without a costly group-by.
        return rows.select(
            *keys, "name", "lane", "grade", "eligible", (pl.col("good") & pl.col("eligible")).alias("good"), "score"
        )
    return rows.group_by(keys).agg(
        pl.col("name").first(),
        pl.col("lane").first(),
        pl.col("grade").get(pl.col("good").arg_max()),
        pl.col("eligible").any(),
        (pl.col("good") & pl.col("eligible")).any().alias("good"),
        pl.col("score").mean(),
    )


def subject_cells(quarterly: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Cells of every subject: each unit, and each section with its own reviewer."""
    q = _base(quarterly)
    units = q.with_columns(pl.lit("unit").alias("subject_type"), pl.col("unit").alias("subject"))
    sections = own_reviewer_sections(quarterly, settings.rotation.min_people)
    own = q.join(sections, on=["unit", "section"], how="semi").with_columns(
        pl.lit("section").alias("subject_type"), pl.col("section").alias("subject")
    )
    return _collapse(pl.concat([units, own], how="vertical"))


def _cells_of(data: AssessmentData, unit: str, section: str | None) -> pl.DataFrame:
    q = _base(data.quarterly).filter(pl.col("unit") == unit)
    if section is None:
        q = q.with_columns(pl.lit("unit").alias("subject_type"), pl.col("unit").alias("subject"))
    else:
        q = q.filter(pl.col("section") == section).with_columns(
            pl.lit("section").alias("subject_type"), pl.col("section").alias("subject")
        )
    return _collapse(q)


# ----------------------------------------------------------------------------------------------------------
# Observed statistics that need no simulation (polars)
# ----------------------------------------------------------------------------------------------------------


def _quarters(cells: pl.DataFrame) -> pl.DataFrame:
    """k_t, n_t and p_t per subject and period (eligible people only)."""
    return (
        cells.filter(pl.col("eligible"))
        .group_by([*KEY, "period"])
        .agg(pl.col("good").sum().alias("k"), pl.len().alias("n"))
        .with_columns((pl.col("k") / pl.col("n")).alias("p"))
    )


def _summary(cells: pl.DataFrame, quarters: pl.DataFrame) -> pl.DataFrame:
    """Per subject: sizes, span, lane, the range of 好 counts and the descriptive companions."""
    per_quarter = quarters.group_by(KEY).agg(
        pl.len().alias("n_quarters"),
        ((pl.col("k") > 0) & (pl.col("k") < pl.col("n"))).sum().alias("informative_quarters"),
        pl.col("period").min().alias("first_period"),
        pl.col("period").max().alias("last_period"),
        pl.col("n").sum().alias("n_cells"),
        pl.col("k").sum().alias("n_good"),
    )
    eligible = cells.filter(pl.col("eligible"))
    per_person = eligible.group_by([*KEY, "person_id"]).agg(pl.col("good").sum().alias("c"), pl.len().alias("present"))
    people = (
        per_person.join(per_quarter.select([*KEY, "n_quarters"]), on=KEY)
        .with_columns((pl.col("present") == pl.col("n_quarters")).alias("full"))
        .group_by(KEY)
        .agg(
            pl.len().alias("n_people"),
            pl.col("full").sum().alias("n_full"),
            pl.when(pl.col("full").any())
            .then(pl.col("c").filter(pl.col("full")).min())
            .otherwise(pl.col("c").min())
            .alias("c_min"),
            pl.when(pl.col("full").any())
            .then(pl.col("c").filter(pl.col("full")).max())
            .otherwise(pl.col("c").max())
            .alias("c_max"),
            (pl.col("c") == 0).sum().alias("never_good"),
        )
    )
    lane = (
        cells.group_by([*KEY, "lane"])
        .len()
        .group_by(KEY)
        .agg(pl.col("lane").sort_by(["len", "lane"], descending=[True, False]).first())
    )
    return (
        per_quarter.join(people, on=KEY)
        .join(lane, on=KEY, how="left")
        .join(_waits(cells), on=KEY, how="left")
        .join(_auc(cells), on=KEY, how="left")
    )


def _waits(cells: pl.DataFrame) -> pl.DataFrame:
    """Mean and standard deviation of the quarters between a person's successive 好."""
    gaps = (
        cells.filter(pl.col("good"))
        .group_by([*KEY, "person_id"])
        .agg(pl.col("period").sort().diff().drop_nulls().alias("gap"))
        .explode("gap", empty_as_null=True)
        .filter(pl.col("gap").is_not_null())
    )
    # Sorted before summing: the row order of a group-by varies, and float sums must not.
    return gaps.group_by(KEY).agg(
        pl.col("gap").sort().mean().alias("wait_mean"), pl.col("gap").sort().std().alias("wait_sd")
    )


def _auc(cells: pl.DataFrame) -> pl.DataFrame:
    """R3: mean over quarters of P(score of a 好 > score of a non-好), from rank sums (ties count half)."""
    scored = cells.filter(pl.col("eligible") & pl.col("score").is_not_null()).with_columns(
        pl.col("score").rank("average").over([*KEY, "period"]).alias("r")
    )
    per_quarter = (
        scored.group_by([*KEY, "period"])
        .agg(pl.len().alias("n"), pl.col("good").sum().alias("k"), pl.col("r").filter(pl.col("good")).sum().alias("rs"))
        .filter((pl.col("k") > 0) & (pl.col("k") < pl.col("n")))
        .with_columns(
            ((pl.col("rs") - pl.col("k") * (pl.col("k") + 1) / 2) / (pl.col("k") * (pl.col("n") - pl.col("k")))).alias(
                "auc"
            )
        )
    )
    return per_quarter.group_by(KEY).agg(pl.col("auc").sort().mean().alias("auc"), pl.len().alias("auc_quarters"))


# ----------------------------------------------------------------------------------------------------------
# Dense arrays and the Monte Carlo null (numpy)
# ----------------------------------------------------------------------------------------------------------


@dataclass
class _Cells:
    """Eligible cells of every subject as numpy arrays, sorted by subject row, with each row's slice."""

    row: np.ndarray
    person: np.ndarray  # 0-based person slot within the subject
    time: np.ndarray  # quarters since the subject's first period
    good: np.ndarray
    offsets: np.ndarray  # cells of subject row r are [offsets[r], offsets[r + 1])


def _index_cells(cells: pl.DataFrame, subjects: pl.DataFrame) -> _Cells:
    c = (
        cells.filter(pl.col("eligible"))
        .join(subjects.select([*KEY, "row", "first_period"]), on=KEY)
        .select(
            "row",
            (pl.col("person_id").rank("dense").over("row") - 1).cast(pl.Int64).alias("person"),
            (pl.col("period") - pl.col("first_period")).alias("time"),
            "good",
        )
        .sort("row")
    )
    row = c["row"].to_numpy()
    offsets = np.searchsorted(row, np.arange(subjects.height + 1))
    return _Cells(row, c["person"].to_numpy(), c["time"].to_numpy(), c["good"].to_numpy(), offsets)


@dataclass
class _Dense:
    """One chunk of subjects as dense arrays: E, X (subjects x people x quarters), k (subjects x quarters)."""

    rows: np.ndarray  # subject row numbers in the summary table
    n_people: np.ndarray
    spans: np.ndarray  # quarters from the subject's first to its last period
    eligible: np.ndarray
    good: np.ndarray
    k: np.ndarray


def _dense(idx: _Cells, rows: np.ndarray, n_people: np.ndarray, spans: np.ndarray) -> _Dense:
    """Dense arrays for the subjects at `rows`."""
    starts, lengths = idx.offsets[rows], idx.offsets[rows + 1] - idx.offsets[rows]
    slot = np.repeat(np.arange(len(rows)), lengths)
    pick = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    shape = (len(rows), int(n_people[rows].max()), int(spans[rows].max()))
    eligible = np.zeros(shape, dtype=bool)
    good = np.zeros(shape, dtype=bool)
    eligible[slot, idx.person[pick], idx.time[pick]] = True
    good[slot, idx.person[pick], idx.time[pick]] = idx.good[pick]
    return _Dense(rows, n_people[rows], spans[rows], eligible, good, good.sum(axis=1))


def _expectations(d: _Dense) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m_i = sum_t E_it p_t (expected 好 per person), V = sum v_i, and the expected consecutive repeats."""
    n_t = d.eligible.sum(axis=1)
    p = np.divide(d.k, n_t, out=np.zeros(d.k.shape), where=n_t > 0)
    m = d.eligible * p[:, None, :]
    var = (m * (1 - p[:, None, :])).sum(axis=(1, 2))
    both = (d.eligible[:, :, :-1] & d.eligible[:, :, 1:]).sum(axis=1)
    expected_repeats = (both * p[:, :-1] * p[:, 1:]).sum(axis=1)
    return m.sum(axis=2), var, expected_repeats


def _generators(keys: list[str], seed: int) -> list[np.random.Generator]:
    """One random stream per subject, so its null does not depend on the other subjects in the data."""
    ids = [int.from_bytes(hashlib.sha1(k.encode()).digest()[:8], "little") for k in keys]
    return [np.random.default_rng([seed & 0xFFFFFFFF, i]) for i in ids]


def _simulate_free(d: _Dense, gens: list[np.random.Generator], draws: int, m: np.ndarray):
    """Null draws of sum (C_i - m_i)^2 and of consecutive repeats, for subjects sorted by size (largest first).

    Sequential sampling over person slots: slot j is included with probability (k still to give) /
    (eligible slots left), which yields exactly k_t people with 好 for every (subject, quarter, draw) and a
    uniformly random subset. The uniform variates are 16-bit integers (four per 64-bit word of the generator,
    four times cheaper than floats); an inclusion probability is then off by less than 1/65536.
    """
    subjects, people, span = d.eligible.shape
    left = np.flip(np.cumsum(np.flip(d.eligible, axis=1), axis=1), axis=1)  # eligible slots from j on
    scale = np.divide(65536.0, left, out=np.zeros(left.shape), where=d.eligible).astype(np.float32)[..., None]
    to_give = np.repeat(d.k.astype(np.float32)[:, :, None], draws, axis=2)
    words = -(-span * draws // 4)
    # Each subject draws for its own quarters only, so its stream (and p-value) ignores the rest of the chunk.
    # All its words for the chunk come in one call: the same stream as one call per person slot.
    own_words = (-(-d.spans * draws // 4)).tolist()
    raw = np.empty((subjects, people, words), dtype=np.uint64)  # unset words meet a zero threshold: never taken
    for s in range(subjects):
        n, w = int(d.n_people[s]), own_words[s]
        raw[s, :n, :w] = gens[s].bit_generator.random_raw(n * w).reshape(n, w)
    u16_all = raw.view(np.uint16)[:, :, : span * draws].reshape(subjects, people, span, draws)
    threshold = np.empty((subjects, span, draws), dtype=np.float32)
    take = np.empty((subjects, span, draws), dtype=bool)
    took = take.view(np.uint8)
    pairs = np.empty((subjects, max(span - 1, 0), draws), dtype=np.uint8)
    count_type = np.uint8 if span < 256 else np.int32
    counts = np.empty((subjects, draws), dtype=count_type)
    both = np.empty((subjects, draws), dtype=count_type)
    dev = np.zeros((subjects, draws))
    repeats = np.zeros((subjects, draws), dtype=np.int64)
    for j in range(people):
        a = int((d.n_people > j).sum())  # subjects are sorted by size: the first `a` still have a slot j
        np.multiply(to_give[:a], scale[:a, j], out=threshold[:a])
        np.less(u16_all[:a, j], threshold[:a], out=take[:a])
        np.subtract(to_give[:a], take[:a], out=to_give[:a])
        np.sum(took[:a], axis=1, dtype=count_type, out=counts[:a])
        gap = counts[:a] - m[:a, j, None]
        dev[:a] += gap * gap
        if span > 1:  # 好 in two calendar-consecutive quarters, all quarter pairs at once
            np.bitwise_and(took[:a, :-1], took[:a, 1:], out=pairs[:a])
            np.sum(pairs[:a], axis=1, dtype=count_type, out=both[:a])
            repeats[:a] += both[:a]
    return dev, repeats


def _simulate_no_consecutive(d: _Dense, gens: list[np.random.Generator], draws: int, m: np.ndarray) -> np.ndarray:
    """Null draws of sum (C_i - m_i)^2 under a declared rule: nobody gets 好 two calendar quarters running.

    Each quarter's 好 is a random k_t-subset of the eligible people who did not get 好 the quarter before
    (of all eligible people where too few remain, as the rule cannot then be kept). One subject at a time;
    such units are few.
    """
    out = np.zeros((len(d.rows), draws))
    for s in range(len(d.rows)):
        n = int(d.n_people[s])
        elig, k = d.eligible[s, :n], d.k[s]
        u = gens[s].random((elig.shape[1], n, draws))
        prev = np.zeros((n, draws), dtype=bool)
        counts = np.zeros((n, draws), dtype=np.int64)
        for t in range(elig.shape[1]):
            cand = elig[:, t, None] & ~prev
            short = cand.sum(axis=0) < k[t]
            cand[:, short] = elig[:, t, None]
            left = np.flip(np.cumsum(np.flip(cand, axis=0), axis=0), axis=0)
            to_give = np.full(draws, k[t], dtype=np.int64)
            now = np.zeros((n, draws), dtype=bool)
            for j in range(n):
                now[j] = cand[j] & (u[t, j] * left[j] < to_give)
                to_give -= now[j]
            counts += now
            prev = now
        gap = counts - m[s, :n, None]
        out[s] = (gap * gap).sum(axis=0)
    return out


def _observed(d: _Dense, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum (C_i - m_i)^2 and consecutive repeats of the real grades."""
    gap = d.good.sum(axis=2) - m
    repeats = (d.good[:, :, :-1] & d.good[:, :, 1:]).sum(axis=(1, 2))
    return (gap * gap).sum(axis=1), repeats


def _d_key(dev: np.ndarray, var: np.ndarray) -> np.ndarray:
    """D as an integer key (D rounded to 1e-6): the same configuration summed in another order must tie."""
    return np.clip(np.rint(dev / var * D_RESOLUTION), 0, KEY_SPAN - 1).astype(np.int64)


def _at_most(values: np.ndarray) -> np.ndarray:
    """For every entry of a 2-D integer array, how many entries of its row are <= it (ties count in)."""
    rows, width = values.shape
    order = np.argsort(values, axis=1)
    ordered = np.take_along_axis(values, order, axis=1)
    # In sorted order, an entry's count is one past the last position holding the same value.
    run_end = np.empty((rows, width), dtype=bool)
    run_end[:, -1] = True
    np.not_equal(ordered[:, 1:], ordered[:, :-1], out=run_end[:, :-1])
    ends = np.where(run_end, np.arange(1, width + 1, dtype=np.int64), width)
    counts = np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1]
    out = np.empty((rows, width), dtype=np.int64)
    np.put_along_axis(out, order, counts, axis=1)
    return out


def _p_values(obs1: np.ndarray, null1: np.ndarray, obs2: np.ndarray | None, null2: np.ndarray | None) -> dict:
    """Lower-tail p for R1 (and R2), Fisher's F calibrated on its own null, and the smallest attainable p.

    The observed value and the B null draws are exchangeable under H0. Each of the B + 1 gets its p-values
    against the other B, (1 + #{others <= it}) / (B + 1), and its F = -2 (ln p1 + ln p2); the combined
    p-value is the share of the B + 1 values of F at least as large as the observed one. So F's null carries
    the correlation of R1 and R2, and the test is exact.
    """
    draws = null1.shape[1]
    out = {"p_dispersion": (1 + (null1 <= obs1[:, None]).sum(axis=1)) / (draws + 1)}
    if null2 is None:
        out["p_value"] = out["p_dispersion"]
        lowest = null1.min(axis=1)
        out["p_min"] = (1 + (null1 <= lowest[:, None]).sum(axis=1)) / (draws + 1)
        return out
    out["p_repeat"] = (1 + (null2 <= obs2[:, None]).sum(axis=1)) / (draws + 1)
    p1 = _at_most(np.column_stack([obs1, null1])) / (draws + 1)  # column 0 is the observed
    p2 = _at_most(np.column_stack([obs2, null2])) / (draws + 1)
    f = np.round(-2 * (np.log(p1) + np.log(p2)), 9)
    out["p_value"] = (f >= f[:, :1]).sum(axis=1) / (draws + 1)
    top = f[:, 1:].max(axis=1)
    out["p_min"] = (1 + (f[:, 1:] >= top[:, None]).sum(axis=1)) / (draws + 1)
    return out


def _chunks(order: np.ndarray, spans: np.ndarray, draws: int) -> list[np.ndarray]:
    """Consecutive runs of subjects (already sorted by size) whose simulation fits the memory budget."""
    per_subject = np.maximum(spans, 1) * draws
    chunks, start, used = [], 0, 0
    for pos, cost in enumerate(per_subject[order]):
        if pos > start and used + cost > CELLS_PER_CHUNK:
            chunks.append(order[start:pos])
            start, used = pos, 0
        used += cost
    if start < len(order):
        chunks.append(order[start:])
    return chunks


RESULTS = ("D", "RR", "repeats", "expected_repeats", "p_dispersion", "p_repeat", "p_value", "p_min")


def _simulate(cells: pl.DataFrame, subjects: pl.DataFrame, settings: Settings, seed: int) -> dict[str, np.ndarray]:
    """Observed statistics and Monte Carlo p-values for every subject row marked `simulate` (others NaN)."""
    draws = max(int(settings.rotation.draws), 2)
    res = {name: np.full(subjects.height, np.nan) for name in RESULTS}
    todo = np.flatnonzero(subjects["simulate"].to_numpy())
    if len(todo) == 0:
        return res
    idx = _index_cells(cells, subjects)
    people = subjects["n_people"].to_numpy()
    spans = (subjects["last_period"] - subjects["first_period"]).to_numpy() + 1
    rule = subjects["no_consecutive_rule"].to_numpy()
    keys = subjects.select(pl.concat_str(KEY, separator="\x1f")).to_series().to_list()

    def run(chunk: np.ndarray, constrained: bool) -> None:
        d = _dense(idx, chunk, people, spans)
        m, var, expected = _expectations(d)
        gens = _generators([keys[r] for r in chunk], seed)
        obs_dev, obs_rep = _observed(d, m)
        informative = var > 0
        chunk, d_obs = chunk[informative], _d_key(obs_dev[informative], var[informative])
        res["D"][chunk] = d_obs / D_RESOLUTION
        res["repeats"][chunk] = obs_rep[informative]
        res["expected_repeats"][chunk] = expected[informative]
        if constrained:
            null = _simulate_no_consecutive(d, gens, draws, m)[informative]
            for name, values in _p_values(d_obs, _d_key(null, var[informative, None]), None, None).items():
                res[name][chunk] = values
            return
        dev, rep = _simulate_free(d, gens, draws, m)
        d_null = _d_key(dev[informative], var[informative, None])
        expected, rep, obs_rep = expected[informative], rep[informative], obs_rep[informative]
        both = expected > 0  # R2 needs some chance of a repeat under H0
        res["RR"][chunk[both]] = obs_rep[both] / expected[both]
        for name, values in _p_values(d_obs[both], d_null[both], obs_rep[both], rep[both]).items():
            res[name][chunk[both]] = values
        for name, values in _p_values(d_obs[~both], d_null[~both], None, None).items():
            res[name][chunk[~both]] = values

    free = todo[~rule[todo]]
    free = free[np.lexsort((-spans[free], -people[free]))]
    jobs = [(c, False) for c in _chunks(free, spans, draws)]
    jobs += [(np.array([r]), True) for r in todo[rule[todo]]]
    workers = max(1, min(len(jobs), os.cpu_count() or 1, 4))
    if workers == 1:
        for chunk, constrained in jobs:
            run(chunk, constrained)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:  # numpy releases the GIL in the heavy loops
            list(pool.map(lambda job: run(*job), jobs))
    return res


# ----------------------------------------------------------------------------------------------------------
# The table the app shows, and the flags
# ----------------------------------------------------------------------------------------------------------


def _table_schema() -> dict[str, pl.DataType]:
    return {
        "subject_type": pl.Utf8, "subject": pl.Utf8, "unit": pl.Utf8, "lane": pl.Utf8,
        "period_from": pl.Utf8, "period_to": pl.Utf8, "n_people": pl.Int64, "n_quarters": pl.Int64,
        "n_cells": pl.Int64, "n_good": pl.Int64, "c_min": pl.Int64, "c_max": pl.Int64, "never_good": pl.Int64,
        "D": pl.Float64, "RR": pl.Float64, "repeats": pl.Float64, "expected_repeats": pl.Float64,
        "wait_mean": pl.Float64, "wait_sd": pl.Float64, "auc": pl.Float64,
        "p_dispersion": pl.Float64, "p_repeat": pl.Float64, "p_value": pl.Float64, "p_min": pl.Float64,
        "q_value": pl.Float64, "status": pl.Utf8, "reason": pl.Utf8, "severity": pl.Float64,
        "no_consecutive_rule": pl.Boolean, "evidence_zh": pl.Utf8, "evidence_en": pl.Utf8,
        "caveat_zh": pl.Utf8, "caveat_en": pl.Utf8,
    }  # fmt: skip


def _period_label(col: str) -> pl.Expr:
    return pl.format("{}Q{}", pl.col(col) // 4, pl.col(col) % 4 + 1)


def assess_subjects(cells: pl.DataFrame, settings: Settings, seed: int = 0) -> pl.DataFrame:
    """Run the rotation test on prepared cells (see subject_cells); one row per subject, strongest first."""
    cfg = settings.rotation
    if cells.filter(pl.col("eligible")).height == 0:
        return pl.DataFrame(schema=_table_schema())
    rule_units = list(cfg.no_consecutive_good_units)
    subjects = (
        _summary(cells, _quarters(cells))
        .with_columns(
            pl.col("unit").is_in(rule_units).alias("no_consecutive_rule"),
            ((pl.col("informative_quarters") >= cfg.min_quarters) & (pl.col("n_people") >= cfg.min_people)).alias(
                "simulate"
            ),
        )
        .sort(KEY)
    )
    sim = _simulate(cells, subjects.with_row_index("row"), settings, seed)
    sufficient = subjects["simulate"].to_numpy() & (sim["p_min"] <= cfg.alpha)
    q = bh_qvalues(np.where(sufficient, sim["p_value"], np.nan))
    subjects = subjects.with_columns(
        *(pl.Series(name, values).fill_nan(None) for name, values in sim.items()),
        pl.Series("q_value", q).fill_nan(None),
        pl.Series("sufficient", sufficient),
    )
    return _describe(subjects, cfg)


def _describe(subjects: pl.DataFrame, cfg) -> pl.DataFrame:
    """Status, severity, and the sentences a person reads."""
    alpha = cfg.alpha
    status = (
        pl.when(~pl.col("sufficient"))
        .then(pl.lit(STATUS_THIN))
        .when(pl.col("q_value") <= alpha)
        .then(pl.lit(STATUS_FLAG))
        .otherwise(pl.lit(STATUS_NONE))
    )
    reason = (
        pl.when(pl.col("informative_quarters") < cfg.min_quarters)
        .then(pl.format("only {} quarters with a choice to make", pl.col("informative_quarters")))
        .when(pl.col("n_people") < cfg.min_people)
        .then(pl.format("only {} people", pl.col("n_people")))
        .when(~pl.col("sufficient"))
        .then(pl.format("smallest attainable p = {} > {}", pl.col("p_min").round(3), pl.lit(alpha)))
    )
    strength = (-pl.col("q_value").clip(1e-4, 1).log10() / 3).clip(0, 1)
    evenness = (1 - pl.col("D")).clip(0, 1)
    severity = pl.when(pl.col("status") == STATUS_FLAG).then(0.5 * strength + 0.5 * evenness).otherwise(0.0)
    out = subjects.with_columns(
        status.alias("status"),
        _period_label("first_period").alias("period_from"),
        _period_label("last_period").alias("period_to"),
    )
    out = out.with_columns(reason.alias("reason"), severity.fill_null(0.0).alias("severity"), *_sentences())
    return (
        out.select(list(_table_schema()))
        .cast(_table_schema())
        .sort(
            ["severity", "q_value", "p_value", *KEY],
            descending=[True, False, False, False, False, False],
            nulls_last=True,
        )
    )


def _p_text(col: str) -> pl.Expr:
    return pl.when(pl.col(col) < 0.001).then(pl.lit("< 0.001")).otherwise(pl.format("= {}", pl.col(col).round(3)))


def _sentences() -> list[pl.Expr]:
    counts_zh = (
        pl.when(pl.col("c_min") == pl.col("c_max"))
        .then(pl.format("恰好 {} 次", pl.col("c_min")))
        .otherwise(pl.format("{}-{} 次", pl.col("c_min"), pl.col("c_max")))
    )
    counts_en = (
        pl.when(pl.col("c_min") == pl.col("c_max"))
        .then(pl.format("exactly {} times", pl.col("c_min")))
        .otherwise(pl.format("{}-{} times", pl.col("c_min"), pl.col("c_max")))
    )
    full = pl.col("n_full") == pl.col("n_people")
    nobody_full = pl.col("n_full") == 0  # then the range is over everyone, whatever their presence
    who_zh = (
        pl.when(full)
        .then(pl.lit("每人"))
        .when(nobody_full)
        .then(pl.lit("各人"))
        .otherwise(pl.format("全程在岗的 {} 人每人", pl.col("n_full")))
    )
    who_en = (
        pl.when(full)
        .then(pl.lit("each"))
        .when(nobody_full)
        .then(pl.lit("people"))
        .otherwise(pl.format("the {} present throughout each", pl.col("n_full")))
    )
    rule = pl.col("no_consecutive_rule")
    repeats_zh = (
        pl.when(rule | pl.col("RR").is_null())
        .then(pl.lit(""))
        .otherwise(
            pl.format(
                "；连续两季度获'好' {} 人次（随机分配预期 {}）",
                pl.col("repeats").cast(pl.Int64),
                pl.col("expected_repeats").round(1),
            )
        )
    )
    repeats_en = (
        pl.when(rule | pl.col("RR").is_null())
        .then(pl.lit(""))
        .otherwise(
            pl.format(
                "; 好 in two consecutive quarters {} times (expected {} under random allocation)",
                pl.col("repeats").cast(pl.Int64),
                pl.col("expected_repeats").round(1),
            )
        )
    )
    auc_zh = (
        pl.when(pl.col("auc").is_null())
        .then(pl.lit(""))
        .otherwise(pl.format("；评分与'好'的一致度 AUC {}（0.5 为无关）", pl.col("auc").round(2)))
    )
    auc_en = (
        pl.when(pl.col("auc").is_null())
        .then(pl.lit(""))
        .otherwise(pl.format("; scores agree with 好 at AUC {} (0.5 = unrelated)", pl.col("auc").round(2)))
    )
    chance_zh = (
        pl.when(pl.col("p_value").is_null())
        .then(pl.lit("；证据不足，未作检验"))
        .otherwise(
            pl.format(
                "；随机分配下如此均匀的概率 {}（q {}）",
                _p_text("p_value"),
                pl.when(pl.col("q_value").is_null()).then(pl.lit("未计")).otherwise(_p_text("q_value")),
            )
        )
    )
    chance_en = (
        pl.when(pl.col("p_value").is_null())
        .then(pl.lit("; too little evidence to test"))
        .otherwise(
            pl.format(
                "; chance of so even a spread under random allocation p {} (q {})",
                _p_text("p_value"),
                pl.when(pl.col("q_value").is_null()).then(pl.lit("n/a")).otherwise(_p_text("q_value")),
            )
        )
    )
    zh = pl.concat_str(
        [
            pl.format("{} 人 {} 个季度，{}获'好' ", pl.col("n_people"), pl.col("n_quarters"), who_zh),
            counts_zh,
            repeats_zh,
            auc_zh,
            chance_zh,
            pl.lit("。"),
        ]
    )
    en = pl.concat_str(
        [
            pl.format("{} people over {} quarters: {} got 好 ", pl.col("n_people"), pl.col("n_quarters"), who_en),
            counts_en,
            repeats_en,
            auc_en,
            chance_en,
            pl.lit("."),
        ]
    )
    caveat_zh = pl.concat_str(
        [
            pl.when(rule).then(
                pl.lit("本单位声明'不得连续两季度评好'：只用离散度检验，对照同一规则下的随机分配，不用重复率。")
            ),
            pl.when(pl.col("subject_type") == "section").then(pl.lit("科室有独立评鉴人，按科室单独检验。")),
            pl.when(pl.col("auc") > 0.8).then(pl.lit("评分与等次一致，但评分可能被调整以配合等次，不能据此排除轮流。")),
        ],
        ignore_nulls=True,
    )
    caveat_en = pl.concat_str(
        [
            pl.when(rule).then(
                pl.lit(
                    "The unit declares 'no 好 two quarters running': tested on dispersion alone, "
                    "against random allocation under the same rule; the repeat ratio is not used. "
                )
            ),
            pl.when(pl.col("subject_type") == "section").then(
                pl.lit("The section has its own reviewer and is tested on its own. ")
            ),
            pl.when(pl.col("auc") > 0.8).then(
                pl.lit(
                    "Scores agree with the grades, but scores can be edited to fit a "
                    "rotated grade, so this does not rule rotation out."
                )
            ),
        ],
        ignore_nulls=True,
    )
    return [
        zh.alias("evidence_zh"), en.alias("evidence_en"),
        pl.when(caveat_zh.str.len_chars() > 0).then(caveat_zh).alias("caveat_zh"),
        pl.when(caveat_en.str.len_chars() > 0).then(caveat_en.str.strip_chars()).alias("caveat_en"),
    ]  # fmt: skip


def rotation_table(data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
    """Every tested subject with its statistics, p- and q-values and status
    ('flag' / 'no evidence of rotation' / 'insufficient evidence'), strongest first."""
    return assess_subjects(subject_cells(data.quarterly, settings), settings, seed)


def flags_from_table(table: pl.DataFrame) -> pl.DataFrame:
    """The 'flag' rows of a rotation table as FLAG_SCHEMA rows."""
    flagged = table.filter(pl.col("status") == STATUS_FLAG)
    if flagged.height == 0:
        return empty_flags()
    stats = pl.struct(
        "D",
        "RR",
        "repeats",
        "expected_repeats",
        "wait_mean",
        "wait_sd",
        "auc",
        "p_dispersion",
        "p_repeat",
        "p_min",
        "n_people",
        "n_quarters",
        "c_min",
        "c_max",
        "never_good",
        "no_consecutive_rule",
    ).struct.json_encode()
    return finish_flags(
        flagged.with_columns(
            pl.lit("rotation").alias("kind"),
            pl.lit("D (dispersion)").alias("statistic"),
            pl.col("D").alias("statistic_value"),
            stats.alias("statistics"),
            pl.col("n_cells").alias("n"),
        )
    )


# ----------------------------------------------------------------------------------------------------------
# Evidence for one subject (the app's detail view)
# ----------------------------------------------------------------------------------------------------------


def _expected_histogram(cells: pl.DataFrame) -> np.ndarray:
    """Expected number of people with each count of 好 under H0: each C_i is a sum of independent
    Bernoulli(p_t) over the quarters person i was eligible (Poisson-binomial), computed exactly."""
    eligible = cells.filter(pl.col("eligible"))
    quarters = _quarters(cells).select("period", "p")
    periods = sorted(quarters["period"].to_list())
    people = sorted(eligible["person_id"].unique().to_list())
    if not periods or not people:
        return np.zeros(1)
    col = {p: t for t, p in enumerate(periods)}
    row = {p: i for i, p in enumerate(people)}
    prob = np.zeros((len(people), len(periods)))
    pt = dict(zip(quarters["period"].to_list(), quarters["p"].to_list(), strict=True))
    i = np.array([row[x] for x in eligible["person_id"].to_list()])
    t = np.array([col[x] for x in eligible["period"].to_list()])
    prob[i, t] = [pt[x] for x in eligible["period"].to_list()]
    dist = np.zeros((len(people), len(periods) + 1))
    dist[:, 0] = 1.0
    for t in range(len(periods)):  # one convolution step per quarter, all people at once
        step = prob[:, t, None]
        dist = dist * (1 - step) + np.concatenate([np.zeros((len(people), 1)), dist[:, :-1]], axis=1) * step
    return dist.sum(axis=0)


def evidence(
    data: AssessmentData, unit: str, section: str | None = None, settings: Settings | None = None, seed: int = 0
) -> dict:
    """What the app shows for one unit (or one of its sections).

    - grid: person x quarter, columns person_id, name, period ('2024Q1'), grade, eligible, good, order;
      people are ordered by the first quarter they got 好, so a queue shows as a staircase.
    - counts: count, observed (people with that many 好), expected under H0 (exact).
    - statistics: this subject's row of the rotation table (its q-value is for this subject alone;
      rotation_table gives the q-values across all subjects).
    """
    settings = settings or Settings()
    cells = _cells_of(data, unit, section)
    first_good = cells.filter(pl.col("good")).group_by("person_id").agg(pl.col("period").min().alias("first_good"))
    order = (
        cells.group_by("person_id")
        .agg(pl.col("name").first())
        .join(first_good, on="person_id", how="left")
        .sort(["first_good", "name", "person_id"], nulls_last=True)
        .with_row_index("order")
        .select("person_id", pl.col("order").cast(pl.Int64))
    )
    grid = (
        cells.join(order, on="person_id")
        .sort(["order", "period"])
        .select("person_id", "name", _period_label("period").alias("period"), "grade", "eligible", "good", "order")
    )
    observed = cells.filter(pl.col("eligible")).group_by("person_id").agg(pl.col("good").sum().alias("count"))
    expected = _expected_histogram(cells)
    counts = (
        pl.DataFrame({"count": np.arange(len(expected), dtype=np.int64), "expected": expected})
        .join(
            observed.group_by("count").agg(pl.len().alias("observed")).cast({"count": pl.Int64}), on="count", how="left"
        )
        .with_columns(pl.col("observed").fill_null(0).cast(pl.Int64))
        .select("count", "observed", "expected")
        .sort("count")
    )
    table = assess_subjects(cells, settings, seed)
    statistics = table.row(0, named=True) if table.height else {}
    statistics = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in statistics.items()}
    return {"grid": grid, "counts": counts, "statistics": statistics}
