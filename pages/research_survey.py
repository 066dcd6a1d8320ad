"""问卷分析 · Survey explorer: distributions, cross-tabs, group means, alpha, free text, and survey x grades.

Collects inputs, calls analytics.survey.analysis and draws with analytics.survey.charts. Every table
shown here comes back from analytics already through analytics.privacy (small groups suppressed).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import export
from analytics.dataset import Scope
from analytics.detectors import run_detectors
from analytics.survey import analysis as sa
from analytics.survey import charts
from analytics.survey import words as sw
from pages import _ui as ui

tr = ui.tr
MIME = {"csv": "text/csv", "xlsx": ui.MIME["xlsx"], "parquet": "application/vnd.apache.parquet"}


def _scope_key() -> tuple:
    scope = ui.current_scope()
    return (None if scope.units is None else tuple(sorted(scope.units)), scope.pseudonymise)


@st.cache_resource(max_entries=4, show_spinner=False)
def _surveys(identity: tuple) -> pl.DataFrame:
    return sa.list_surveys(identity[0])


@st.cache_resource(max_entries=8, show_spinner=False)
def _survey(identity: tuple, scope_key: tuple, import_id: int) -> sa.SurveyData:
    units, pseudonymise = scope_key
    scope = Scope(units=None if units is None else frozenset(units), pseudonymise=pseudonymise)
    return sa.read_survey(identity[0], scope, import_id)


def downloads(frame: pl.DataFrame, base: str, key: str) -> None:
    """CSV (Excel-safe, UTF-8 BOM), xlsx and Parquet of a table, made on click and audited."""
    record = ui.recorder()

    def content(fmt: str) -> bytes:
        record("export", f"{base}.{fmt}", {"rows": frame.height})
        return export.to_bytes(frame, fmt)

    cols = st.columns([1, 1, 1, 4])[:3]
    for col, fmt in zip(cols, ("csv", "xlsx", "parquet"), strict=True):
        with col:
            st.download_button(fmt.upper(), data=lambda fmt=fmt: content(fmt), file_name=f"{base}.{fmt}",
                               mime=MIME[fmt], key=f"{key}_{fmt}", on_click="ignore", icon=":material/download:")  # fmt: skip


def table(frame: pl.DataFrame, **kwargs) -> None:
    """A survey table as people read it: headers in the page's language, 全部 and yes/no in words."""
    ui.show_table(sw.readable(frame, ui.lang()), **kwargs)


def item_label(items: pl.DataFrame):
    texts = dict(zip(items["item_id"], items["item_text"], strict=True))
    return lambda item_id: f"{item_id} · {texts.get(item_id, '')}"


def attribute_label(name: str | None) -> str:
    if name is None:
        return tr("（全体）", "(everyone)")
    return tr("单位", "unit") if name == sa.UNIT else name


def p_text(p: float | None) -> str:
    return "—" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def p_eq(p: float | None) -> str:
    """'p = 0.025' or 'p < 0.001'."""
    return "p < 0.001" if p is not None and p < 0.001 else f"p = {p_text(p)}"


def num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def suppressed_note(frame: pl.DataFrame, k: int) -> None:
    if "suppressed" in frame.columns and frame["suppressed"].any():
        st.caption(
            tr(f"少于 {k} 人的组已隐藏（数值留空）。", f"Groups under {k} respondents are suppressed (values blank).")
        )


# ----------------------------------------------------------------------------- tabs


def tab_distribution(data: sa.SurveyData, k: int) -> None:
    scale_items = sa.question_items(data, sa.SCALE_TYPES)
    choice_items = sa.question_items(data, ("single_choice", "multiple_choice"))
    label = item_label(data.items)
    chosen = st.multiselect(tr("量表题", "Scale items"), scale_items["item_id"].to_list(),
                            default=scale_items["item_id"].to_list(), format_func=label, key="sv_dist_items")  # fmt: skip
    dist = sa.item_distribution(data, chosen, k=k) if chosen else sa.item_distribution(data, [], k=k)
    ui.plot(charts.diverging_bars(dist, tr("量表题答案分布", "Answers to scale items"), ui.lang()), key="sv_div")
    if choice_items.height:
        choice = st.selectbox(tr("选择题", "Choice item"), choice_items["item_id"].to_list(), format_func=label,
                              key="sv_dist_choice")  # fmt: skip
        options = sa.item_distribution(data, [choice], k=k)
        ui.plot(charts.option_bars(options, label(choice), ui.lang()), key="sv_opts")
        dist = pl.concat([dist, options])
    suppressed_note(dist, k)
    with st.expander(tr("分布表", "Distribution table")):
        table(dist)
        downloads(dist, "survey_distribution", "sv_dist_dl")


def tab_crosstab(data: sa.SurveyData, k: int) -> None:
    items = sa.question_items(data, ("likert", "numeric_scale", "single_choice", "multiple_choice"))
    attributes = sa.attribute_names(data)
    if items.height == 0 or not attributes:
        st.info(
            tr("需要至少一个题目和一个属性（单位、性别……）。", "Needs an item and an attribute (unit, gender ...).")
        )
        return
    left, right = st.columns(2)
    item = left.selectbox(
        tr("题目", "Item"), items["item_id"].to_list(), format_func=item_label(data.items), key="sv_ct_item"
    )
    attribute = right.selectbox(tr("按属性", "By attribute"), attributes, format_func=attribute_label, key="sv_ct_attr")
    ct = sa.crosstab(data, item, attribute, k=k)
    cols = st.columns(4)
    cols[0].metric("χ²", num(ct.chi2, 2))
    cols[1].metric(tr("自由度", "df"), "—" if ct.dof is None else str(ct.dof))
    cols[2].metric("p", p_text(ct.p_value))
    cols[3].metric(tr("关联强度 V 系数", "Cramér's V"), num(ct.cramers_v))
    if ct.note:
        st.caption(sw.note_words(ct.note, ui.lang()))
    ui.plot(charts.crosstab_bars(ct.table, tr("各组答案构成", "Answer mix by group"), ui.lang()), key="sv_ct")
    suppressed_note(ct.table, k)
    with st.expander(tr("交叉表", "Cross-tab")):
        table(ct.table)
        downloads(ct.table, "survey_crosstab", "sv_ct_dl")


def tab_means(data: sa.SurveyData, k: int) -> None:
    items = sa.question_items(data, sa.SCALE_TYPES)
    left, right = st.columns([2, 1])
    chosen = left.multiselect(tr("量表题", "Scale items"), items["item_id"].to_list(),
                              default=items["item_id"].to_list()[:3], format_func=item_label(data.items), key="sv_m_items")  # fmt: skip
    attribute = right.selectbox(tr("分组", "Group by"), [None, *sa.attribute_names(data)], format_func=attribute_label,
                                key="sv_m_attr")  # fmt: skip
    means = sa.item_means_by_group(data, chosen, attribute, k=k)
    ui.plot(
        charts.means_with_ci(means, tr("均值与 95% 置信区间", "Means with 95% intervals"), ui.lang()), key="sv_means"
    )
    suppressed_note(means, k)
    with st.expander(tr("均值表", "Means table")):
        table(means)
        downloads(means, "survey_means", "sv_m_dl")


def tab_alpha(data: sa.SurveyData, k: int) -> None:
    st.caption(tr("克朗巴赫 α 系数：同一维度题目的内部一致性（≥ 0.7 通常可接受）。默认按题目分组（量表类型或题号前缀）。",
                  "Cronbach's alpha: internal consistency of items meant to measure one thing (>= 0.7 is usually acceptable). "
                  "Default groups: the item's scale family or its prefix."))  # fmt: skip
    items = sa.question_items(data, sa.SCALE_TYPES)
    label = item_label(data.items)
    reverse = st.multiselect(tr("反向计分题", "Reverse-scored items"), items["item_id"].to_list(), format_func=label,
                             key="sv_a_rev")  # fmt: skip
    alpha = sa.cronbach_alpha(data, reverse=tuple(reverse), k=k)
    custom = st.multiselect(tr("自选题目计算 α", "Alpha of chosen items"), items["item_id"].to_list(), format_func=label,
                            key="sv_a_items")  # fmt: skip
    if len(custom) >= 2:
        alpha = pl.concat([alpha, sa.cronbach_alpha(data, custom, reverse=tuple(reverse), k=k)])
    table(alpha, column_config={"alpha": st.column_config.NumberColumn(format="%.3f")})
    suppressed_note(alpha, k)
    downloads(alpha, "survey_alpha", "sv_a_dl")


def tab_text(data: sa.SurveyData, k: int) -> None:
    query = st.text_input(
        tr("搜索意见建议", "Search free-text answers"), key="sv_q", placeholder=tr("如：反馈", "e.g. feedback")
    )
    found = sa.search_text(data, query, k=k)
    st.caption(tr(f"{found.height} 条回答；少于 {k} 人的单位不显示单位名。",
                  f"{found.height} answers; units under {k} respondents are not named."))  # fmt: skip
    table(found, height=360)
    downloads(found, "survey_text", "sv_t_dl")


def tab_join(data: sa.SurveyData, k: int) -> None:
    st.caption(tr(
        "问卷与考核结果在单位层面关联：被预警单位的干部是否更不认可考核的客观公正？每个点是一个单位（问卷人数 ≥ k）。",
        "Survey joined with grades per unit: do staff in flagged units trust reviews less? One dot per unit (>= k respondents).",
    ))  # fmt: skip
    scale_items = sa.question_items(data, sa.SCALE_TYPES)
    label = item_label(data.items)
    c1, c2, c3 = st.columns(3)
    kind = c1.radio(tr("预警类型", "Flag kind"), ["rotation", "leniency"], horizontal=True, key="sv_j_kind",
                    format_func=lambda v: {"rotation": tr("轮流坐庄", "rotation"), "leniency": tr("宽松评价", "leniency")}[v])  # fmt: skip
    y = c2.radio(tr("问卷指标", "Survey measure"), ["distrust_share", "trust_mean"], horizontal=True, key="sv_j_y",
                 format_func=lambda v: {"distrust_share": tr("不认同比例", "share disagreeing"),
                                        "trust_mean": tr("认同均值", "mean agreement")}[v])  # fmt: skip
    x_choice = c3.radio(tr("单位指标", "Unit measure"), ["severity", "share_good"], horizontal=True, key="sv_j_x",
                        format_func=lambda v: {"severity": tr("预警强度", "flag severity"),
                                               "share_good": tr("“好”等次占比", "share of 好")}[v])  # fmt: skip
    trust = st.multiselect(tr("“考核可信”题目", "Trust-in-reviews items"), scale_items["item_id"].to_list(),
                           default=sa.trust_items(data), format_func=label, key="sv_j_items")  # fmt: skip
    if not trust:
        st.info(tr("请选择至少一个题目。", "Choose at least one item."))
        return
    if ui.is_empty():
        st.info(tr("没有考核数据可关联。", "No assessment data to join."))
        return
    with st.spinner(tr("正在运行轮流坐庄与宽松评价检测……", "Running the rotation and leniency detectors…")):
        flags = ui.call(run_detectors, ui.FULL, ui.SETTINGS, kinds=("rotation", "leniency"))
    quarterly = ui.full_data().quarterly
    x = f"{kind}_severity" if x_choice == "severity" else "share_good"
    join = sa.unit_join(data, flags, quarterly, kind=kind, x=x, y=y, item_ids=trust, k=k)
    kind_zh = {"rotation": "轮流坐庄", "leniency": "宽松评价"}[kind]
    cmp = join.comparison
    measure_zh = {"distrust_share": "不认同考核客观公正的比例", "trust_mean": "认同程度均值"}[y]
    measure_en = {"distrust_share": "share disagreeing that reviews are objective", "trust_mean": "mean agreement"}[y]
    fmt = (lambda v: "—" if v is None else f"{v:.1%}") if y == "distrust_share" else (lambda v: num(v, 2))
    st.markdown(tr(
        f"**{cmp.flagged_units} 个被预警“{kind_zh}”的单位**（{cmp.flagged_respondents} 人）{measure_zh}平均为 **{fmt(cmp.flagged_mean)}**，"
        f"**其余 {cmp.other_units} 个单位**（{cmp.other_respondents} 人）为 **{fmt(cmp.other_mean)}**；"
        f"差 {num(cmp.difference)}（95% 置信区间 {num(cmp.ci_low)} ~ {num(cmp.ci_high)}，"
        f"方差不齐的 t 检验 {p_eq(cmp.t_p_value)}，秩和检验 {p_eq(cmp.mw_p_value)}）。",
        f"**{cmp.flagged_units} units flagged for {kind}** ({cmp.flagged_respondents} respondents): {measure_en} "
        f"**{fmt(cmp.flagged_mean)}** on average; **the other {cmp.other_units} units** ({cmp.other_respondents}): "
        f"**{fmt(cmp.other_mean)}**; difference {num(cmp.difference)} (95% CI {num(cmp.ci_low)} to {num(cmp.ci_high)}, "
        f"Welch t {p_eq(cmp.t_p_value)}, Mann-Whitney {p_eq(cmp.mw_p_value)}).",
    ))  # fmt: skip
    cols = st.columns(2)
    for col, c in zip(cols, (join.pearson, join.spearman), strict=True):
        name = tr("积差相关系数 r", "Pearson r") if c.method == "pearson" else tr("等级相关系数 ρ", "Spearman ρ")
        col.metric(f"{name}（n = {c.n}）" if ui.lang() == "zh" else f"{name} (n = {c.n})", num(c.r),
                   help=tr("95% 置信区间按费希尔 z 变换计算", "95% interval (Fisher z)"))  # fmt: skip
        col.caption(tr(f"95% 置信区间 [{num(c.ci_low)}, {num(c.ci_high)}] · {p_eq(c.p_value)}",
                       f"95% CI [{num(c.ci_low)}, {num(c.ci_high)}] · {p_eq(c.p_value)}"))  # fmt: skip
    x_title = tr("预警强度", "flag severity") if x_choice == "severity" else tr("“好”等次占比", "share of 好")
    y_title = tr("不认同比例", "share disagreeing") if y == "distrust_share" else tr("认同均值", "mean agreement")
    ui.plot(charts.unit_scatter(join.per_unit, x, y, f"{kind}_flagged", tr("单位：问卷 × 考核", "Units: survey x grades"),
                                ui.lang(), x_title, y_title), key="sv_join")  # fmt: skip
    suppressed_note(join.per_unit, k)
    with st.expander(tr("单位明细", "Per unit")):
        table(join.per_unit)
        downloads(join.per_unit, "survey_by_unit", "sv_j_dl")
    with st.expander(tr("在 SQL 查询页得到同样的数字", "The same numbers in the SQL workspace")):
        st.caption(
            tr(
                "在 SQL 查询页勾选“加入预警表”后运行：",
                'Tick "include the flags table" on the SQL page, then run:',
            )
        )
        st.code(sa.trust_sql(kind, k), language="sql")


# ----------------------------------------------------------------------------- page


ui.page_setup("问卷分析", "Survey analysis", ("问卷答案与考核结果一起看；少于 k 人的组一律隐藏。",
                                            "Survey answers next to the grades; groups under k people are always hidden."))  # fmt: skip
identity = ui.store_identity()
surveys = _surveys(identity) if identity[1] else pl.DataFrame()
if surveys.height == 0:
    st.info(tr("还没有问卷数据。在“数据导入”页上传问卷导出文件，或运行：",
               "No survey yet. Upload a survey export on the Data page, or run:"))  # fmt: skip
    st.code("python -m analytics import 问卷_2024.xlsx --kind survey", language="bash")
    st.stop()
options = surveys["import_id"].to_list()
# File names and whole-survey counts can reveal other units: users limited to some units see numbers only.
scoped = ui.current_scope().units is not None
names = {
    r[
        "import_id"
    ]: f"{r['file_name'] or (tr('演示问卷', 'demo survey') if r['import_id'] is None else '#' + str(r['import_id']))}"
    f" · {r['respondents']} {tr('人', 'respondents')}"
    for r in surveys.iter_rows(named=True)
}
if scoped:
    names = {i: tr(f"问卷 #{i}", f"Survey #{i}") if i is not None else tr("演示问卷", "demo survey") for i in options}
import_id = (
    st.selectbox(tr("问卷", "Survey"), options, format_func=names.get, key="sv_import")
    if len(options) > 1
    else options[0]
)
data = _survey(identity, _scope_key(), import_id)
k = ui.settings().privacy.k_min
if data.is_empty:
    st.info(tr("您的权限范围内没有问卷答卷。", "No survey respondents within your scope."))
    st.stop()
with st.expander(tr(f"题目与类型（{data.items.height} 列）", f"Items and types ({data.items.height} columns)")):
    table(sw.items_table(data.items, ui.lang()))
tabs = st.tabs([tr("分布", "Distribution"), tr("交叉表", "Cross-tab"), tr("分组均值", "Group means"), tr("信度 α", "Alpha"),
                tr("意见文本", "Free text"), tr("与考核结果关联", "Survey x grades")])  # fmt: skip
for tab, draw in zip(tabs, (tab_distribution, tab_crosstab, tab_means, tab_alpha, tab_text, tab_join), strict=True):
    with tab:
        draw(data, k)
