"""Score-adjusted leniency (老好人) and fair scores (DETECTORS.md section 2, L3).

A grading body (the reviewer where the data names one, else the unit) is lenient when the grades it
gives run above what its people's scores would earn elsewhere in the same lane and quarter. We fit

    y_it = b * o_it + alpha_g + gamma_(lane, t) + e_it

by least squares, y the grade points (好 4 … 较差 1), o the score, alpha_g the body's effect and
gamma one effect per lane and quarter. Every row has exactly one body and one lane-quarter, so the
body block of X'X is diagonal: we solve the normal equations exactly through the Schur complement
of that block (a sparse body x lane-quarter count matrix and a small dense system), which also gives
exact standard errors. A small ridge on alpha (settings.leniency.ridge) fixes the one free constant
between alpha and gamma and pulls bodies with very few grades towards zero.

alpha is centred within the body's lane (so "lenient" means "against its lane"), z = alpha / SE, and
the display value is shrunk by empirical Bayes. A reviewer who grades one unit only cannot be told
apart from that unit (`nested=True`): the effect may be the unit's culture, not the person.
Where units share out 好 under a quota, a unit whose people score lower than the lane still gives
its 40% and so looks lenient against the lane; `alpha_within_unit` (the body against the other bodies
of its unit, with its exact SE and z) is blind to that and is the sharper test for one lenient
section head among honest ones.

The fair score is the score minus the body's shrunk leniency in score units (alpha / b), re-centred
within each lane and quarter so that a lane's mean fair score equals its mean score. It assumes the
scores come from the same hand as the grades (the usual case), so a reviewer who grades generously
also scores generously by about as much; where scores are known to be independent of the reviewer,
rank by score instead. `fair_grade_points` is the many-facet "fair average" on the grade scale: the
grade points minus the body's shrunk leniency.

`estimate_within_units` fits the same kind of model with one effect per unit and quarter and one slope
per unit: each reviewer against the other reviewers of its unit (the leniency detector's main test).
Demeaning within unit and quarter absorbs those effects and leaves a block-diagonal reviewer system,
solved for all units at once by one sparse factorisation.

Cost: both fits are exact and grow linearly with the rows (a province, 2.3 M person-quarters, takes a
few seconds); the standard errors are formed a slice of bodies at a time, so memory grows with
bodies x lane-quarters, never with bodies x bodies or bodies x units. The leniency fit reads the rows as
integer codes that sort as their strings do (no copy of the rows' text), and is made once per quarterly
frame (analytics.frame_memo: once per data version of a cached dataset), keeping per row one number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from analytics import frame_memo
from analytics.lanes import assign_lanes
from analytics.settings import Settings
from analytics.vocab import GRADE_POINTS

if TYPE_CHECKING:
    import scipy.sparse as sp

LEVELS = ("reviewer", "unit")
MIN_SLOPE_T = 2.0  # the slope must be clearly positive before scores can carry a grade effect
MODEL_COLUMNS = ("person_id", "year", "quarter", "lane", "unit", "grade", "score", "reviewer")
_SLICE_CELLS = 1 << 22  # entries of M S^-1 formed at once (32 MB)
_MIN_INFORMATION = 1e-9  # x'x left after the effects: below it x does not vary and no slope can be fitted

EFFECTS_SCHEMA: dict[str, pl.DataType] = {
    "level": pl.Utf8,  # reviewer or unit
    "subject": pl.Utf8,  # reviewer or unit as written in the data
    "unit": pl.Utf8,  # the unit it grades most (the unit itself at unit level)
    "lane": pl.Utf8,  # the lane it grades most
    "alpha": pl.Float64,  # grade points above the lane, score held equal (centred within lane)
    "se": pl.Float64,
    "z": pl.Float64,
    "p_value": pl.Float64,  # one-sided, P(Z >= z): evidence of leniency
    "shrunk": pl.Float64,  # empirical-Bayes alpha, for display and the fair score
    "alpha_score_units": pl.Float64,  # shrunk / b: leniency in score points
    # The body against the other bodies of its unit (e.g. a section head against the unit's other heads):
    # separable even when nested, and blind to what the whole unit shares (its quota, its people's level).
    "alpha_within_unit": pl.Float64,
    "se_within_unit": pl.Float64,
    "z_within_unit": pl.Float64,
    "bodies_in_unit": pl.UInt32,  # reviewers (or unit rows without one) grading in the same unit
    "n": pl.UInt32,  # graded person-quarters with a score
    "people": pl.UInt32,
    "units_graded": pl.UInt32,
    "nested": pl.Boolean,  # reviewer grades one unit only: reviewer and unit cannot be separated
    "caveat_zh": pl.Utf8,
    "caveat_en": pl.Utf8,
}
FAIR_SCHEMA: dict[str, pl.DataType] = {
    "person_id": pl.Utf8,
    "year": pl.Int32,
    "quarter": pl.Int32,
    "lane": pl.Utf8,
    "unit": pl.Utf8,
    "level": pl.Utf8,
    "subject": pl.Utf8,
    "score": pl.Float64,
    "adjustment": pl.Float64,  # score points removed (positive: lenient grading body)
    "fair_score": pl.Float64,
    "grade_points": pl.Float64,
    "fair_grade_points": pl.Float64,  # grade points minus the body's (re-centred) shrunk leniency
}

NESTED_ZH = "该评鉴人只评一个单位，评鉴人效应与单位效应无法区分：可能是单位整体宽松，而非评鉴人个人。"
NESTED_EN = "This reviewer grades one unit only, so the reviewer cannot be separated from the unit: the effect may be the unit's, not the person's."


@dataclass(frozen=True)
class LeniencyFit:
    """The fitted model: one row per grading body in `effects`, one per scored person-quarter in `fair`."""

    level: str  # the level asked for
    slope: float  # b: grade points per score point (NaN when the data has no scores)
    slope_se: float
    sigma: float  # residual standard deviation, grade points
    tau: float  # spread of true leniency between bodies (empirical Bayes), grade points
    n: int  # person-quarters in the fit
    effects: pl.DataFrame
    fair: pl.DataFrame
    note: str  # what the reader should know (no scores, fallback to unit, slope too weak ...)

    @property
    def has_fair_scores(self) -> bool:
        return self.fair["fair_score"].null_count() < self.fair.height


@dataclass(frozen=True)
class _Fit:
    """What a fit keeps (memoised per quarterly frame, so a second call on the same data does not refit):
    its numbers, the bodies' effects and, per scored row, the one number the fair scores are made from.
    No frame of the data's rows: a few MB at province scale, where LeniencyFit.fair is hundreds."""

    level: str
    slope: float
    slope_se: float
    sigma: float
    tau: float
    n: int  # 0: nothing was fitted (no scores, too few graded rows)
    effects: pl.DataFrame
    note: str
    # Per scored row (in the data's order): the body's shrunk leniency re-centred within its lane-quarter,
    # in grade points; None where scores do not carry a grade effect (no fair score).
    centred: np.ndarray | None

    def public(self, prepared: pl.DataFrame) -> LeniencyFit:
        """The LeniencyFit of the data this was fitted on (`prepared`: _prepare's frame), its fair rows built."""
        fair = _unfitted_rows(prepared) if self.n == 0 else _fair_scores(prepared, self)
        numbers = {k: getattr(self, k) for k in ("level", "slope", "slope_se", "sigma", "tau", "n", "effects", "note")}
        return LeniencyFit(**numbers, fair=fair)


def _empty_fit(level: str, note: str) -> _Fit:
    nan = float("nan")
    return _Fit(level, nan, nan, nan, nan, 0, pl.DataFrame(schema=EFFECTS_SCHEMA), note, None)


def _unfitted_rows(prepared: pl.DataFrame) -> pl.DataFrame:
    """The fair rows of a fit that estimated nothing: who and what, no grading body, no adjustment."""
    return (
        _scored_rows(prepared)
        .with_columns(
            pl.lit(None, dtype=pl.Utf8).alias("level"),
            pl.lit(None, dtype=pl.Utf8).alias("subject"),
            *(
                pl.lit(None, dtype=pl.Float64).alias(c)
                for c in ("adjustment", "fair_score", "grade_points", "fair_grade_points")
            ),
        )
        .select(list(FAIR_SCHEMA))
    )


def _scored_rows(quarterly: pl.DataFrame) -> pl.DataFrame:
    return quarterly.filter(pl.col("score").is_not_null()).select(
        pl.col("person_id").cast(pl.Utf8),
        pl.col("year").cast(pl.Int32),
        pl.col("quarter").cast(pl.Int32),
        pl.col("lane").cast(pl.Utf8),
        pl.col("unit").cast(pl.Utf8),
        pl.col("score").cast(pl.Float64),
    )


def _uses_reviewers(quarterly: pl.DataFrame, level: str) -> bool:
    return (
        level == "reviewer"
        and "reviewer" in quarterly.columns
        and quarterly["reviewer"].null_count() < quarterly.height
    )


def _named() -> pl.Expr:
    """The row names its reviewer (not empty, not blank): that reviewer is its grading body."""
    return pl.col("reviewer").is_not_null() & (pl.col("reviewer").cast(pl.Utf8).str.strip_chars() != "")


def _bodies_note(quarterly: pl.DataFrame, level: str) -> str:
    """What the reader should know about which grading body was used."""
    if _uses_reviewers(quarterly, level):
        missing = quarterly.height - int(quarterly.select(_named().sum()).item())
        return f"{missing} person-quarters without a reviewer are attributed to their unit." if missing else ""
    return "The data names no reviewers: effects are estimated per unit." if level == "reviewer" else ""


def _with_bodies(quarterly: pl.DataFrame, level: str) -> pl.DataFrame:
    """Add `level` and `subject`: the grading body of each row (the reviewer where named, else the unit)."""
    if _uses_reviewers(quarterly, level):
        named = _named()
        return quarterly.with_columns(
            pl.when(named).then(pl.lit("reviewer")).otherwise(pl.lit("unit")).alias("level"),
            pl.when(named).then(pl.col("reviewer").cast(pl.Utf8)).otherwise(pl.col("unit")).alias("subject"),
        )
    return quarterly.with_columns(pl.lit("unit").alias("level"), pl.col("unit").alias("subject"))


def _prepare(quarterly: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Only the columns the model reads (the wide `extra` text would be copied by every join), lanes filled."""
    if "lane" not in quarterly.columns or quarterly["lane"].null_count() > 0:
        quarterly = assign_lanes(quarterly, settings)
    return quarterly.select([c for c in MODEL_COLUMNS if c in quarterly.columns])


def _points() -> pl.Expr:
    return pl.col("grade").replace_strict(GRADE_POINTS, default=None, return_dtype=pl.Float64)


@dataclass(frozen=True)
class _Solution:
    alpha: np.ndarray  # per body (raw: before centring within lane)
    a_inv: np.ndarray  # 1 / (n_g + ridge): the diagonal body block of the normal equations, inverted
    scaled: sp.csr_matrix  # A^-1 B, body x (slope + lane-quarter)
    schur_inv: np.ndarray  # inverse of the Schur complement S = C - B' A^-1 B
    slope: float
    sigma2: float

    def centred_var(self, group: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Var(alpha_g - sum_h w_h alpha_h over g's group) / sigma^2, exactly, for every body g."""
        return self.centred_vars([(group, weight)])[0]

    def centred_vars(self, groupings: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """`centred_var` for several groupings (group codes, weights summing to 1 per group) in one pass.

        The raw alpha carries a common shift that only the ridge pins down; its variance is not
        leniency, so the SE is taken for the contrast with the group's (lane's, unit's) weighted mean.
        With V = A^-1 + M S^-1 M' (M = A^-1 B, sparse) and U_G = M' w_G:
        V_gg = a_g + M_g S^-1 M_g', (V w_G)_g = a_g w_g + M_g S^-1 U_G, w_G' V w_G = sum_(h in G) w_h (V w_G)_h,
        and Var = V_gg - 2 (V w_G)_g + w_G' V w_G. Only rows of M S^-1 are formed, a slice at a time,
        so time and memory grow with bodies x lane-quarters, never with bodies^2 or bodies x units.
        """
        import scipy.sparse as sp

        m = self.scaled
        n_body = m.shape[0]
        u_rows = [
            (sp.csr_matrix((w, (np.arange(n_body), g)), shape=(n_body, int(g.max()) + 1)).T @ m).tocsr()
            for g, w in groupings
        ]  # U_G' per group
        own, cross = np.empty(n_body), np.empty((len(groupings), n_body))
        step = max(1, _SLICE_CELLS // max(1, m.shape[1]))
        for start in range(0, n_body, step):  # slices bound the memory of M S^-1 (a handful at province scale)
            rows = slice(start, min(n_body, start + step))
            m_s = m[rows] @ self.schur_inv
            own[rows] = _row_dot(m[rows], m_s)
            for k, (g, _) in enumerate(groupings):
                cross[k, rows] = _row_dot(u_rows[k][g[rows]], m_s)
        out = []
        for k, (g, w) in enumerate(groupings):
            v_w = w * self.a_inv + cross[k]
            w_v_w = np.bincount(g, weights=w * v_w)
            out.append(np.maximum(self.a_inv + own - 2 * v_w + w_v_w[g], 0.0))
        return out


def _row_dot(sparse: sp.csr_matrix, dense: np.ndarray) -> np.ndarray:
    """Row-wise dot products of a sparse and a dense matrix of the same shape."""
    rows = np.repeat(np.arange(sparse.shape[0]), np.diff(sparse.indptr))
    return np.bincount(rows, weights=sparse.data * dense[rows, sparse.indices], minlength=sparse.shape[0])


def _solve(body: np.ndarray, cell: np.ndarray, o: np.ndarray, y: np.ndarray, ridge: float) -> _Solution:
    """Least squares for y = alpha[body] + b o + gamma[cell], ridge on alpha, via the Schur complement."""
    # scipy is imported here, not at the top, so that every `python -m analytics` command starts fast.
    import scipy.linalg
    import scipy.sparse as sp

    n_rows, n_body, n_cell = len(y), int(body.max()) + 1, int(cell.max()) + 1
    oc = o - o.mean()  # centring o leaves b unchanged (gamma absorbs the mean) and helps conditioning
    a_inv = 1.0 / (np.bincount(body, minlength=n_body) + ridge)
    counts = sp.csr_matrix((np.ones(n_rows), (body, cell)), shape=(n_body, n_cell))
    cross = sp.hstack([sp.csr_matrix(np.bincount(body, weights=oc, minlength=n_body)[:, None]), counts]).tocsr()
    small = np.zeros((n_cell + 1, n_cell + 1))
    small[0, 0] = oc @ oc
    small[0, 1:] = small[1:, 0] = np.bincount(cell, weights=oc, minlength=n_cell)
    small[1:, 1:] = np.diag(np.bincount(cell, minlength=n_cell).astype(float))
    scaled = (sp.diags(a_inv) @ cross).tocsr()  # A^-1 B
    schur = small - (cross.T @ scaled).toarray()
    r_body = np.bincount(body, weights=y, minlength=n_body)
    r_small = np.concatenate([[oc @ y], np.bincount(cell, weights=y, minlength=n_cell)])
    try:
        schur_inv = scipy.linalg.inv(schur + 1e-10 * np.eye(n_cell + 1), check_finite=False)
    except scipy.linalg.LinAlgError:
        schur_inv = np.linalg.pinv(schur)
    beta = schur_inv @ (r_small - scaled.T @ r_body)
    alpha = a_inv * r_body - scaled @ beta
    resid = y - alpha[body] - beta[0] * oc - beta[1:][cell]
    dof = n_rows - n_body - n_cell - 1
    sigma2 = float(resid @ resid / dof) if dof > 0 else float("nan")
    return _Solution(alpha, a_inv, scaled, schur_inv, float(beta[0]), sigma2)


def _codes(frame: pl.DataFrame, keys: list[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """Dense codes 0..k-1 of the distinct `keys` in sorted order (null first, as a sort puts it), and those
    keys (code i in row i): each column coded on its own (_sorted_codes), the codes combined into one integer."""
    combined, distinct = np.zeros(frame.height, dtype=np.int64), []
    for key in keys:
        code, values = _sorted_codes(frame[key])
        combined = combined * values.len() + code
        distinct.append(values)
    codes, present = _compact(combined, np.ones(frame.height, dtype=bool))
    places = []
    for values in reversed(distinct):  # undo the combination, last key first
        places.append(values.gather(present % values.len()))
        present = present // values.len()
    return codes, pl.DataFrame(places[::-1])


def _sorted_codes(values: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Each value's place among the distinct values sorted (null first), and those values: integers that sort as
    the values do, so that grouping and sorting on them is grouping and sorting on the (wide) strings."""
    if values.dtype in (pl.Categorical, pl.Enum):
        values = values.cast(pl.Utf8)
    distinct = values.unique().sort()
    if values.dtype == pl.Utf8:  # a lookup of each string in the sorted distinct ones, no sort of the rows
        code = values.cast(pl.Enum(distinct.drop_nulls())).to_physical()
    else:
        code = values.rank("dense") - 1
    offset = int(distinct.null_count() > 0)
    return (code.cast(pl.Int32) + offset).fill_null(0).to_numpy(), distinct


def _compact(codes: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the `kept` rows renumbered 0..k-1 (order kept), and the old code of each new one."""
    if codes.size and int(codes.max()) > 4 * codes.size:  # sparse codes (many keys combined): sort, not count
        present, new = np.unique(codes[kept], return_inverse=True)
        return new.reshape(-1), present
    present = np.bincount(codes[kept], minlength=int(codes.max()) + 1 if codes.size else 0) > 0
    return (np.cumsum(present) - 1)[codes[kept]], np.flatnonzero(present)


def _body_table(
    places: pl.DataFrame, keys: pl.DataFrame, sol: _Solution, units: pl.Series, lanes: pl.Series
) -> pl.DataFrame:
    """One row per body: who, where, how much evidence; alpha centred within its lane, with its exact SE.

    `places`: one row per fitted row, integer codes only: _b (body), unit, lane (codes into `units`, `lanes`,
    which sort as the names do) and person.
    """
    where = (
        places.group_by("_b", "unit", "lane")
        .len()
        .sort(["_b", "len", "unit", "lane"], descending=[False, True, False, False])
        .group_by("_b", maintain_order=True)
        .agg(
            pl.col("unit").first(),
            pl.col("lane").first(),
            pl.col("len").sum().cast(pl.UInt32).alias("n"),
            pl.col("unit").n_unique().cast(pl.UInt32).alias("units_graded"),
        )
        .with_columns(
            pl.lit(units).gather(pl.col("unit")).alias("unit"), pl.lit(lanes).gather(pl.col("lane")).alias("lane")
        )
    )
    people = places.group_by("_b").agg(pl.col("person").n_unique().cast(pl.UInt32).alias("people"))
    bodies = (
        keys.with_row_index("_b")
        .with_columns(pl.col("_b").cast(pl.Int64))
        .join(where, on="_b")
        .join(people, on="_b")
        .sort("_b")
        .select("_b", "level", "subject", "n", "people", "units_graded", "unit", "lane")
    )
    (alpha, se), (within, within_se) = _contrasts(bodies, sol, ["lane", "unit"])
    several = pl.col("subject").count().over("unit") > 1
    return bodies.with_columns(
        alpha.alias("alpha"),
        se.alias("se"),
        pl.col("subject").count().over("unit").cast(pl.UInt32).alias("bodies_in_unit"),
        pl.when(several).then(within).alias("alpha_within_unit"),
        pl.when(several).then(within_se).alias("se_within_unit"),
    ).with_columns((pl.col("alpha_within_unit") / pl.col("se_within_unit")).fill_nan(None).alias("z_within_unit"))


def _contrasts(bodies: pl.DataFrame, sol: _Solution, groups: list[str]) -> list[tuple[pl.Series, pl.Series]]:
    """Per group column (lane, unit): alpha minus the n-weighted mean alpha of the body's group, and its exact SE."""
    weights = bodies.select(
        *[
            (pl.col("n").cast(pl.Float64) / pl.col("n").cast(pl.Float64).sum().over(c)).alias(f"w{k}")
            for k, c in enumerate(groups)
        ],
        *[(pl.col(c).rank("dense").cast(pl.Int64) - 1).alias(f"g{k}") for k, c in enumerate(groups)],
    )
    groupings = [(weights[f"g{k}"].to_numpy(), weights[f"w{k}"].to_numpy()) for k in range(len(groups))]
    variances = sol.centred_vars(groupings)
    return [
        (pl.Series(sol.alpha - np.bincount(g, weights=w * sol.alpha)[g]), pl.Series(np.sqrt(sol.sigma2 * var)))
        for (g, w), var in zip(groupings, variances, strict=True)
    ]


def _shrink(effects: pl.DataFrame, min_graded: int) -> tuple[pl.DataFrame, float]:
    """z, one-sided p, and empirical-Bayes shrinkage (tau^2 from the bodies with enough evidence)."""
    pool = effects.filter(pl.col("n") >= min_graded)
    if pool.height < 3:
        pool = effects
    tau2 = max(0.0, float((pool["alpha"] ** 2).mean()) - float((pool["se"] ** 2).mean())) if pool.height else 0.0
    shrink = pl.col("se") ** 2 / (tau2 + pl.col("se") ** 2)
    effects = effects.with_columns(
        (pl.col("alpha") / pl.col("se")).alias("z"), ((1 - shrink) * pl.col("alpha")).fill_nan(None).alias("shrunk")
    )
    from scipy.special import ndtr

    p = ndtr(-effects["z"].to_numpy())  # one-sided: P(Z >= z)
    return effects.with_columns(pl.Series("p_value", p, dtype=pl.Float64).fill_nan(None)), float(np.sqrt(tau2))


def _fair_scores(prepared: pl.DataFrame, fit: _Fit) -> pl.DataFrame:
    """Per scored row: the body's shrunk leniency taken out of score and grade points."""
    scored = _with_bodies(prepared.filter(pl.col("score").is_not_null()), fit.level).with_columns(
        _points().alias("grade_points"), pl.col("score").cast(pl.Float64)
    )
    if fit.centred is None:
        return scored.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("adjustment"),
            pl.lit(None, dtype=pl.Float64).alias("fair_score"),
            pl.lit(None, dtype=pl.Float64).alias("fair_grade_points"),
        ).select(list(FAIR_SCHEMA))
    return (
        scored.with_columns(pl.Series("_points_adjustment", fit.centred))
        .with_columns((pl.col("_points_adjustment") / fit.slope).alias("adjustment"))
        .with_columns(
            (pl.col("score") - pl.col("adjustment")).alias("fair_score"),
            (pl.col("grade_points") - pl.col("_points_adjustment")).alias("fair_grade_points"),
        )
        .select([pl.col(c).cast(t) for c, t in FAIR_SCHEMA.items()])
    )


def _fitted(quarterly: pl.DataFrame, settings: Settings, level: str) -> _Fit:
    """The fit of `quarterly` at `level`, made once per frame (a cached dataset's frame: once per data version)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    key = ("leniency", level, repr(settings))
    return frame_memo.memo(quarterly, key, lambda: _fit(_prepare(quarterly, settings), settings, level))


def estimate_leniency(quarterly: pl.DataFrame, settings: Settings, level: str = "reviewer") -> LeniencyFit:
    """Fit the score-adjusted leniency model at `level` ('reviewer' falls back to 'unit' where no reviewer is named).

    >>> fit = estimate_leniency(data.quarterly, load_settings())  # doctest: +SKIP
    >>> fit.effects.sort("z", descending=True).head()              # most lenient bodies first  # doctest: +SKIP
    """
    fit = _fitted(quarterly, settings, level)
    return fit.public(_prepare(quarterly, settings))


def row_fair_scores(quarterly: pl.DataFrame, settings: Settings, level: str = "reviewer") -> tuple[pl.Series, str]:
    """The fair score of every row of `quarterly`, in its order (null where the row has no score, or where the
    fit gives no fair scores), and the fit's note: LeniencyFit.fair's `fair_score` without its frame of rows."""
    fit = _fitted(quarterly, settings, level)
    if fit.centred is None:
        return pl.repeat(None, quarterly.height, dtype=pl.Float64, eager=True).alias("fair_score"), fit.note
    scored = quarterly["score"].is_not_null()
    centred = np.zeros(quarterly.height)
    centred[scored.to_numpy()] = fit.centred
    # Divided by Polars as _fair_scores does (it may multiply by 1 / slope): the same numbers to the last bit.
    fair = pl.when(scored).then(pl.col("score").cast(pl.Float64) - pl.lit(pl.Series(centred)) / fit.slope)
    return quarterly.select(fair.alias("fair_score")).to_series(), fit.note


def _fit(prepared: pl.DataFrame, settings: Settings, level: str) -> _Fit:
    """The model fitted on integer codes and numbers only: no copy of the rows' strings is made."""
    if prepared.height == 0 or prepared["score"].null_count() == prepared.height:
        return _empty_fit(level, "No scores in the data: leniency cannot be adjusted for scores.")
    note = _bodies_note(prepared, level)
    scored = prepared["score"].is_not_null().to_numpy()
    # Made before the fit's temporaries: kept (memoised) on top of them, it would hold the freed heap below it
    # in the process (about 200 MB at province scale, measured with glibc's mallinfo2).
    centred = np.empty(int(scored.sum()))
    o = prepared["score"].cast(pl.Float64).to_numpy()[scored]
    y = prepared.select(_points()).to_series().to_numpy()[scored]  # NaN: a grade without points
    fit = ~np.isnan(y) & np.isfinite(o)
    if fit.sum() < 3 or pl.Series(o[fit]).n_unique() < 2:
        return _empty_fit(level, "Too few graded person-quarters with scores to fit the model.")
    # Codes over all scored rows (the fair scores need them), renumbered over the rows that enter the fit.
    # Each code sorts as its key does, so the bodies and cells come in the order a sort of the strings gives
    # (values only unscored rows hold leave gaps, closed by the renumbering).
    unit, units = _sorted_codes(prepared["unit"])
    unit = unit[scored]
    if _uses_reviewers(prepared, level):  # reviewers first ('reviewer' sorts before 'unit'), then units
        reviewer, reviewers = _sorted_codes(prepared["reviewer"])
        reviewer = reviewer[scored]
        named = prepared.select(_named()).to_series().to_numpy()[scored]
        subject = np.where(named, reviewer, reviewers.len() + unit)
        del reviewer, named
        levels = ["reviewer"] * reviewers.len() + ["unit"] * units.len()
        names = pl.DataFrame({"level": levels, "subject": pl.concat([reviewers, units])})
    else:
        subject = unit
        names = pl.DataFrame({"level": ["unit"] * units.len(), "subject": units})
    body_all, present = _compact(subject, np.ones(len(subject), dtype=bool))
    del subject
    keys = names[present]
    lane, lanes = _sorted_codes(prepared["lane"])
    lane = lane[scored]
    periods = prepared.select("year", "quarter").filter(pl.Series(scored)).with_columns(pl.Series("lane", lane))
    cell_all, _ = _codes(periods, ["lane", "year", "quarter"])
    del periods
    body, fitted = _compact(body_all, fit)
    cell, _ = _compact(cell_all, fit)
    # Who is who only counts people per body: any code will do, a rank is the cheapest at 200k people.
    person = prepared["person_id"].rank("dense").fill_null(0).to_numpy()[scored][fit]
    places = pl.DataFrame({"_b": body.astype(np.int32), "unit": unit[fit], "lane": lane[fit], "person": person})
    del unit, lane, person
    # The matrices are small; multi-threaded BLAS fighting Polars' own threads made this 20x slower (measured).
    with threadpool_limits(limits=1, user_api="blas"):
        sol = _solve(body, cell, o[fit], y[fit], settings.leniency.ridge)
        bodies = _body_table(places, keys[fitted], sol, units, lanes)
    slope_se = float(np.sqrt(sol.sigma2 * sol.schur_inv[0, 0]))
    effects, tau = _shrink(bodies, settings.leniency.min_graded)
    usable = bool(np.isfinite(slope_se) and sol.slope > MIN_SLOPE_T * slope_se)
    if not usable:
        note = (note + " " if note else "") + (
            f"Scores barely predict grades (b = {sol.slope:.3g} ± {slope_se:.2g}): no fair score in score units."
        )
    nested = (pl.col("level") == "reviewer") & (pl.col("units_graded") == 1)
    effects = effects.with_columns(
        nested.alias("nested"),
        (pl.col("shrunk") / sol.slope if usable else pl.lit(None, dtype=pl.Float64)).alias("alpha_score_units"),
        pl.when(nested).then(pl.lit(NESTED_ZH)).otherwise(None).alias("caveat_zh"),
        pl.when(nested).then(pl.lit(NESTED_EN)).otherwise(None).alias("caveat_en"),
    )
    if usable:  # re-centred per lane and quarter: ranks within a lane are unchanged, values stay on their scale
        shrunk = np.zeros(len(keys))
        shrunk[fitted] = effects["shrunk"].fill_null(0.0).to_numpy()
        shrunk = shrunk[body_all]  # 0 where the body was not estimated
        per_cell = np.bincount(cell_all).astype(float)
        np.subtract(shrunk, (np.bincount(cell_all, weights=shrunk) / per_cell)[cell_all], out=centred)
    effects = effects.select([pl.col(c).cast(t) for c, t in EFFECTS_SCHEMA.items()]).sort("lane", "subject")
    return _Fit(
        level,
        sol.slope,
        slope_se,
        float(np.sqrt(sol.sigma2)),
        tau,
        int(fit.sum()),
        effects,
        note.strip(),
        centred if usable else None,
    )


# ---------------------------------------------------------------- within units


def estimate_within_units(rows: pl.DataFrame, ridge: float, slope_by: str | None = None) -> pl.DataFrame:
    """Each reviewer against the other reviewers of its unit, at equal scores: one row per (unit, reviewer).

    `rows`: unit, reviewer, year, quarter, x (the score, or its percentile), y (grade points); rows where x
    or y is missing are counted (`graded`) but not fitted (`n`).
    The model is y = alpha_(unit, reviewer) + gamma_(unit, quarter) + b_s x + e with the ridge on alpha, one
    slope b_s per group of `slope_by` (a column constant within each unit, e.g. the unit itself; one slope
    for all when None) and one residual variance for all. It is fitted exactly, in one pass over all units:
    demeaning within unit and quarter absorbs gamma, which leaves for alpha a block-diagonal system (a small
    block per unit, its reviewers) solved by one sparse factorisation; the slopes follow in closed form from
    per-unit sums.

    `alpha` is centred on the unit's mean (reviewers weighted by their rows); `se` is its exact standard
    error, the slope's uncertainty included; z = alpha / se, p = P(Z >= z). Where x does not vary within a
    group's unit-quarters, its slope, and so alpha, is null: nothing is held equal there.
    """
    from scipy.special import ndtr

    body_all, bodies = _codes(rows, ["unit", "reviewer"])
    fit = (rows["x"].cast(pl.Float64).is_finite() & rows["y"].cast(pl.Float64).is_finite()).fill_null(False).to_numpy()
    alpha, var, slope = (np.full(bodies.height, np.nan) for _ in range(3))
    sigma2 = float("nan")
    if fit.sum() >= 3:
        cell, _ = _compact(_codes(rows, ["unit", "year", "quarter"])[0], fit)
        body, fitted = _compact(body_all, fit)
        unit = bodies.select(pl.col("unit").rank("dense").cast(pl.Int64) - 1).to_series().to_numpy()[fitted]
        group = np.zeros(bodies.height, dtype=np.int64)
        if slope_by is not None:  # constant within a unit, so read at one row of each body
            one_row = np.empty(bodies.height, dtype=np.int64)
            one_row[body_all] = np.arange(rows.height)
            group = rows[slope_by].gather(one_row).rank("dense").cast(pl.Int64).to_numpy() - 1
        x, y = rows["x"].cast(pl.Float64).to_numpy()[fit], rows["y"].cast(pl.Float64).to_numpy()[fit]
        with threadpool_limits(limits=1, user_api="blas"):
            alpha[fitted], var[fitted], slope[fitted], sigma2 = _solve_within(
                body, cell, unit, group[fitted], x, y, ridge
            )
    with np.errstate(invalid="ignore"):
        se = np.sqrt(sigma2 * var)
        z = alpha / se
    return bodies.with_columns(
        pl.Series("graded", np.bincount(body_all, minlength=bodies.height).astype(np.uint32)),
        pl.Series("n", np.bincount(body_all[fit], minlength=bodies.height).astype(np.uint32)),
        pl.Series("alpha", alpha),
        pl.Series("se", se),
        pl.Series("z", z),
        pl.Series("p_value", ndtr(-z)),
        pl.Series("slope", slope),
    ).with_columns(pl.col("alpha", "se", "z", "p_value", "slope").fill_nan(None))


def _solve_within(
    body: np.ndarray, cell: np.ndarray, unit: np.ndarray, group: np.ndarray, x: np.ndarray, y: np.ndarray, ridge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Centred alpha, Var(alpha) / sigma^2 and the slope per body, and sigma^2 (see estimate_within_units).

    body: row -> body (bodies sorted by unit); cell: row -> unit-quarter; unit, group: body -> unit, slope group.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    n_body, n_cell, n_unit, n_group = len(unit), int(cell.max()) + 1, int(unit.max()) + 1, int(group.max()) + 1
    per_cell = np.bincount(cell, minlength=n_cell).astype(float)
    per_body = np.bincount(body, minlength=n_body).astype(float)

    def cell_mean(values: np.ndarray) -> np.ndarray:
        return (np.bincount(cell, weights=values, minlength=n_cell) / per_cell)[cell]

    def by_body(values: np.ndarray) -> np.ndarray:
        return np.bincount(body, weights=values, minlength=n_body)

    def by_unit(values: np.ndarray) -> np.ndarray:
        return np.bincount(unit, weights=values, minlength=n_unit)

    def by_group(values: np.ndarray) -> np.ndarray:  # values per unit
        return np.bincount(group_of_unit, weights=values, minlength=n_group)

    xt, yt = x - cell_mean(x), y - cell_mean(y)  # demeaned within unit and quarter: gamma is gone
    # H = D'(I - P)D + ridge I, the reviewers' block once the cells are eliminated: zero across units.
    counts = sp.csr_matrix((1.0 / np.sqrt(per_cell[cell]), (body, cell)), shape=(n_body, n_cell))
    hessian = (sp.diags(per_body + ridge) - counts @ counts.T).tocsc()
    weight = per_body / by_unit(per_body)[unit]  # the unit's mean is weighted by rows
    factor = splu(hessian)
    m, h_g, h_w = factor.solve(np.column_stack([by_body(xt), by_body(yt), weight])).T
    # Indicator columns that pick every block's k-th reviewer: H being block-diagonal, solving for them gives
    # the k-th column of all the blocks' inverses at once (their diagonals are what the SEs need). The columns
    # go a slice at a time, so a unit with very many reviewers cannot blow up the memory.
    local = np.arange(n_body) - np.searchsorted(unit, unit)
    h_diag = np.empty(n_body)
    width = max(1, _SLICE_CELLS // n_body)
    for first in range(0, int(local.max()) + 1, width):
        ks = np.arange(first, min(first + width, int(local.max()) + 1))
        columns = factor.solve((local[:, None] == ks[None, :]).astype(float))
        mine = np.flatnonzero((local >= first) & (local < first + len(ks)))
        h_diag[mine] = columns[mine, local[mine] - first]

    # Slopes: x'y and x'x with alpha and gamma profiled out, summed over each group's units.
    group_of_unit = np.zeros(n_unit, dtype=np.int64)
    group_of_unit[unit] = group
    unit_of_row = unit[body]
    xx = np.bincount(unit_of_row, weights=xt * xt, minlength=n_unit) - by_unit(by_body(xt) * m)
    xy = np.bincount(unit_of_row, weights=xt * yt, minlength=n_unit) - by_unit(by_body(xt) * h_g)
    information = by_group(xx)
    slopes = np.where(information > _MIN_INFORMATION, by_group(xy) / np.maximum(information, _MIN_INFORMATION), np.nan)
    b = slopes[group]
    alpha = h_g - b * m
    centred = alpha - by_unit(weight * alpha)[unit]
    var = (
        h_diag
        - 2 * h_w
        + by_unit(weight * h_w)[unit]
        + (m - by_unit(weight * m)[unit]) ** 2 / np.maximum(information, _MIN_INFORMATION)[group]
    )
    # One residual variance, over the groups with a slope: gamma_(unit, quarter) is the cell's mean of y - alpha - b x.
    fitted = alpha[body]
    resid = yt - b[body] * xt - (fitted - cell_mean(fitted))
    fit = np.isfinite(resid)
    dof = fit.sum() - np.isfinite(b).sum() - len(np.unique(cell[fit])) - np.isfinite(slopes).sum()
    sigma2 = float(resid[fit] @ resid[fit] / dof) if dof > 0 else float("nan")
    return centred, np.maximum(var, 0.0), b, sigma2
