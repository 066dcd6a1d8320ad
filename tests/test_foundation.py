"""Core contracts: settings, store schema, lanes, safe export, BH q-values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics import export, store
from analytics.dataset import frames
from analytics.lanes import pool_small_lanes
from analytics.settings import LaneRule, Lanes, Settings, SettingsError, UnitCap, load_settings
from analytics.stats import bh_qvalues


def test_settings_file_overrides_defaults(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        '[quota]\ngood_cap = 0.3\n[[lanes.rules]]\nname = "窗口"\nunit_types = ["窗口服务"]\n', encoding="utf-8"
    )
    s = load_settings(f)
    assert s.quota.good_cap == 0.3 and s.quota.excellent_cap == 0.2
    assert s.lanes.rules == (LaneRule("窗口", unit_types=("窗口服务",)),)


def test_settings_unknown_key_is_a_clear_error(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[quota]\ngood_capp = 0.3\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="good_capp"):
        load_settings(f)


def test_unit_caps_are_read_per_unit(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        '[quota.unit_caps]\n"城关镇" = { excellent_cap = 0.35 }\n"财政局" = { good_cap = 0.3, excellent_cap = 0.15 }\n',
        encoding="utf-8",
    )
    q = load_settings(f).quota
    assert q.unit_caps == (UnitCap("城关镇", excellent_cap=0.35), UnitCap("财政局", good_cap=0.3, excellent_cap=0.15))
    assert q.unit_cap("城关镇").good_cap is None and q.unit_cap("别处") is None and q.good_cap == 0.4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '"城关镇" = { excellent_cap = 35 }',
            r'unit_caps\."城关镇"\.excellent_cap: a cap is a share .* \(write 0\.35 for 35%\)',
        ),
        ('"城关镇" = { excellent = 0.3 }', r"unknown cap\(s\) \['excellent'\]; known: \['good_cap', 'excellent_cap'\]"),
        ('"城关镇" = 0.3', r'"城关镇": expected \{ good_cap'),
        ('"城关镇" = { good_cap = 0 }', "got 0"),
        ('"城关镇" = { good_cap = "30%" }', "got '30%'"),
    ],
)
def test_a_bad_unit_cap_is_a_clear_error(tmp_path, text, message):
    f = tmp_path / "s.toml"
    f.write_text(f"[quota.unit_caps]\n{text}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        load_settings(f)


def test_store_creates_documented_tables(tmp_db):
    con = store.connect(tmp_db)
    assert set(store.table_counts(con)) >= {"quarterly", "annual", "outcomes", "imports", "rejected_rows"}
    cols = [r[0] for r in con.execute("DESCRIBE quarterly").fetchall()]
    assert cols[:3] == ["person_id", "name", "unit"] and "source_row" in cols


def test_lane_priority_explicit_then_rule_then_default():
    settings = Settings().replace(lanes=Lanes(rules=(LaneRule("窗口一线", unit_types=("窗口服务",)),)))
    q = pl.DataFrame(
        {
            "person_id": ["a", "b", "c"],
            "unit_type": ["窗口服务", "窗口服务", "乡镇街道"],
            "position_level": ["一般干部"] * 3,
            "lane": ["自定义", None, None],
        }
    )
    lanes = frames(q, settings=settings).quarterly["lane"].to_list()
    assert lanes == ["自定义", "窗口一线", "乡镇街道·一般干部"]


def test_small_lanes_are_pooled_not_dropped():
    q = pl.DataFrame(
        {
            "person_id": list("abcdefghijkl"),
            "unit_type": ["乡镇街道"] * 10 + ["法检"] * 2,
            "position_level": ["一般干部"] * 5 + ["中层正职"] * 3 + ["中层副职"] * 2 + ["一般干部"] * 2,
        }
    )
    pooled = pool_small_lanes(frames(q).quarterly, Settings())
    assert pooled.height == 12
    assert pooled["lane"].to_list() == ["乡镇街道·一般干部"] * 5 + ["乡镇街道·合并"] * 5 + ["合并赛道"] * 2
    assert (
        pooled["lane_pooled_from"].to_list()[5:]
        == ["乡镇街道·中层正职"] * 3 + ["乡镇街道·中层副职"] * 2 + ["法检·一般干部"] * 2
    )


def test_csv_export_defuses_formulas_and_keeps_chinese():
    data = export.to_bytes(pl.DataFrame({"姓名": ["=HYPERLINK(1)", "张三"], "n": [-1, 2]}), "csv")
    assert data.startswith("\ufeff".encode())
    assert data.decode("utf-8-sig").splitlines() == ["姓名,n", "'=HYPERLINK(1),-1", "张三,2"]


def test_bh_qvalues_match_hand_computation():
    q = bh_qvalues(np.array([0.01, 0.04, 0.03, np.nan]))
    assert np.allclose(q[:3], [0.03, 0.04, 0.04]) and np.isnan(q[3])
