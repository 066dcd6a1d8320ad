"""From test rows to findings: one flag per rotation, its parts inside.

A finding is (unit, 'top' | 'bottom'): the 好 queue (tested as given and without persistent 好 holders)
or the 一般/较差 queue among those not given 好. Every significant test of that queue, in the unit or any
of its sections and in any window, is one *part*; the flag leads with the strongest part (smallest q,
then p, then the most evidence) and lists all parts, strongest first, in `statistics`. The flag's subject
is the unit, so its key stays the same when the strongest part moves between a section and a window.
"""

from __future__ import annotations

import polars as pl

from analytics.detectors._unit_stats import period_words
from analytics.detectors.base import empty_flags, finish_flags
from analytics.detectors.rotation.table import STATUS_FLAG

TEST_NAME = (
    "(D + 0.1) x RR lower tail under fixed margins: Monte Carlo with Besag-Clifford sequential stopping "
    "(draws > 0), or exact where nobody repeats and the same people are eligible throughout (draws = 0)"
)
PART_ORDER = (["q_value", "p_value", "n_cells"], [False, False, True])


def _p_text(col: str) -> pl.Expr:
    return pl.when(pl.col(col) < 0.001).then(pl.lit("< 0.001")).otherwise(pl.format("= {}", pl.col(col).round(3)))


def _quarter_words(col: str, lang: str) -> pl.Expr:
    """A '2023Q1' label column in a sentence's words ('2023年第一季度' / '2023 Q1'), via the period index."""
    label = pl.col(col).cast(pl.Utf8)
    t = label.str.slice(0, 4).cast(pl.Int64) * 4 + label.str.slice(5, 1).cast(pl.Int64) - 1
    return period_words(t, lang)


def _where_zh() -> pl.Expr:
    scope = pl.when(pl.col("section").is_null()).then(pl.lit("全单位")).otherwise(pl.col("section"))
    return pl.format("{}（{}至{}）", scope, _quarter_words("period_from", "zh"), _quarter_words("period_to", "zh"))


def _where_en() -> pl.Expr:
    scope = pl.when(pl.col("section").is_null()).then(pl.lit("whole unit")).otherwise(pl.col("section"))
    return pl.format("{} ({} to {})", scope, _quarter_words("period_from", "en"), _quarter_words("period_to", "en"))


def sentences() -> list[pl.Expr]:
    """evidence_zh/en and caveat_zh/en of one test row."""
    bottom = pl.col("variant") == "bottom"
    grade_zh = pl.when(bottom).then(pl.lit("'一般/较差'")).otherwise(pl.lit("'好'"))
    grade_en = pl.when(bottom).then(pl.lit("一般/较差")).otherwise(pl.lit("好"))
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
    full, nobody = pl.col("n_full") == pl.col("n_people"), pl.col("n_full") == 0
    who_zh = pl.when(full).then(pl.lit("每人")).when(nobody).then(pl.lit("各人"))
    who_zh = who_zh.otherwise(pl.format("全程在岗的 {} 人每人", pl.col("n_full")))
    who_en = pl.when(full).then(pl.lit("each")).when(nobody).then(pl.lit("people"))
    who_en = who_en.otherwise(pl.format("the {} present throughout each", pl.col("n_full")))
    no_rr = pl.col("no_consecutive_rule") | pl.col("RR").is_null()
    repeats_zh = pl.when(no_rr).then(pl.lit("")).otherwise(
        pl.format("；连续两季度获{} {} 人次（随机分配预期 {}）", grade_zh, pl.col("repeats").cast(pl.Int64),
                  pl.col("expected_repeats").round(1))
    )  # fmt: skip
    repeats_en = pl.when(no_rr).then(pl.lit("")).otherwise(
        pl.format("; {} in two consecutive quarters {} times (expected {} under random allocation)", grade_en,
                  pl.col("repeats").cast(pl.Int64), pl.col("expected_repeats").round(1))
    )  # fmt: skip
    q_zh = pl.when(pl.col("q_value").is_null()).then(pl.lit("未计")).otherwise(_p_text("q_value"))
    q_en = pl.when(pl.col("q_value").is_null()).then(pl.lit("n/a")).otherwise(_p_text("q_value"))
    chance_zh = (
        pl.when(pl.col("p_value").is_null())
        .then(pl.lit("；证据不足，未作检验"))
        .otherwise(pl.format("；随机分配下如此均匀的概率 p {}（q {}）", _p_text("p_value"), q_zh))
    )
    chance_en = (
        pl.when(pl.col("p_value").is_null())
        .then(pl.lit("; too little evidence to test"))
        .otherwise(
            pl.format("; chance of so even a spread under random allocation p {} (q {})", _p_text("p_value"), q_en)
        )
    )
    among_zh = (
        pl.when(bottom)
        .then(pl.lit("未获'好'者中，"))
        .when(pl.col("variant") == "nostar")
        .then(pl.format("除每季度都获'好'的 {} 人外，", pl.col("stars")))
    )
    among_en = (
        pl.when(bottom)
        .then(pl.lit("among those not given 好, "))
        .when(pl.col("variant") == "nostar")
        .then(pl.format("leaving out the {} given 好 every quarter, ", pl.col("stars")))
    )
    zh = pl.concat_str(
        [_where_zh(), pl.lit("："), among_zh.fill_null(""),
         pl.format("{} 人 {} 个季度，{}获", pl.col("n_people"), pl.col("n_quarters"), who_zh), grade_zh,
         pl.lit(" "), counts_zh, repeats_zh, chance_zh, pl.lit("。")]
    )  # fmt: skip
    en = pl.concat_str(
        [_where_en(), pl.lit(": "), among_en.fill_null(""),
         pl.format("{} people over {} quarters: {} got ", pl.col("n_people"), pl.col("n_quarters"), who_en),
         grade_en, pl.lit(" "), counts_en, repeats_en, chance_en, pl.lit(".")]
    )  # fmt: skip
    rule = pl.col("no_consecutive_rule")
    caveat_zh = pl.concat_str(
        [
            pl.when(rule).then(
                pl.lit("本单位声明'不得连续两季度评好'：只用离散度检验，对照同一规则下的随机分配，不用重复率。")
            ),
            pl.when(pl.col("subject_type") == "section").then(pl.lit("在科室内单独检验。")),
            pl.when(pl.col("window") != "all").then(pl.lit("只在部分时段显著。")),
            pl.lit("检验只说明等次分配比随机更均匀、更少连续，需结合实际工作核实，不能单凭此认定轮流坐庄。"),
        ],
        ignore_nulls=True,
    )
    caveat_en = pl.concat_str(
        [
            pl.when(rule).then(
                pl.lit(
                    "The unit declares 'no 好 two quarters running': tested on dispersion alone, against random "
                    "allocation under the same rule; the repeat ratio is not used. "
                )
            ),
            pl.when(pl.col("subject_type") == "section").then(pl.lit("Tested within the section. ")),
            pl.when(pl.col("window") != "all").then(pl.lit("Significant in part of the period only. ")),
            pl.lit(
                "The test shows the grades are spread more evenly and repeat less than chance allows; "
                "check against the actual work before concluding that they were handed round."
            ),
        ],
        ignore_nulls=True,
    )
    return [zh.alias("evidence_zh"), en.alias("evidence_en"), caveat_zh.alias("caveat_zh"),
            caveat_en.alias("caveat_en")]  # fmt: skip


PART_FIELDS = ("subject_type", "subject", "section", "variant", "window", "period_from", "period_to", "n_people",
               "n_quarters", "n_cells", "D", "RR", "T", "repeats", "expected_repeats", "p_dispersion", "p_repeat",
               "p_value", "q_value", "draws", "stars")  # fmt: skip


def flags_from_table(table: pl.DataFrame) -> pl.DataFrame:
    """FLAG_SCHEMA rows: one per (unit, finding) with a flagged test, its parts in `statistics`."""
    flagged = table.filter(pl.col("status") == STATUS_FLAG)
    if flagged.height == 0:
        return empty_flags()
    flagged = flagged.sort([*PART_ORDER[0], "window"], descending=[*PART_ORDER[1], False]).with_columns(
        *sentences(), _where_zh().alias("where_zh"), _where_en().alias("where_en")
    )
    part = pl.struct(list(PART_FIELDS))
    grouped = flagged.group_by("unit", "finding", maintain_order=True).agg(
        pl.all().first(),
        part.alias("parts"),
        pl.len().alias("n_parts"),
        pl.col("where_zh").alias("all_where_zh"),
        pl.col("where_en").alias("all_where_en"),
    )
    more_zh = pl.when(pl.col("n_parts") > 1).then(
        pl.format("同一队列共 {} 项检验显著：{}。", pl.col("n_parts"), pl.col("all_where_zh").list.join("；"))
    )
    more_en = pl.when(pl.col("n_parts") > 1).then(
        pl.format("The same queue is significant in {} tests: {}.", pl.col("n_parts"),
                  pl.col("all_where_en").list.join("; "))
    )  # fmt: skip
    stats = pl.struct(
        pl.lit(TEST_NAME).alias("test"),
        *(pl.col(c) for c in ("variant", "window", "D", "RR", "T", "repeats", "expected_repeats", "p_dispersion",
                              "p_repeat", "p_min", "draws", "n_people", "n_quarters", "c_min", "c_max",
                              "never_good", "stars", "no_consecutive_rule", "n_parts")),
        pl.col("parts"),
    ).struct.json_encode()  # fmt: skip
    return finish_flags(
        grouped.with_columns(
            pl.lit("rotation").alias("kind"),
            pl.lit("unit").alias("subject_type"),
            pl.col("unit").alias("subject"),
            pl.lit("D (dispersion)").alias("statistic"),
            pl.col("D").alias("statistic_value"),
            stats.alias("statistics"),
            pl.col("n_cells").alias("n"),
            pl.concat_str([pl.col("evidence_zh"), more_zh], ignore_nulls=True).alias("evidence_zh"),
            pl.concat_str([pl.col("evidence_en"), more_en], separator=" ", ignore_nulls=True).alias("evidence_en"),
        ).sort(["severity", "q_value", "unit", "finding"], descending=[True, False, False, False])
    )
