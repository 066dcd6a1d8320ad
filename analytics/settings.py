"""Settings: the local rules and thresholds, as frozen dataclasses loaded from one TOML file.

Figures that vary between places (DOMAIN.md, "local") live here, never as constants in code.
The defaults below are the national/most common ones; `settings.toml` at the project root
(or the file named by $KAOHE_SETTINGS / --settings) overrides any of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.store import PROJECT_ROOT

DEFAULT_SETTINGS_FILE = PROJECT_ROOT / "settings.toml"


@dataclass(frozen=True)
class UnitCap:
    """One unit's own caps (a district may set each unit's 优秀 ratio between 15% and 35%); None = the general cap."""

    unit: str
    good_cap: float | None = None
    excellent_cap: float | None = None


@dataclass(frozen=True)
class Quota:
    good_cap: float = 0.40  # share of 好 per unit and quarter
    good_min_quota: int = 1  # quota = max(floor(cap * n), this)
    excellent_cap: float = 0.20  # annual 优秀
    excellent_cap_approved: float = 0.25  # with approval
    approved_units: tuple[str, ...] = ()  # units allowed the higher cap
    # [quota.unit_caps]: unit -> its own caps; they win over the general and the approved cap.
    unit_caps: tuple[UnitCap, ...] = ()

    def unit_cap(self, unit: str) -> UnitCap | None:
        return next((c for c in self.unit_caps if c.unit == unit), None)


@dataclass(frozen=True)
class Gate:
    """Quarterly record the rules require for annual 优秀."""

    min_good: int = 2
    no_average_or_below: bool = True


@dataclass(frozen=True)
class LaneRule:
    name: str
    unit_types: tuple[str, ...] = ()
    position_levels: tuple[str, ...] = ()
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lanes:
    # Columns that make the default lane, in order, when no explicit lane column exists.
    default_columns: tuple[str, ...] = ("unit_type", "position_level")
    min_size: int = 5  # lanes (per period) smaller than this are pooled
    rules: tuple[LaneRule, ...] = ()  # explicit definitions; first match wins


@dataclass(frozen=True)
class IndexWeights:
    """Composite index from sub-score columns (kept in `extra`), e.g. 工作实绩 0.6 + 工作作风 0.4."""

    name: str
    weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranking:
    indexes: tuple[IndexWeights, ...] = (
        IndexWeights("实绩作风", {"工作实绩": 0.6, "工作作风": 0.4}),
        IndexWeights("个性共性", {"个性指标": 0.7, "共性指标": 0.3}),
    )


@dataclass(frozen=True)
class Rotation:
    draws: int = 2000  # Monte Carlo draws under H0 (at most: the sequential test stops early)
    stop_after: int = 10  # Besag-Clifford: a test stops once this many null draws are at least as extreme
    alpha: float = 0.05  # q-value threshold for a flag
    min_quarters: int = 4
    min_people: int = 4
    no_consecutive_good_units: tuple[str, ...] = ()  # units with a declared "no 好 two quarters running" rule


@dataclass(frozen=True)
class Leniency:
    alpha: float = 0.05
    min_graded: int = 20  # person-quarters before a unit/reviewer is judged
    ridge: float = 1.0
    min_effect: float = 0.15  # share of 好 above the comparison (15 points) before a significant leniency is a flag
    min_people: int = 3  # people a reviewer grades before an unscored comparison is made
    min_quarters: int = 4  # quarters before a unit's grade mix is judged (compression)
    min_unit_size: int = 5  # median people per quarter before a unit's 好 share is tested against its lane
    min_lane_units: int = 5  # units a lane needs for its own reference distribution; else all units are used
    compression_min_people: int = 4  # people a unit needs before its grade mix can be called compressed
    compression_modal_share: float = 0.8  # share in one grade before a unit counts as compressed


@dataclass(frozen=True)
class SilentNegatives:
    min_quarters: int = 8
    min_people: int = 15
    alpha: float = 0.05


@dataclass(frozen=True)
class Outliers:
    contamination: float = 0.02
    n_estimators: int = 200
    top_features: int = 3
    min_graded: int = 8  # graded people a unit-quarter needs before it enters the model (shares of 5 jump by 20%)
    min_quarters_flagged: int = (
        3  # outlying quarters before a unit is reported (one odd quarter, and the change back, is thin evidence)
    )


@dataclass(frozen=True)
class Outcomes:
    # Outcomes dated in the first `carry_months` months of a year answer to the previous year's result.
    carry_months: int = 6
    rewarded_after_average_kinds: tuple[str, ...] = ("promotion", "rank_promotion", "award", "commendation", "merit")
    # Annual grades that rule out a bonus (2020 rules: 基本称职 -> no bonus).
    no_bonus_grades: tuple[str, ...] = ("基本称职", "不称职", "基本合格", "不合格")
    alpha: float = 0.05  # q-value threshold for the concentration and lane-share tests
    min_group: int = 3  # people in a group (section, position level, lane) before it is tested
    min_ratio: float = 1.5  # observed / expected rewards before a concentration is reported
    concentration_groups: tuple[str, ...] = ("section", "position_level")  # groups compared within a unit


@dataclass(frozen=True)
class Privacy:
    k_min: int = 5  # groups smaller than this are suppressed in research views
    # Researchers' SQL tables are k-anonymous on these (generalised in this order, most specific first);
    # survey respondents' attributes (性别, 年龄段, 职级 ...) always count as quasi-identifiers.
    person_quasi_identifiers: tuple[str, ...] = (
        "rank", "section", "staff_type", "lane", "position_level", "unit_type", "unit",
    )  # fmt: skip


@dataclass(frozen=True)
class Auth:
    required: bool | None = None  # None: required whenever the store holds imported data
    session_minutes: int = 60
    max_failed_logins: int = 5
    lock_minutes: int = 15


@dataclass(frozen=True)
class Importing:
    """[import]: what the importer may accept beyond the national vocabulary."""

    # Local grade spellings -> canonical grade, e.g. {"优" = "好"}; each accepted one is reported with its rows.
    grade_aliases: dict[str, str] = field(default_factory=dict)
    score_min: float = 0.0  # scores outside [score_min, score_max] are refused by row
    score_max: float = 100.0


@dataclass(frozen=True)
class Settings:
    quota: Quota = Quota()
    gate: Gate = Gate()
    lanes: Lanes = Lanes()
    ranking: Ranking = Ranking()
    rotation: Rotation = Rotation()
    leniency: Leniency = Leniency()
    silent_negatives: SilentNegatives = SilentNegatives()
    outliers: Outliers = Outliers()
    outcomes: Outcomes = Outcomes()
    privacy: Privacy = Privacy()
    auth: Auth = Auth()
    importing: Importing = Importing()  # the [import] section (`import` is a Python keyword)

    def replace(self, **sections: Any) -> Settings:
        """A copy with some sections swapped: `s.replace(quota=Quota(good_cap=0.3))`."""
        return dataclasses.replace(self, **sections)


class SettingsError(ValueError):
    pass


def _build(cls: type, raw: Any, where: str) -> Any:
    if not dataclasses.is_dataclass(cls):
        return raw
    if not isinstance(raw, dict):
        raise SettingsError(f"{where}: expected a table, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise SettingsError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(fields)}")
    values = {}
    for name, value in raw.items():
        default = getattr(cls(), name) if _has_defaults(cls) else None
        if name == "unit_caps":
            values[name] = _unit_caps(value, f"{where}.unit_caps")
        elif name == "rules":
            values[name] = tuple(_build(LaneRule, r, f"{where}.rules") for r in value)
        elif name == "indexes":
            values[name] = tuple(IndexWeights(**r) for r in value)
        elif dataclasses.is_dataclass(default):
            values[name] = _build(type(default), value, f"{where}.{name}")
        elif isinstance(default, tuple) or (isinstance(value, list)):
            values[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        else:
            values[name] = value
    built = cls(**values)
    if cls is Quota:
        for cap in ("good_cap", "excellent_cap", "excellent_cap_approved"):
            _share(getattr(built, cap), f"{where}.{cap}")
    return built


CAP_KEYS = ("good_cap", "excellent_cap")


def _share(value: Any, where: str) -> float:
    """A cap: a number in (0, 1]; a clear message naming the key otherwise (35 for 35% is the usual slip)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        hint = (
            f" (write {value / 100:g} for {value:g}%)" if isinstance(value, int | float) and 5 <= value <= 100 else ""
        )
        raise SettingsError(f"{where}: a cap is a share between 0 and 1, like 0.35; got {value!r}{hint}")
    return float(value)


def _unit_caps(raw: Any, where: str) -> tuple[UnitCap, ...]:
    """[quota.unit_caps] as UnitCaps: `"城关镇" = { excellent_cap = 0.30 }`, one line per unit."""
    if not isinstance(raw, dict):
        raise SettingsError(f'{where}: expected a table of units, like "城关镇" = {{ excellent_cap = 0.30 }}')
    caps = []
    for unit, given in raw.items():
        here = f'{where}."{unit}"'
        if not isinstance(given, dict) or not given:
            raise SettingsError(
                f"{here}: expected {{ good_cap = …, excellent_cap = … }} (either or both), got {given!r}"
            )
        unknown = sorted(set(given) - set(CAP_KEYS))
        if unknown:
            raise SettingsError(f"{here}: unknown cap(s) {unknown}; known: {list(CAP_KEYS)}")
        caps.append(UnitCap(unit=str(unit), **{k: _share(v, f"{here}.{k}") for k, v in given.items()}))
    return tuple(caps)


def _has_defaults(cls: type) -> bool:
    return all(
        f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        for f in dataclasses.fields(cls)
    )


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Settings from `path`, else $KAOHE_SETTINGS, else settings.toml; defaults for anything unsaid."""
    p = Path(path or os.environ.get("KAOHE_SETTINGS") or DEFAULT_SETTINGS_FILE)
    if not p.exists():
        if path:
            raise SettingsError(f"settings file not found: {p}")
        return Settings()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{p}: not valid TOML: {exc}") from None
    if "import" in raw:
        raw["importing"] = raw.pop("import")
    return _build(Settings, raw, p.name)


def settings_hash(settings: Settings) -> str:
    """A hash of every setting (any change may change a detector's answer or a lane)."""
    text = json.dumps(dataclasses.asdict(settings), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()[:12]
