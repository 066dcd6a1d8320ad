"""Survey analysis: what researchers ask of the stored survey tables, alone and joined with the grades.

Pure functions over a `SurveyData` (the three survey tables read within the user's scope). Every table
they return has already passed through `analytics.privacy.suppress_small`: a group (a unit, an attribute
value, an item) with fewer than k respondents keeps its row but loses its counts and every figure derived
from them, and is left out of tests, correlations and charts.

Conventions: `value` is the position on the item's scale, 1 = most negative; the midpoint of an L-point
scale is (L + 1) / 2, so "disagree" means value below the midpoint (1-2 on a 5-point scale).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl
from scipy import stats

from analytics.dataset import EVERYTHING, Scope
from analytics.privacy import SUPPRESSED, k_min, suppress_small
from analytics.schema import SURVEY_ANSWERS, SURVEY_ITEMS, SURVEY_RESPONDENTS
from analytics.store import connect

UNIT = "unit"  # the attribute name for the respondent's 单位
ALL_GROUP = "全部"
# Items about whether reviews are objective, fair, accurate, trustworthy (the seeds' "14.4% not objective").
TRUST_PATTERN = "客观|公正|公平|准确|可信|信任|认可|objective|fair|trust"
SCALE_TYPES = ("likert", "numeric_scale")


@dataclass(frozen=True)
class SurveyData:
    items: pl.DataFrame
    respondents: pl.DataFrame
    answers: pl.DataFrame

    @property
    def is_empty(self) -> bool:
        return self.respondents.height == 0


def survey_frames(
    items: pl.DataFrame, respondents: pl.DataFrame, answers: pl.DataFrame, import_id: int = 1
) -> SurveyData:
    """SurveyData from frames shaped like the tables (e.g. `survey_tables` output); import_id added if absent."""

    def complete(frame: pl.DataFrame, table) -> pl.DataFrame:
        if "import_id" not in frame.columns:
            frame = frame.with_columns(pl.lit(import_id, dtype=pl.Int32).alias("import_id"))
        schema = table.polars_schema()
        return frame.select([pl.col(c).cast(schema[c]) for c in table.column_names])

    return SurveyData(
        complete(items, SURVEY_ITEMS), complete(respondents, SURVEY_RESPONDENTS), complete(answers, SURVEY_ANSWERS)
    )


def survey_imports(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The surveys in the store: import_id, file_name, imported_at, respondents (latest first).

    import_id is NULL for survey rows written without an import (the built-in demo city).
    """
    return con.execute(
        """SELECT r.import_id, i.file_name, i.imported_at, count(*) AS respondents
           FROM survey_respondents r LEFT JOIN imports i USING (import_id)
           GROUP BY ALL ORDER BY r.import_id DESC NULLS LAST"""
    ).pl()


def load_survey(con: duckdb.DuckDBPyConnection, scope: Scope = EVERYTHING, import_id: int | None = None) -> SurveyData:
    """One survey (the latest unless import_id is given), its respondents restricted to the scope's units."""
    if import_id is None:
        latest = con.execute(
            "SELECT import_id FROM survey_respondents ORDER BY import_id DESC NULLS LAST LIMIT 1"
        ).fetchone()
        if latest is None:
            return SurveyData(SURVEY_ITEMS.empty(), SURVEY_RESPONDENTS.empty(), SURVEY_ANSWERS.empty())
        import_id = latest[0]
    cond, params = scope.where("unit")
    same = "import_id IS NOT DISTINCT FROM ?"  # NULL for the demo city's survey
    items = con.execute(f"SELECT * FROM survey_items WHERE {same} ORDER BY position", [import_id]).pl()
    respondents = con.execute(
        f"SELECT * FROM survey_respondents WHERE {same} AND {cond} ORDER BY source_row", [import_id, *params]
    ).pl()
    answers = con.execute(
        f"""SELECT a.* FROM survey_answers a
            SEMI JOIN (SELECT respondent_id FROM survey_respondents WHERE {same} AND {cond}) r
            USING (respondent_id) WHERE a.{same}""",
        [import_id, *params, import_id],
    ).pl()
    return SurveyData(items, respondents, answers)


def read_survey(
    db: str | os.PathLike | None = None, scope: Scope = EVERYTHING, import_id: int | None = None
) -> SurveyData:
    """`load_survey` on a read-only connection to the store that is closed straight away."""
    con = connect(db, read_only=True)
    try:
        return load_survey(con, scope, import_id)
    finally:
        con.close()


def list_surveys(db: str | os.PathLike | None = None) -> pl.DataFrame:
    """`survey_imports` of the store at `db` (read-only)."""
    con = connect(db, read_only=True)
    try:
        return survey_imports(con)
    finally:
        con.close()


# ----------------------------------------------------------------------------- items and attributes


def scale_of(items: pl.DataFrame) -> dict[str, list[str]]:
    """{item_id: scale labels, most negative first}."""
    scaled = items.filter(pl.col("scale").is_not_null())
    return {i: json.loads(s) for i, s in zip(scaled["item_id"], scaled["scale"], strict=True)}


def question_items(data: SurveyData, types: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Items other than attributes (optionally only some types), in file order."""
    items = data.items.filter(pl.col("item_type") != "attribute")
    return (items.filter(pl.col("item_type").is_in(types)) if types else items).sort("position")


def attribute_names(data: SurveyData) -> list[str]:
    """'unit' and every key of the respondents' attributes (性别, 年龄段, 职级 ...)."""
    names = [UNIT] if data.respondents["unit"].drop_nulls().len() else []
    attrs = data.respondents["attributes"].drop_nulls()
    if attrs.len():
        decoded = attrs.str.json_decode(infer_schema_length=None)
        if isinstance(decoded.dtype, pl.Struct):
            names += decoded.struct.fields
    return names


def _group_expr(attribute: str | None) -> pl.Expr:
    if attribute is None:
        return pl.lit(ALL_GROUP).alias("group")
    if attribute == UNIT:
        return pl.col("unit").alias("group")
    return pl.col("attributes").str.json_path_match(f"$['{attribute}']").alias("group")


def _groups(data: SurveyData, attribute: str | None) -> pl.DataFrame:
    """respondent_id -> group (the respondent's value of the attribute), respondents without it dropped."""
    return data.respondents.select("respondent_id", _group_expr(attribute)).filter(pl.col("group").is_not_null())


def _scale_sizes(data: SurveyData) -> pl.DataFrame:
    """item_id, levels (points on the scale) for scale items."""
    sizes = {i: len(s) for i, s in scale_of(data.items).items()}
    return pl.DataFrame(
        {"item_id": list(sizes), "levels": list(sizes.values())}, schema={"item_id": pl.Utf8, "levels": pl.Int32}
    )


def _label_order(data: SurveyData) -> pl.DataFrame:
    """(item_id, value, label): scale points with their label, for ordered distributions."""
    rows = [(i, float(v), label) for i, scale in scale_of(data.items).items() for v, label in enumerate(scale, 1)]
    return pl.DataFrame(rows, schema={"item_id": pl.Utf8, "value": pl.Float64, "label": pl.Utf8}, orient="row")


def _labelled_answers(data: SurveyData, item_ids: list[str]) -> pl.DataFrame:
    """Answers of the items with `label` (scale label for on-scale answers, else as written) and `order`."""
    answers = data.answers.filter(pl.col("item_id").is_in(item_ids))
    labelled = answers.join(_label_order(data), on=["item_id", "value"], how="left")
    return labelled.with_columns(
        pl.coalesce("label", "answer").alias("label"),
        pl.col("value").alias("order"),
    )


# ----------------------------------------------------------------------------- distributions


def item_distribution(data: SurveyData, item_ids: list[str] | None = None, k: int | None = None) -> pl.DataFrame:
    """Counts and shares per answer, scale items in scale order (every point, zeros included), others by count.

    Columns: item_id, item_text, item_type, answer, value, n, share (of the item's respondents; options of a
    multiple choice can sum past 1), respondents, side (-1 below the midpoint, 0 at it, +1 above; null for
    non-scale items), suppressed (fewer than k respondents answered the item).
    """
    k = k_min() if k is None else k
    items = question_items(data).filter(pl.col("item_type") != "text")
    if item_ids is not None:
        items = items.filter(pl.col("item_id").is_in(item_ids))
    ids = items["item_id"].to_list()
    labelled = _labelled_answers(data, ids)
    counts = labelled.group_by("item_id", "label").agg(pl.len().alias("n"), pl.col("order").first())
    # Every scale point appears, answered or not, so diverging bars line up across items.
    points = _label_order(data).filter(pl.col("item_id").is_in(ids)).rename({"value": "order"})
    counts = points.join(counts.drop("order"), on=["item_id", "label"], how="full", coalesce=True).with_columns(
        pl.col("n").fill_null(0)
    )
    counts = counts.join(
        labelled.group_by("item_id").agg(pl.col("respondent_id").n_unique().alias("respondents")),
        on="item_id",
        how="left",
    )
    counts = counts.join(items.select("item_id", "item_text", "item_type", "position"), on="item_id").join(
        _scale_sizes(data), on="item_id", how="left"
    )
    mid = (pl.col("levels") + 1) / 2
    out = counts.with_columns(
        pl.col("respondents").fill_null(0).cast(pl.Int64),
        pl.col("n").cast(pl.Int64),
        (pl.col("n") / pl.col("respondents")).alias("share"),
        pl.when(pl.col("order").is_null())
        .then(None)
        .otherwise((pl.col("order") - mid).sign().cast(pl.Int8))
        .alias("side"),
    ).sort(["position", pl.col("order").is_null(), "order", "n"], descending=[False, False, False, True])
    out = out.select(
        "item_id", "item_text", "item_type", pl.col("label").alias("answer"), pl.col("order").alias("value"),
        "n", "share", "respondents", "side",
    )  # fmt: skip
    return suppress_small(out, "respondents", k, derived=["n", "share"])


# ----------------------------------------------------------------------------- cross-tabs


@dataclass(frozen=True)
class Crosstab:
    """A cross-tab of one item by an attribute, with its chi-square test of independence."""

    table: pl.DataFrame  # group, answer, value, n, row_share, group_n, suppressed
    chi2: float | None
    dof: int | None
    p_value: float | None
    cramers_v: float | None
    n: int  # respondents in the test (unsuppressed groups)
    min_expected: float | None
    note: str | None = None  # why no test, or a caution
    groups_suppressed: list[str] = field(default_factory=list)


def chi_square(counts: np.ndarray) -> tuple[float, int, float, float, float]:
    """(chi2, dof, p, Cramér's V, smallest expected count) for a groups x answers count matrix."""
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    chi2, p, dof, expected = stats.chi2_contingency(counts, correction=False)
    n = counts.sum()
    v = math.sqrt(chi2 / (n * (min(counts.shape) - 1)))
    return float(chi2), int(dof), float(p), v, float(expected.min())


def crosstab(data: SurveyData, item_id: str, attribute: str, k: int | None = None) -> Crosstab:
    """Answers to `item_id` by the respondent's `attribute` (e.g. 'unit', '性别'), small groups suppressed.

    The chi-square test uses only the groups shown (>= k respondents). For multiple-choice items a
    respondent counts in several cells, which the test assumes away: no test is reported for them.
    """
    k = k_min() if k is None else k
    item = data.items.filter(pl.col("item_id") == item_id)
    if item.height == 0:
        raise ValueError(f"no item {item_id!r}")
    labelled = _labelled_answers(data, [item_id]).join(_groups(data, attribute), on="respondent_id")
    group_n = labelled.group_by("group").agg(pl.col("respondent_id").n_unique().alias("group_n"))
    cells = labelled.group_by("group", "label").agg(pl.len().alias("n"), pl.col("order").first().alias("value"))
    # Complete grid: every group x every answer seen (zeros shown, not missing).
    grid = group_n.join(cells.select("label", "value").unique("label"), how="cross")
    table = grid.join(cells.drop("value"), on=["group", "label"], how="left").with_columns(
        pl.col("n").fill_null(0).cast(pl.Int64), pl.col("group_n").cast(pl.Int64)
    )
    table = table.with_columns((pl.col("n") / pl.col("group_n")).alias("row_share")).sort(
        "group", pl.col("value").is_null(), "value", "label"
    )
    table = table.select("group", pl.col("label").alias("answer"), "value", "n", "row_share", "group_n")
    table = suppress_small(table, "group_n", k, derived=["n", "row_share"])
    shown = table.filter(~pl.col(SUPPRESSED))
    hidden = sorted(set(table.filter(pl.col(SUPPRESSED))["group"].to_list()))
    base = {
        "table": table,
        "groups_suppressed": hidden,
        "n": int(shown.select("group", "group_n").unique()["group_n"].sum() or 0),
    }
    if item["item_type"][0] == "multiple_choice":
        return Crosstab(**base, chi2=None, dof=None, p_value=None, cramers_v=None, min_expected=None,
                        note="multiple choice: respondents fall in several cells, no chi-square test")  # fmt: skip
    matrix = shown.pivot(on="answer", index="group", values="n", aggregate_function="sum").drop("group")
    counts = matrix.fill_null(0).to_numpy().astype(float) if matrix.width else np.zeros((0, 0))
    usable = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0] if counts.size else counts
    if usable.ndim != 2 or min(usable.shape, default=0) < 2:
        return Crosstab(**base, chi2=None, dof=None, p_value=None, cramers_v=None, min_expected=None,
                        note="fewer than two groups or answers to compare")  # fmt: skip
    chi2, dof, p, v, min_expected = chi_square(usable)
    note = "some expected counts are below 5: read the p-value with care" if min_expected < 5 else None
    return Crosstab(**base, chi2=chi2, dof=dof, p_value=p, cramers_v=v, min_expected=min_expected, note=note)


# ----------------------------------------------------------------------------- means with intervals


def item_means_by_group(
    data: SurveyData, item_ids: list[str] | None = None, attribute: str | None = None, k: int | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:  # fmt: skip
    """Mean scale value per item and group with a t-based confidence interval (all respondents when no attribute).

    Columns: item_id, item_text, group, n, mean, sd, ci_low, ci_high, levels, suppressed.
    """
    k = k_min() if k is None else k
    items = question_items(data, SCALE_TYPES)
    if item_ids is not None:
        items = items.filter(pl.col("item_id").is_in(item_ids))
    answers = data.answers.filter(pl.col("item_id").is_in(items["item_id"].to_list()) & pl.col("value").is_not_null())
    per = (
        answers.join(_groups(data, attribute), on="respondent_id")
        .group_by("item_id", "group")
        .agg(pl.len().alias("n"), pl.col("value").mean().alias("mean"), pl.col("value").std().alias("sd"))
    )
    n = per["n"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
    half = pl.Series("half", t) * per["sd"] / per["n"].cast(pl.Float64).sqrt()
    out = per.with_columns(
        (pl.col("mean") - half).alias("ci_low"), (pl.col("mean") + half).alias("ci_high"), pl.col("n").cast(pl.Int64)
    )
    out = out.with_columns(pl.col("ci_low", "ci_high").fill_nan(None))
    out = out.join(items.select("item_id", "item_text", "position"), on="item_id").join(
        _scale_sizes(data), on="item_id", how="left"
    )
    out = out.sort("position", "group").select(
        "item_id", "item_text", "group", "n", "mean", "sd", "ci_low", "ci_high", "levels"
    )
    return suppress_small(out, "n", k, derived=["mean", "sd", "ci_low", "ci_high"])


# ----------------------------------------------------------------------------- internal consistency


def alpha_of(matrix: np.ndarray) -> float:
    """Cronbach's alpha of a respondents x items matrix without missing values."""
    n_items = matrix.shape[1]
    item_var = matrix.var(axis=0, ddof=1).sum()
    total_var = matrix.sum(axis=1).var(ddof=1)
    return float(n_items / (n_items - 1) * (1 - item_var / total_var)) if total_var > 0 else float("nan")


def cronbach_alpha(
    data: SurveyData, item_ids: list[str] | None = None, reverse: tuple[str, ...] = (), k: int | None = None
) -> pl.DataFrame:
    """Cronbach's alpha per item group (respondents who answered every item of the group).

    `item_ids` given: one row for exactly those items (group '选定题目'); else one row per item_group with
    at least two scale items. `reverse`: negatively worded items, scored L + 1 - value first.
    Columns: item_group, items, item_ids, n, alpha, suppressed.
    """
    k = k_min() if k is None else k
    items = question_items(data, SCALE_TYPES)
    if item_ids is not None:
        items = items.filter(pl.col("item_id").is_in(item_ids)).with_columns(pl.lit("选定题目").alias("item_group"))
    items = items.filter(pl.col("item_group").is_not_null())
    scored = data.answers.join(_scale_sizes(data), on="item_id").filter(pl.col("value").is_not_null())
    scored = scored.with_columns(
        pl.when(pl.col("item_id").is_in(list(reverse))).then(pl.col("levels") + 1 - pl.col("value"))
        .otherwise(pl.col("value")).alias("value")
    )  # fmt: skip
    rows = []
    for group, members in items.group_by("item_group", maintain_order=True):  # a handful of constructs
        ids = members["item_id"].to_list()
        if len(ids) < 2:
            continue
        wide = scored.filter(pl.col("item_id").is_in(ids)).pivot(
            on="item_id", index="respondent_id", values="value", aggregate_function="mean"
        )
        present = [i for i in ids if i in wide.columns]
        complete = wide.select(present).drop_nulls() if len(present) == len(ids) else wide.clear().select([])
        n = complete.height
        alpha = alpha_of(complete.to_numpy().astype(float)) if n >= 2 else None
        rows.append({"item_group": group[0], "items": len(ids), "item_ids": ", ".join(ids), "n": n,
                     "alpha": None if alpha is None or math.isnan(alpha) else alpha})  # fmt: skip
    schema = {"item_group": pl.Utf8, "items": pl.Int64, "item_ids": pl.Utf8, "n": pl.Int64, "alpha": pl.Float64}
    return suppress_small(pl.DataFrame(rows, schema=schema), "n", k, derived=["alpha"], keep=["items"])


# ----------------------------------------------------------------------------- free text


def search_text(
    data: SurveyData, query: str = "", item_ids: list[str] | None = None, k: int | None = None
) -> pl.DataFrame:
    """Free-text answers containing `query` (case-insensitive, literal), with the respondent's unit.

    The unit is shown only for units with at least k respondents: a comment from a small unit could
    identify its author. Columns: item_id, item_text, unit, answer.
    """
    k = k_min() if k is None else k
    items = question_items(data, ("text",))
    if item_ids is not None:
        items = items.filter(pl.col("item_id").is_in(item_ids))
    answers = data.answers.join(items.select("item_id", "item_text", "position"), on="item_id")
    if query.strip():
        answers = answers.filter(pl.col("answer").str.to_lowercase().str.contains(query.strip().lower(), literal=True))
    unit_n = data.respondents.group_by("unit").agg(pl.len().alias("unit_n"))
    units = data.respondents.select("respondent_id", "unit").join(unit_n, on="unit", how="left")
    out = answers.join(units, on="respondent_id", how="left").with_columns(
        pl.when(pl.col("unit_n") >= k).then(pl.col("unit")).otherwise(None).alias("unit")
    )
    return out.sort("position", "unit", "answer", nulls_last=True).select("item_id", "item_text", "unit", "answer")


# ----------------------------------------------------------------------------- survey x grades, per unit


def trust_items(data: SurveyData, pattern: str = TRUST_PATTERN) -> list[str]:
    """Scale items asking whether reviews are objective / fair / accurate / trustworthy."""
    items = question_items(data, SCALE_TYPES)
    return items.filter(pl.col("item_text").str.contains(f"(?i){pattern}"))["item_id"].to_list()


def unit_trust(data: SurveyData, item_ids: list[str] | None = None, k: int | None = None) -> pl.DataFrame:
    """Per unit: respondents, trust_mean (mean value of the trust items' answers, 1 = most negative) and
    distrust_share (share of those answers below the scale's midpoint), small units suppressed."""
    k = k_min() if k is None else k
    ids = trust_items(data) if item_ids is None else item_ids
    answers = data.answers.filter(pl.col("item_id").is_in(ids) & pl.col("value").is_not_null()).join(
        _scale_sizes(data), on="item_id"
    )
    per = (
        answers.join(data.respondents.select("respondent_id", "unit"), on="respondent_id")
        .filter(pl.col("unit").is_not_null())
        .group_by("unit")
        .agg(
            pl.col("respondent_id").n_unique().alias("respondents"),
            pl.len().alias("answers"),
            pl.col("value").mean().alias("trust_mean"),
            (pl.col("value") < (pl.col("levels") + 1) / 2).mean().alias("distrust_share"),
        )
        .with_columns(pl.col("respondents", "answers").cast(pl.Int64))
        .sort("unit")
    )
    return suppress_small(per, "respondents", k, derived=["answers", "trust_mean", "distrust_share"])


def unit_flag_measures(flags: pl.DataFrame, kinds: tuple[str, ...] = ("rotation", "leniency")) -> pl.DataFrame:
    """Per unit and flag kind: `<kind>_flagged` (any flag) and `<kind>_severity` (strongest; 0 when none)."""
    per = (
        flags.filter(pl.col("kind").is_in(kinds) & pl.col("unit").is_not_null())
        .group_by("unit")
        .agg(
            [(pl.col("kind") == kind).any().alias(f"{kind}_flagged") for kind in kinds]
            + [pl.col("severity").filter(pl.col("kind") == kind).max().alias(f"{kind}_severity") for kind in kinds]
        )
    )
    return per


def share_good_by_unit(quarterly: pl.DataFrame) -> pl.DataFrame:
    """Per unit: share of 好 among graded person-quarters (不确定等次 left out)."""
    graded = quarterly.filter(pl.col("grade").is_not_null() & (pl.col("grade") != "不确定等次"))
    return graded.group_by("unit").agg((pl.col("grade") == "好").mean().alias("share_good"))


@dataclass(frozen=True)
class Correlation:
    method: str  # pearson / spearman
    r: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int


def correlation(x: np.ndarray, y: np.ndarray, method: str = "pearson", confidence: float = 0.95) -> Correlation:
    """Pearson or Spearman correlation with a Fisher-z interval (Bonett-Wright variance for Spearman)."""
    mask = ~(np.isnan(x) | np.isnan(y))
    x, y = x[mask], y[mask]
    n = len(x)
    if n < 4 or np.std(x) == 0 or np.std(y) == 0:
        return Correlation(method, None, None, None, None, n)
    res = stats.pearsonr(x, y) if method == "pearson" else stats.spearmanr(x, y)
    r, p = float(res[0]), float(res[1])
    se = 1 / math.sqrt(n - 3) if method == "pearson" else math.sqrt((1 + r * r / 2) / (n - 3))
    z, q = math.atanh(max(min(r, 0.999999), -0.999999)), stats.norm.ppf(0.5 + confidence / 2)
    return Correlation(method, r, math.tanh(z - q * se), math.tanh(z + q * se), p, n)


@dataclass(frozen=True)
class GroupComparison:
    """Units flagged vs not: the unit-level measure compared (Welch t and Mann-Whitney)."""

    measure: str
    flagged_units: int
    other_units: int
    flagged_mean: float | None
    other_mean: float | None
    difference: float | None  # flagged - other
    ci_low: float | None  # Welch 95% interval of the difference
    ci_high: float | None
    t_p_value: float | None
    mw_p_value: float | None
    flagged_respondents: int
    other_respondents: int


def compare_flagged(per_unit: pl.DataFrame, flag_col: str, measure: str) -> GroupComparison:
    """Compare `measure` between units with `flag_col` true and the rest (unsuppressed units only)."""
    shown = per_unit.filter(~pl.col(SUPPRESSED) & pl.col(measure).is_not_null())
    a = shown.filter(pl.col(flag_col))
    b = shown.filter(~pl.col(flag_col))
    xa, xb = a[measure].to_numpy().astype(float), b[measure].to_numpy().astype(float)
    mean_a = float(xa.mean()) if len(xa) else None
    mean_b = float(xb.mean()) if len(xb) else None
    diff = lo = hi = t_p = mw_p = None
    if len(xa) >= 2 and len(xb) >= 2:
        diff = mean_a - mean_b
        va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
        se = math.sqrt(va + vb)
        if se > 0:
            dof = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
            q = stats.t.ppf(0.975, dof)
            lo, hi = float(diff - q * se), float(diff + q * se)
            t_p = float(stats.ttest_ind(xa, xb, equal_var=False).pvalue)
        mw_p = float(stats.mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
    return GroupComparison(measure, len(xa), len(xb), mean_a, mean_b, diff, lo, hi, t_p, mw_p,
                           int(a["respondents"].sum() or 0), int(b["respondents"].sum() or 0))  # fmt: skip


@dataclass(frozen=True)
class UnitJoin:
    per_unit: (
        pl.DataFrame
    )  # unit, respondents, answers, trust_mean, distrust_share, share_good, <kind>_flagged/_severity, suppressed
    x: str
    y: str
    pearson: Correlation
    spearman: Correlation
    comparison: GroupComparison
    trust_item_ids: list[str]


def unit_join(
    data: SurveyData,
    flags: pl.DataFrame,
    quarterly: pl.DataFrame | None = None,
    kind: str = "rotation",
    x: str | None = None,
    y: str = "distrust_share",
    item_ids: list[str] | None = None,
    k: int | None = None,
) -> UnitJoin:
    """Survey trust per unit against the unit's detector flags (and share of 好), with correlation and a test.

    flags: FLAG_SCHEMA rows (analytics.detectors.run_detectors(data, settings, kinds=['rotation', 'leniency'])).
    x: the unit measure on the horizontal axis (default '<kind>_severity', 0 for unflagged units; also
    'share_good'). y: 'distrust_share' or 'trust_mean'. Units with fewer than k respondents are suppressed
    and left out of the correlation and the comparison.
    """
    ids = trust_items(data) if item_ids is None else item_ids
    per = unit_trust(data, ids, k)
    kinds = tuple(dict.fromkeys((kind, "rotation", "leniency")))
    measures = unit_flag_measures(flags, kinds)
    per = per.join(measures, on="unit", how="left").with_columns(
        [pl.col(f"{c}_flagged").fill_null(False) for c in kinds]
        + [pl.col(f"{c}_severity").fill_null(0.0) for c in kinds]
    )
    if quarterly is not None:
        per = per.join(share_good_by_unit(quarterly), on="unit", how="left")
    else:
        per = per.with_columns(pl.lit(None, dtype=pl.Float64).alias("share_good"))
    # Flag measures are about the unit, not the respondents: blank them for suppressed units all the same.
    hide = [c for c in per.columns if c.endswith(("_severity",)) or c == "share_good"]
    per = per.with_columns(pl.when(pl.col(SUPPRESSED)).then(None).otherwise(pl.col(c)).alias(c) for c in hide)
    x = x or f"{kind}_severity"
    shown = per.filter(~pl.col(SUPPRESSED))
    xs, ys = (shown[c].cast(pl.Float64).fill_null(float("nan")).to_numpy() for c in (x, y))
    return UnitJoin(
        per_unit=per,
        x=x,
        y=y,
        pearson=correlation(xs, ys, "pearson"),
        spearman=correlation(xs, ys, "spearman"),
        comparison=compare_flagged(per, f"{kind}_flagged", y),
        trust_item_ids=ids,
    )


def trust_sql(kind: str = "rotation", k: int = 5, pattern: str = TRUST_PATTERN) -> str:
    """SQL for the SQL workspace giving unit_join's per-unit numbers and the flagged/not comparison.

    Needs the `flags` table the workspace exposes when the page passes detector flags along.
    """
    pattern = re.sub(r"'", "''", pattern)
    kind = re.sub(r"[^a-z_]", "", kind)
    return f"""WITH trust_items AS (
  SELECT import_id, item_id, json_array_length(scale) AS levels FROM survey_items
  WHERE item_type IN ('likert', 'numeric_scale') AND regexp_matches(item_text, '(?i){pattern}')
    AND import_id IS NOT DISTINCT FROM (SELECT import_id FROM survey_respondents ORDER BY import_id DESC NULLS LAST LIMIT 1)
), per_unit AS (
  SELECT r.unit, count(DISTINCT r.respondent_id) AS respondents, avg(a.value) AS trust_mean,
         avg(CASE WHEN a.value < (t.levels + 1) / 2.0 THEN 1 ELSE 0 END) AS distrust_share
  FROM survey_answers a
  JOIN trust_items t ON a.item_id = t.item_id AND a.import_id IS NOT DISTINCT FROM t.import_id
  JOIN survey_respondents r ON a.respondent_id = r.respondent_id AND a.import_id IS NOT DISTINCT FROM r.import_id
  WHERE a.value IS NOT NULL AND r.unit IS NOT NULL
  GROUP BY r.unit HAVING count(DISTINCT r.respondent_id) >= {int(k)}
), flagged AS (SELECT DISTINCT unit FROM flags WHERE kind = '{kind}')
SELECT (p.unit IN (SELECT unit FROM flagged)) AS {kind}_flagged,
       count(*) AS units, CAST(sum(respondents) AS BIGINT) AS respondents,
       round(avg(distrust_share), 4) AS mean_distrust_share, round(avg(trust_mean), 4) AS mean_trust
FROM per_unit p GROUP BY 1 ORDER BY 1 DESC"""
