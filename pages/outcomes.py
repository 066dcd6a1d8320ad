"""结果运用: do promotions, awards, bonuses and sanctions follow the grades?

A Sankey from the year's quarterly pattern to the annual grade to the main outcome, outcome rates by
grade pattern, the rule breaks (outcome_rule flags) and each unit's use of results.
"""

from __future__ import annotations

import streamlit as st

from analytics import charts, i18n, outcome_units, outcomes, overview, person
from pages import _ui as ui

tr = ui.tr
ui.page_setup(
    "结果运用",
    "Outcome use",
    (
        "考核结果是否真正用于提拔、评优、奖金和问责，以及哪里没有按规则运用。",
        "Whether results really drive promotion, awards, bonuses and sanctions, and where the rules were not followed.",
    ),
)
data = ui.require_data()
lang = ui.lang()
words = i18n.outcome_words(lang)
years = ui.call(overview.years, ui.DATA)
if not years:
    st.info(tr("当前筛选下没有记录。", "No records within the current filters."))
    st.stop()
year = st.selectbox(tr("考核年度", "Assessment year"), list(reversed(years)), key="outcome_year", width=220)

sankey_col, rates_col = st.columns([1.15, 1])
with sankey_col:
    flow = i18n.translate_values(ui.call(outcomes.flow, ui.DATA, ui.SETTINGS, year=year), ["source", "target"], words)
    ui.plot(
        charts.sankey(
            flow,
            tr(
                f"{year} 年度：季度等次组合 → 年度等次 → 结果运用（人次）",
                f"{year}: quarterly pattern → annual grade → outcome (person-years)",
            ),
            lang,
            height=470,
        ),
        key="sankey",
    )
with rates_col:
    rates = ui.call(outcomes.rates_by_pattern, ui.DATA, ui.SETTINGS, year=year)
    rates = i18n.translate_values(i18n.with_outcome_labels(rates, lang), ["pattern"], words)
    ui.plot(
        charts.rate_heatmap(
            rates,
            "outcome_label",
            "pattern",
            "rate",
            tr("各季度等次组合获得各类结果运用的比例", "Share of each quarterly pattern given each outcome"),
            lang,
            height=470,
        ),
        key="rates",
    )

breaks_tab, units_tab, rates_tab = st.tabs(
    [tr("违规运用", "Rule breaks"), tr("各单位运用情况", "Use by unit"), tr("比例明细", "Rates table")]
)
with breaks_tab:
    rule_flags = overview.select_flags(ui.flags(), kinds=("outcome_rule",), year=year)
    if rule_flags.height == 0:
        st.success(tr(f"{year} 年度没有发现违反规则的结果运用。", f"No outcome rule breaks found for {year}."))
    else:
        people = ui.call(person.directory, ui.FULL)
        table = overview.flag_list(rule_flags, lang, people=people).drop("kind_label", "lane", "period_to")
        ui.show_table(
            ui.with_person_links(table, "person_id", "person_name", flag_col="flag_key").drop("person_id"),
            height=360,
            column_config={
                "evidence": st.column_config.TextColumn(width="large"),
                "person_name": ui.person_link_config(),
                "flag_id": None,
                "flag_key": None,
                "severity": st.column_config.ProgressColumn(format="%.2f", min_value=0.0, max_value=1.0),
            },
        )
        ui.downloads(table.drop("flag_id", "flag_key"), f"outcome_rule_breaks_{year}", key="dl_breaks")
with units_tab:
    use = ui.call(outcome_units.unit_use, ui.DATA, ui.SETTINGS, year=year)
    ui.show_table(
        use,
        height=420,
        column_config={
            c: st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0)
            for c in ("rewarded_share", "negative_share", "bonus_share")
        },
    )
    ui.downloads(use, f"outcome_use_by_unit_{year}", key="dl_use")
with rates_tab:
    table = rates.select("pattern", "outcome_label", "people", "count", "rate")
    ui.show_table(table, height=420, column_config={"rate": st.column_config.NumberColumn(format="percent")})
    ui.downloads(table, f"outcome_rates_{year}", key="dl_rates")
