"""The demo city's people: counties, units, sections, reviewers and who is present when.

Everything is drawn at once with numpy from one Generator, so the same seed gives the same city
and 1,000,000 people take seconds. Units come from a per-county catalogue (bureaus, enforcement
teams, service windows, towns, court and procuratorate) in the five unit types; unit sizes are
skewed (most 5-30, towns and courts larger, a few 100+). Inside a unit the leadership (领导班子)
is one group reviewed by the principal, and everyone else sits in sections of 3-10 people, each
reviewed by its head (中层正职), whose name is written in the `reviewer` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

UNIT_TYPES = ("综合管理", "行政执法", "窗口服务", "乡镇街道", "法检")
LEVELS = ("领导班子成员", "中层正职", "中层副职", "一般干部")
LEADERS_SECTION = "领导班子"

# County-level units; a leading '县' is replaced by the county's name ('县财政局' -> '常山县财政局').
_GENERAL = [
    "县委办公室",
    "县政府办公室",
    "县委组织部",
    "县委宣传部",
    "县委统战部",
    "县委政法委",
    "县纪委监委",
    "县发展和改革局",
    "县财政局",
    "县教育局",
    "县科学技术局",
    "县经济和信息化局",
    "县民政局",
    "县人力资源和社会保障局",
    "县自然资源和规划局",
    "县住房和城乡建设局",
    "县农业农村局",
    "县水利局",
    "县商务局",
    "县文化和旅游局",
    "县卫生健康局",
    "县审计局",
    "县统计局",
    "县信访局",
    "县退役军人事务局",
    "县应急管理局",
    "县林业局",
    "县乡村振兴局",
    "县机关事务服务中心",
    "县委党校",
    "县委编办",
    "县档案馆",
    "县地方志办公室",
    "县人大常委会办公室",
    "县政协办公室",
    "县总工会",
    "县妇联",
    "县科协",
    "县供销合作社",
    "县投资促进中心",
]
_ENFORCEMENT = [
    "县市场监督管理局",
    "县综合行政执法局",
    "县交通运输局",
    "县医疗保障局",
    "县司法局",
    "县生态环境分局",
    "县交通运输综合行政执法大队",
    "县农业综合行政执法队",
    "县文化市场综合行政执法队",
    "县卫生健康综合监督执法队",
    "县自然资源执法监察大队",
    "县应急管理综合行政执法大队",
    "县城市管理局",
    "县水政监察大队",
]
# Service windows: bare names in the home county ('政务服务中心'), prefixed elsewhere.
_WINDOWS = [
    "政务服务中心",
    "不动产登记中心",
    "社会保险服务中心",
    "医疗保障服务中心",
    "住房公积金管理中心",
    "公共资源交易中心",
    "就业服务中心",
    "12345政务服务热线中心",
    "退役军人服务中心",
    "婚姻登记服务中心",
]
_COURTS = ("县人民法院", "县人民检察院")
_TOWNS_PER_COUNTY = 20
SHARE_AT_ROUND_HEADCOUNT = 0.9
MIN_SIZE_WITH_TURNOVER = 20  # staff come and go in the larger units; small offices are stable
SHARE_TINY = 0.12  # of general and window units: offices of 4-6 people
SOLE_REVIEWER_MAX_SIZE = 12  # small units where the principal may grade everyone
SHARE_SOLE_REVIEWER = 0.5  # of those units: one reviewer (the principal) for every section

_COUNTY_HEADS = "常江开龙衢柯遂庆云松缙青景泰平安永武宁德建清华临兴长新东南西北丰乐富阳溪山".replace("", " ").split()
_COUNTY_TAILS = "山阳化游昌泉和川田源江宁丰安城溪州兴平河林康乐水原都远口台关门".replace("", " ").split()
_TOWN_HEADS = "辉球招芳天青何白大小东西南北新上下石金龙凤马桃李杨柳梅竹松花水湖河岗峰岭岩坑".replace("", " ").split()
_TOWN_TAILS = "埠川贤村马湖塘桥溪口坞源坪田阳山岭头里庄洋港渡店铺园".replace("", " ").split()

_SECTION_NAMES = {
    "综合管理": "办公室 综合科 政策法规科 财务科 人事科 业务一科 业务二科 规划科 监督科 信息科 项目科 审批科 宣传科 督查科",
    "行政执法": "办公室 法规科 执法一中队 执法二中队 执法三中队 稽查科 审批科 综合科 投诉举报中心 执法四中队 监测科 督查科",
    "窗口服务": "综合窗口组 办件服务组 审批服务组 咨询受理组 后台审核组 综合科 督查科 信息科 业务一组 业务二组 业务三组",
    "乡镇街道": "党政综合办公室 经济发展办公室 社会事务办公室 平安法治办公室 农业农村办公室 综合行政执法队 便民服务中心 "
    "自然资源所 财政所 党群服务中心 退役军人服务站 社会治理中心",
    "法检": "立案庭 刑事审判庭 民事审判庭 行政审判庭 执行局 审判管理办公室 政治部 办公室 城关人民法庭 第一检察部 "
    "第二检察部 第三检察部 综合业务部 司法警察大队 研究室 监察室",
}
_SECTION_NAMES = {k: tuple(v.split()) for k, v in _SECTION_NAMES.items()}

# Common surnames with rough relative frequencies (most common first), and given-name characters.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN_MALE = "伟强磊军勇杰涛斌超明辉刚健峰鹏华建平国志文俊浩宇鑫波亮成东海林龙永清飞斌凯晨阳博诚毅锋宏"
_GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷慧颖琳雪倩洁晶红梅兰英萍琴瑶璐佳欣怡悦然琪蕾薇月晓璇丹媛秀莉"
_GIVEN_ANY = "子思雨嘉佳明文晓立建志家一天海金春冬秋光德永新安宏振泽浩宁瑞"

_RANKS = {
    "领导班子成员": ("正科级", "副科级", "副科级", "一级主任科员"),
    "中层正职": ("一级主任科员", "二级主任科员", "二级主任科员", "三级主任科员"),
    "中层副职": ("三级主任科员", "四级主任科员", "四级主任科员", "一级科员"),
    "一般干部": ("四级主任科员", "一级科员", "一级科员", "二级科员", "三级主任科员"),
}
SPECIAL_GROUPS = ("选调生", "挂职干部", "驻村干部")

# Size of units by type: (median, log-sd); clipped to [5, 180].
_SIZE = {"综合管理": (11, 0.6), "行政执法": (16, 0.6), "窗口服务": (9, 0.6), "乡镇街道": (36, 0.5), "法检": (70, 0.45)}


@dataclass(frozen=True)
class City:
    """The people of the demo city, one row each (frames), plus arrays the generators use.

    units: unit_idx, unit, unit_type, county, size, n_sections, section_offset, has_scores, has_subscores,
           sole_reviewer (the principal reviews every section)
    people: person_idx, person_id, name, unit_idx, unit, unit_type, section_idx, section, position_level, rank,
            staff_type, special_group, gender, age, years_of_service, join_t, leave_t
    sections: section_idx, unit_idx, section, reviewer, reviewer_person_idx, size
    """

    units: pl.DataFrame
    people: pl.DataFrame
    sections: pl.DataFrame
    quarters: int
    start_year: int

    @property
    def n_units(self) -> int:
        return self.units.height

    @property
    def n_people(self) -> int:
        return self.people.height


def _catalogue() -> tuple[np.ndarray, np.ndarray]:
    """One county's unit templates (towns as placeholders) and their unit types."""
    names = [*_GENERAL, *_ENFORCEMENT, *_WINDOWS, *[f"<town{i}>" for i in range(_TOWNS_PER_COUNTY)], *_COURTS]
    types = (
        ["综合管理"] * len(_GENERAL)
        + ["行政执法"] * len(_ENFORCEMENT)
        + ["窗口服务"] * len(_WINDOWS)
        + ["乡镇街道"] * _TOWNS_PER_COUNTY
        + ["法检"] * len(_COURTS)
    )
    return np.array(names, dtype=object), np.array(types, dtype=object)


def _pool(heads: list[str], tails: list[str], suffixes: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """Every head+tail+suffix combination, shuffled (no repeats)."""
    combos = np.array([h + t + s for s in suffixes for h in heads for t in tails if h != t], dtype=object)
    return combos[rng.permutation(len(combos))]


def _county_names(count: int, rng: np.random.Generator) -> np.ndarray:
    pool = _pool(_COUNTY_HEADS, _COUNTY_TAILS, ("县", "县", "市"), rng)
    pool = pool[np.unique(np.char.rstrip(pool.astype(str), "县市"), return_index=True)[1]]
    pool = pool[rng.permutation(len(pool))]
    if count > len(pool):  # province-scale cities: number the extra counties
        extra = np.array([f"第{i}县" for i in range(count - len(pool))], dtype=object)
        pool = np.concatenate([pool, extra])
    return np.concatenate([["常山县"], pool[pool != "常山县"][: count - 1]])


def _unit_frame(persons: int, rng: np.random.Generator) -> pl.DataFrame:
    """Units county by county until their sizes hold `persons` people."""
    templates, types = _catalogue()
    k = len(templates)
    counties = max(2, int(np.ceil(persons / 1200)) + 1)
    names = np.tile(templates, counties)
    utype = np.tile(types, counties)
    county = np.repeat(np.arange(counties), k)
    # Order within a county: one unit of each type first (so small cities have all five), then shuffled.
    first_of_type = np.zeros(k, dtype=bool)
    first_of_type[[list(types).index(t) for t in UNIT_TYPES]] = True
    first_of_type[list(types).index("法检") + 1] = False
    key = rng.random(k * counties) - np.tile(first_of_type, counties)
    order = np.lexsort((key, county))
    names, utype, county = names[order], utype[order], county[order]

    median = np.array([_SIZE[t][0] for t in utype], dtype=float)
    sd = np.array([_SIZE[t][1] for t in utype], dtype=float)
    size = np.clip(np.round(median * np.exp(sd * rng.standard_normal(len(utype)))), 5, 180).astype(np.int64)
    home_court = (county == 0) & (names == "县人民法院")
    size[home_court] = 100 + rng.integers(5, 40)  # a 100+ unit in every city
    # Most units are staffed to an authorised headcount (编制), which is usually a round number.
    staffed = rng.random(len(size)) < SHARE_AT_ROUND_HEADCOUNT
    size[staffed] = np.maximum(5, np.round(size[staffed] / 5) * 5).astype(np.int64)
    # A few very small offices (4-6 people: a 站, a 所, a small 办), where shares jump by a quarter at a time.
    # Drawn from a child stream, so the rest of the city is what the parent stream makes of it.
    (small_rng,) = rng.spawn(1)
    tiny = (small_rng.random(len(size)) < SHARE_TINY) & np.isin(utype, ("综合管理", "窗口服务"))
    size[tiny] = small_rng.integers(4, 7, int(tiny.sum()))
    cum = np.cumsum(size)
    n_units = int(np.searchsorted(cum, persons) + 1)
    size = size[:n_units].copy()
    size[-1] = persons - (cum[n_units - 2] if n_units > 1 else 0)
    if n_units > 1 and size[-1] < 5:  # too small a remainder: give it to the previous unit
        size[-2] += size[-1]
        n_units -= 1
        size = size[:n_units]
    names, utype, county = names[:n_units], utype[:n_units], county[:n_units]

    county_names = _county_names(int(county.max()) + 1, rng)
    full = _full_unit_names(names, county, county_names, rng)
    return pl.DataFrame(
        {
            "unit_idx": np.arange(n_units, dtype=np.int32),
            "unit": full,
            "unit_type": utype.astype(str),
            "county": county_names[county].astype(str),
            "size": size.astype(np.int32),
        }
    )


def _full_unit_names(templates: np.ndarray, county: np.ndarray, county_names: np.ndarray, rng) -> np.ndarray:
    """'县财政局' -> '常山县财政局'; towns get unique names per county; windows are prefixed outside the home county."""
    cname = county_names[county].astype(str)
    tmpl = templates.astype(str)
    out = tmpl.copy().astype(object)
    is_county = np.char.startswith(tmpl, "县")
    if is_county.any():
        out[is_county] = np.char.add(cname[is_county], np.char.lstrip(tmpl[is_county], "县")).astype(object)
    is_window = np.isin(tmpl, _WINDOWS) & (county > 0)
    if is_window.any():
        out[is_window] = np.char.add(cname[is_window], tmpl[is_window]).astype(object)
    is_town = np.char.startswith(tmpl, "<town")
    towns = _pool(_TOWN_HEADS, _TOWN_TAILS, ("镇", "镇", "乡", "街道"), rng)
    towns = towns[towns != "城关镇"]
    n_pool = len(towns) - (len(towns) + 1) % 2  # an odd pool: stepping by 2 visits every name once per county
    offset = rng.integers(0, n_pool, int(county.max()) + 1)
    if is_town.any():
        idx = np.char.replace(np.char.replace(tmpl[is_town], "<town", ""), ">", "").astype(np.int64)
        town_names = towns[(offset[county[is_town]] + idx * 2) % n_pool].astype(str)
        town_names = np.where((county[is_town] == 0) & (idx == 0), "城关镇", town_names)
        prefix = np.where(county[is_town] > 0, cname[is_town], "")
        out[is_town] = np.char.add(prefix, town_names).astype(object)
    return out.astype(str)


def _names(gender: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Surname (Zipf-like weights) + one or two given-name characters."""
    n = len(gender)
    surnames = np.array(list(_SURNAMES))
    w = 1.0 / np.arange(1, len(surnames) + 1) ** 0.9
    sur = surnames[rng.choice(len(surnames), n, p=w / w.sum())]
    male, female, anyc = (np.array(list(s)) for s in (_GIVEN_MALE, _GIVEN_FEMALE, _GIVEN_ANY))
    last = np.where(gender == "男", male[rng.integers(0, len(male), n)], female[rng.integers(0, len(female), n)])
    mid = anyc[rng.integers(0, len(anyc), n)]
    two = rng.random(n) < 0.72
    given = np.where(two, np.char.add(mid, last), last)
    return np.char.add(sur, given)


def _layout(units: pl.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Leaders, sections and position levels for every person, unit by unit (vectorised)."""
    size = units["size"].to_numpy().astype(np.int64)
    n = int(size.sum())
    unit = np.repeat(np.arange(len(size)), size)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    j = np.arange(n) - start[unit]  # position inside the unit
    leaders = np.where(size < 8, 1, np.clip(np.round(size * 0.1), 2, 7)).astype(np.int64)
    rest = size - leaders
    target = rng.uniform(4.5, 8.0, len(size))
    n_sec = np.clip(np.round(rest / target), np.ceil(rest / 10), np.maximum(1, rest // 3)).astype(np.int64)
    is_leader = j < leaders[unit]
    jr = j - leaders[unit]
    m, s = rest[unit], n_sec[unit]
    sec_k = np.where(is_leader, -1, (jr * s) // np.maximum(m, 1))  # near-equal sections
    sec_start = -((-sec_k * m) // np.maximum(s, 1))  # ceil(k*m/s): first position of section k
    pos_in_sec = jr - sec_start
    sec_size = -((-(sec_k + 1) * m) // np.maximum(s, 1)) - sec_start
    level = np.full(n, 3, dtype=np.int8)
    level[~is_leader & (pos_in_sec == 0)] = 1
    level[~is_leader & (pos_in_sec == 1) & (sec_size >= 5)] = 2
    level[is_leader] = 0
    sec_offset = np.concatenate([[0], np.cumsum(n_sec + 1)[:-1]])
    section_idx = sec_offset[unit] + sec_k + 1  # +1: the leaders' group is section 0 of each unit
    return {
        "unit_idx": unit,
        "j": j,
        "level": level,
        "section_idx": section_idx,
        "sec_k": sec_k,
        "is_principal": j == 0,
        "is_head": ~is_leader & (pos_in_sec == 0),
        "n_sections": n_sec,
        "section_offset": sec_offset,
        "unit_size": size[unit],
    }


def _dedupe_names(names: np.ndarray, must_be_unique: np.ndarray, gender: np.ndarray, rng) -> np.ndarray:
    """Re-draw names of reviewers that clash with another name, so a reviewer's name points at one person."""
    names = names.copy()
    for _ in range(8):
        frame = pl.DataFrame({"name": names})
        clash = frame.select(pl.col("name").is_duplicated()).to_series().to_numpy() & must_be_unique
        if not clash.any():
            break
        names[clash] = _names(gender[clash], rng)
    return names


def build_city(persons: int, rng: np.random.Generator, quarters: int, start_year: int) -> City:
    """The demo city's units, sections and people (see City)."""
    if persons < 5:
        raise ValueError("the demo city needs at least 5 people")
    units = _unit_frame(persons, rng)
    lay = _layout(units, rng)
    n = len(lay["unit_idx"])
    utype = units["unit_type"].to_numpy()[lay["unit_idx"]]
    n_units = units.height

    gender = np.where(rng.random(n) < np.where(lay["level"] <= 1, 0.72, 0.5), "男", "女")
    names = _names(gender, rng)
    names = _dedupe_names(names, lay["is_head"] | lay["is_principal"], gender, rng)
    age = np.clip(np.round(rng.normal(np.array([50, 44, 39, 33])[lay["level"]], 6)), 22, 59).astype(np.int64)
    service = np.clip(age - 23 - rng.integers(0, 4, n), 0, 38)

    level_names = np.array(LEVELS)[lay["level"]]
    rank = np.empty(n, dtype=object)
    for lvl, options in _RANKS.items():  # a handful of levels, not rows
        mask = level_names == lvl
        rank[mask] = np.array(options)[rng.integers(0, len(options), int(mask.sum()))]

    unit_canonical = rng.random(n_units) < np.where(units["unit_type"].to_numpy() == "窗口服务", 0.7, 0.08)
    staff = np.where(unit_canonical[lay["unit_idx"]] & (rng.random(n) < 0.85), "参公", "公务员")
    special = np.full(n, "", dtype=object)
    draw = rng.random(n)
    general = lay["level"] == 3
    young = age < 32
    special[general & young & (draw < 0.09) & (utype == "乡镇街道")] = "选调生"
    special[general & young & (draw < 0.03) & (utype != "乡镇街道")] = "选调生"
    special[general & (draw > 0.99)] = "挂职干部"
    special[general & (utype == "乡镇街道") & (draw > 0.96) & (draw <= 0.99)] = "驻村干部"

    # Sections: names by unit type, reviewer = head (leaders: the principal).
    sec_total = int((lay["n_sections"] + 1).sum())
    sec_unit = np.repeat(np.arange(n_units), lay["n_sections"] + 1)
    sec_k = np.arange(sec_total) - lay["section_offset"][sec_unit] - 1
    sec_type = units["unit_type"].to_numpy()[sec_unit]
    sec_name = np.full(sec_total, LEADERS_SECTION, dtype=object)
    for t, options in _SECTION_NAMES.items():
        mask = (sec_type == t) & (sec_k >= 0)
        k = sec_k[mask]
        sec_name[mask] = np.where(
            k < len(options),
            np.array(options)[np.minimum(k, len(options) - 1)],
            np.char.add(np.char.add("第", (k + 1).astype(str)), "业务组"),
        )
    reviewer_pidx = np.full(sec_total, -1, dtype=np.int64)
    heads = np.flatnonzero(lay["is_head"])
    reviewer_pidx[lay["section_idx"][heads]] = heads
    principals = np.flatnonzero(lay["is_principal"])
    reviewer_pidx[lay["section_idx"][principals]] = principals
    # Some units let one head review two small sections (the last one), a normal arrangement.
    shared = (rng.random(n_units) < 0.12) & (lay["n_sections"] >= 3)
    last = lay["section_offset"][shared] + lay["n_sections"][shared]
    reviewer_pidx[last] = reviewer_pidx[last - 1]
    # Small units often have one reviewer: the principal grades every section (a sole reviewer).
    (sole_rng,) = rng.spawn(1)  # a child stream, as for the tiny units
    sole = (sole_rng.random(n_units) < SHARE_SOLE_REVIEWER) & (units["size"].to_numpy() <= SOLE_REVIEWER_MAX_SIZE)
    sole_sections = sole[sec_unit]
    reviewer_pidx[sole_sections] = principals[sec_unit[sole_sections]]

    section_frame = pl.DataFrame(
        {
            "section_idx": np.arange(sec_total, dtype=np.int64),
            "unit_idx": sec_unit.astype(np.int32),
            "sec_k": sec_k.astype(np.int32),
            "section": sec_name.astype(str),
            "reviewer_person_idx": reviewer_pidx,
            "reviewer": names[reviewer_pidx],
            "size": np.bincount(lay["section_idx"], minlength=sec_total).astype(np.int32),
        }
    )

    join_t, leave_t = _presence(n, lay, quarters, rng)
    people = (
        pl.DataFrame(
            {
                "person_idx": np.arange(n, dtype=np.int64),
                "person_id": np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), max(6, len(str(n))))),
                "name": names,
                "unit_idx": lay["unit_idx"].astype(np.int32),
                "section_idx": lay["section_idx"].astype(np.int64),
                "position_level": level_names,
                "rank": rank.astype(str),
                "staff_type": staff,
                "special_group": special.astype(str),
                "gender": gender,
                "age": age.astype(np.int32),
                "years_of_service": service.astype(np.int32),
                "join_t": join_t.astype(np.int32),
                "leave_t": leave_t.astype(np.int32),
                "is_head": lay["is_head"],
                "is_principal": lay["is_principal"],
            }
        )
        .with_columns(special_group=pl.col("special_group").replace("", None))
        .join(units.select("unit_idx", "unit", "unit_type"), on="unit_idx", how="left")
        .join(section_frame.select("section_idx", "section"), on="section_idx", how="left")
    )
    units = units.with_columns(
        n_sections=pl.Series(lay["n_sections"].astype(np.int32)),
        section_offset=pl.Series(lay["section_offset"].astype(np.int64)),
        has_scores=pl.Series(rng.random(n_units) < 0.8),
        has_subscores=pl.Series(rng.random(n_units) < 0.35),
        sole_reviewer=pl.Series(sole),
    ).with_columns(has_subscores=pl.col("has_subscores") & pl.col("has_scores"))
    return City(units=units, people=people, sections=section_frame, quarters=quarters, start_year=start_year)


def _presence(n: int, lay: dict[str, np.ndarray], quarters: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """First and past-last quarter index of each person.

    In units of 20 or more, a few staff leave and are replaced in the same quarter by a colleague who joins (a vacancy filled),
    and a few more join as the unit grows; leaders and section heads stay, so reviewers are stable.
    """
    join_t = np.zeros(n, dtype=np.int64)
    leave_t = np.full(n, quarters, dtype=np.int64)
    if quarters < 2:
        return join_t, leave_t
    movable = (lay["level"] >= 2) & (lay["unit_size"] >= MIN_SIZE_WITH_TURNOVER)
    draw = rng.random(n)
    leaver = movable & (draw > 0.935)
    leave_t[leaver] = rng.integers(1, quarters, int(leaver.sum()))
    # The replacement: the next movable person of the same unit in a random order, if not leaving too.
    order = np.lexsort((rng.random(n), lay["unit_idx"]))
    order = order[movable[order]]
    nxt = np.roll(order, -1)
    same_unit = lay["unit_idx"][nxt] == lay["unit_idx"][order]
    pair = leaver[order] & same_unit & ~leaver[nxt]
    pair &= ~np.concatenate([[False], pair[:-1]])  # one replacement per joiner
    join_t[nxt[pair]] = leave_t[order[pair]]
    growth = movable & (draw < 0.03) & (join_t == 0) & ~leaver
    join_t[growth] = rng.integers(1, quarters, int(growth.sum()))
    return join_t, leave_t
