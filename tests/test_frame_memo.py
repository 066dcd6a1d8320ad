"""Rankings computed once per dataset and window: the previous period is not ranked again on the next view."""

from __future__ import annotations

import polars as pl

from analytics import frame_memo, rankings
from analytics.dataset import frames
from analytics.settings import Settings


def _data():
    rows = [
        {"person_id": p, "name": p, "unit": "单位", "section": "科", "unit_type": "综合管理", "lane": "甲",
         "year": 2025, "quarter": q, "score": float(s + q), "grade": "较好"}
        for q in (1, 2, 3, 4) for p, s in (("a", 90), ("b", 80), ("c", 70), ("d", 60), ("e", 50))
    ]  # fmt: skip
    return frames(pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32}))


def test_each_window_is_ranked_once_per_dataset(monkeypatch):
    ranked = []
    real = rankings._rank_window

    def counting(quarterly, win, *args):
        ranked.append(win.label)
        return real(quarterly, win, *args)

    monkeypatch.setattr(rankings, "_rank_window", counting)
    data, settings = _data(), Settings()
    q4 = rankings.rank_people(data, settings, period="2025Q4")
    assert ranked == ["2025Q4", "2025Q3"]
    assert rankings.rank_people(data, settings, period="2025Q4", visible=frozenset({"单位"})).equals(q4)
    rankings.rank_people(data, settings, period="2025Q3")  # Q3 was ranked as Q4's previous quarter
    assert ranked == ["2025Q4", "2025Q3", "2025Q2"]
    other = Settings(lanes=type(settings.lanes)(min_size=2))
    rankings.rank_people(data, other, period="2025Q4")  # other settings: ranked afresh
    assert ranked[3:] == ["2025Q4", "2025Q3"]
    rankings.rank_people(_data(), settings, period="2025Q4")  # another dataset: ranked afresh
    assert ranked[5:] == ["2025Q4", "2025Q3"]


def test_a_memo_lives_with_its_frame_and_holds_a_bounded_number_of_results():
    frame = pl.DataFrame({"a": [1]})
    made = []
    for i in range(frame_memo.MAX_PER_FRAME + 3):
        frame_memo.memo(frame, i, lambda i=i: made.append(i) or i)
    assert frame_memo.memo(frame, frame_memo.MAX_PER_FRAME + 2, lambda: -1) == frame_memo.MAX_PER_FRAME + 2
    assert frame_memo.memo(frame, 0, lambda: -1) == -1  # the oldest was let go
    frame_id = id(frame)
    del frame
    assert frame_id not in frame_memo._MEMOS


def test_a_quarter_ranks_the_same_without_grouping_as_with_it(demo_db, monkeypatch):
    """A quarter has one row per person, so its ranking skips the aggregation: same frame as aggregating."""
    from analytics import store
    from analytics.dataset import load_dataset

    settings = Settings()
    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, settings)
    finally:
        con.close()
    fast = rankings.rank_people(data, settings, period="2025Q3")
    monkeypatch.setattr(rankings, "_one_row_each", lambda rows: False)  # aggregate as for a longer window
    slow = rankings.rank_people(frames(data.quarterly.clone()), settings, period="2025Q3")
    assert fast.height > 1000 and fast.schema == slow.schema
    assert fast.equals(slow)
