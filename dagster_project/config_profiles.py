"""The profile half of the configuration: golden record survivorship, traits,
predictive models, next best action (in cdp.yml) and segments (segments.yml).

Each part is parsed into a frozen dataclass and handed to dbt as vars, so a
marketer changes a rule in YAML and the next run applies it; no code changes.
Every problem names its key, like the rest of the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from dagster_project.canonical import IDENTITY_FIELDS

SURVIVORSHIP_RULES = ("trust", "recency", "completeness")
# Attributes of the golden record; device ids are identifiers, not attributes.
GOLDEN_FIELDS = tuple(f for f in IDENTITY_FIELDS if f != "device_id")


class ProfileConfigError(ValueError):
    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True)
class AttributeRule:
    """Fields that survive together (from one record) and how that record is chosen."""
    name: str
    fields: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class GoldenRecordConfig:
    source_trust: tuple[str, ...]
    attributes: tuple[AttributeRule, ...]


@dataclass(frozen=True)
class TraitsConfig:
    as_of: str  # latest_data | today
    session_gap_minutes: int
    abandoned_cart_after_days: int
    abandoned_cart_lookback_days: int
    recent_days: int
    loyalty_tiers: dict[str, int]


@dataclass(frozen=True)
class ModelsConfig:
    folder: Path
    churn_horizon_days: int
    propensity_horizon_days: int

    def periods(self, horizon: int) -> dict[str, tuple[int, ...]]:
        """Time-based split, in days before as_of: a model trains on snapshots
        whose label window ends before the hold-out snapshot's begins, is
        evaluated on the hold-out (label window ending at as_of) and scores
        the snapshot at as_of."""
        return {"train": (2 * horizon, 2 * horizon + horizon // 2), "holdout": (horizon,), "score": (0,)}

    @property
    def snapshot_offsets(self) -> list[int]:
        """Every snapshot (days before as_of) that some model needs."""
        offsets = set()
        for horizon in (self.churn_horizon_days, self.propensity_horizon_days):
            for days in self.periods(horizon).values():
                offsets.update(days)
        return sorted(offsets)


@dataclass(frozen=True)
class ActionRule:
    action: str
    when: str
    description: str = ""


@dataclass(frozen=True)
class SegmentConfig:
    name: str
    description: str
    where: str
    marketing: bool = True
    suppressions: tuple[str, ...] = ()  # extra named suppressions
    ignore_global_suppressions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SegmentsConfig:
    path: Path
    global_suppressions: dict[str, str]  # name -> SQL condition over customer_traits
    suppressions: dict[str, str]  # every named suppression (global and optional)
    segments: tuple[SegmentConfig, ...]


def _mapping(raw: Any, key: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProfileConfigError(key, "must be a mapping")
    return raw


def _only(raw: dict, allowed: set[str], key: str) -> None:
    for name in raw:
        if name not in allowed:
            raise ProfileConfigError(f"{key}.{name}", f"unknown key (expected one of: {', '.join(sorted(allowed))})")


def _check_sql(condition: str, key: str) -> None:
    """A condition must at least parse as a SQL boolean expression."""
    if not isinstance(condition, str) or not condition.strip():
        raise ProfileConfigError(key, "must be a SQL boolean expression (a non-empty string)")
    try:
        duckdb.sql(f"select 1 from (select 1) as t where false and ({condition})").fetchall()
    except duckdb.ParserException as error:
        raise ProfileConfigError(key, f"is not valid SQL: {error}") from None
    except duckdb.Error:
        pass  # columns are only known in the warehouse; parsing is what we check here


def parse_golden_record(raw: Any, source_names: list[str]) -> GoldenRecordConfig:
    raw = _mapping(raw, "golden_record")
    _only(raw, {"source_trust", "default_rule", "attributes"}, "golden_record")
    trust = tuple(raw.get("source_trust") or ())
    for name in trust:
        if name not in source_names:
            raise ProfileConfigError("golden_record.source_trust", f"names no declared source ({name!r})")
    default_rule = raw.get("default_rule", "recency")
    if default_rule not in SURVIVORSHIP_RULES:
        raise ProfileConfigError("golden_record.default_rule", f"must be one of {', '.join(SURVIVORSHIP_RULES)}")
    rules: list[AttributeRule] = []
    claimed: set[str] = set()
    for name, spec in _mapping(raw.get("attributes"), "golden_record.attributes").items():
        key = f"golden_record.attributes.{name}"
        spec = _mapping(spec, key)
        _only(spec, {"fields", "rule"}, key)
        fields = tuple(spec.get("fields") or [name])
        rule = spec.get("rule", default_rule)
        if rule not in SURVIVORSHIP_RULES:
            raise ProfileConfigError(f"{key}.rule", f"must be one of {', '.join(SURVIVORSHIP_RULES)}, not {rule!r}")
        for field in fields:
            if field not in GOLDEN_FIELDS:
                raise ProfileConfigError(f"{key}.fields", f"unknown attribute {field!r} (one of: {', '.join(GOLDEN_FIELDS)})")
            if field in claimed:
                raise ProfileConfigError(f"{key}.fields", f"{field!r} is already in another attribute")
            claimed.add(field)
        rules.append(AttributeRule(name, fields, rule))
    rules += [AttributeRule(f, (f,), default_rule) for f in GOLDEN_FIELDS if f not in claimed]
    return GoldenRecordConfig(trust, tuple(rules))


def parse_traits(raw: Any) -> TraitsConfig:
    raw = _mapping(raw, "traits")
    _only(raw, {"as_of", "session_gap_minutes", "abandoned_cart", "recent_days", "loyalty_tiers"}, "traits")
    as_of = raw.get("as_of", "latest_data")
    if as_of not in ("latest_data", "today"):
        raise ProfileConfigError("traits.as_of", "must be latest_data (the newest activity in the warehouse) or today")
    cart = _mapping(raw.get("abandoned_cart"), "traits.abandoned_cart")
    _only(cart, {"after_days", "lookback_days"}, "traits.abandoned_cart")
    tiers = {str(k): int(v) for k, v in _mapping(raw.get("loyalty_tiers"), "traits.loyalty_tiers").items()}
    if tiers and sorted(tiers.values()) != list(tiers.values()):
        raise ProfileConfigError("traits.loyalty_tiers", "list tiers from the lowest to the highest points threshold")
    return TraitsConfig(
        as_of=as_of,
        session_gap_minutes=_positive(raw.get("session_gap_minutes", 30), "traits.session_gap_minutes"),
        abandoned_cart_after_days=_positive(cart.get("after_days", 1), "traits.abandoned_cart.after_days"),
        abandoned_cart_lookback_days=_positive(cart.get("lookback_days", 14), "traits.abandoned_cart.lookback_days"),
        recent_days=_positive(raw.get("recent_days", 30), "traits.recent_days"),
        loyalty_tiers=tiers or {"bronze": 0, "silver": 1000, "gold": 3000, "platinum": 8000},
    )


def parse_models(raw: Any, root: Path) -> ModelsConfig:
    raw = _mapping(raw, "models")
    _only(raw, {"folder", "churn_horizon_days", "propensity_horizon_days"}, "models")
    return ModelsConfig(
        folder=(root / str(raw.get("folder", "ml_models"))).resolve(),
        churn_horizon_days=_positive(raw.get("churn_horizon_days", 180), "models.churn_horizon_days"),
        propensity_horizon_days=_positive(raw.get("propensity_horizon_days", 90), "models.propensity_horizon_days"),
    )


def parse_actions(raw: Any) -> tuple[ActionRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProfileConfigError("next_best_action", "must be a list of rules, first match wins")
    rules = []
    for index, spec in enumerate(raw):
        key = f"next_best_action[{index}]"
        spec = _mapping(spec, key)
        _only(spec, {"action", "when", "description"}, key)
        if not spec.get("action"):
            raise ProfileConfigError(f"{key}.action", "is required")
        _check_sql(spec.get("when"), f"{key}.when")
        rules.append(ActionRule(str(spec["action"]), spec["when"], spec.get("description", "")))
    return tuple(rules)


def load_segments(path: Path) -> SegmentsConfig:
    """segments.yml: named suppressions and segments over marts.customer_traits."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ProfileConfigError("segments", f"file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise ProfileConfigError("segments", f"{path} is not valid YAML: {error}") from None
    raw = _mapping(raw, str(path))
    _only(raw, {"suppressions", "segments"}, path.name)
    suppressions: dict[str, str] = {}
    global_names: list[str] = []
    for name, spec in _mapping(raw.get("suppressions"), "suppressions").items():
        key = f"{path.name}: suppressions.{name}"
        spec = _mapping(spec, key)
        _only(spec, {"description", "when", "global"}, key)
        _check_sql(spec.get("when"), f"{key}.when")
        suppressions[name] = spec["when"]
        if spec.get("global", False):
            global_names.append(name)
    segments = []
    seen: set[str] = set()
    for index, spec in enumerate(raw.get("segments") or []):
        key = f"{path.name}: segments[{index}]"
        spec = _mapping(spec, key)
        _only(spec, {"name", "description", "where", "marketing", "suppressions", "ignore_global_suppressions"}, key)
        name = spec.get("name")
        if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
            raise ProfileConfigError(f"{key}.name", f"must be a lower-case identifier (it names the dbt model seg_<name>), not {name!r}")
        if name in seen:
            raise ProfileConfigError(f"{key}.name", f"segment {name!r} is declared twice")
        seen.add(name)
        _check_sql(spec.get("where"), f"{key}.where")
        for option in ("suppressions", "ignore_global_suppressions"):
            for suppression in spec.get(option) or []:
                if suppression not in suppressions:
                    raise ProfileConfigError(f"{key}.{option}", f"names no declared suppression ({suppression!r})")
        segments.append(SegmentConfig(
            name=name,
            description=spec.get("description", ""),
            where=spec["where"],
            marketing=bool(spec.get("marketing", True)),
            suppressions=tuple(spec.get("suppressions") or ()),
            ignore_global_suppressions=tuple(spec.get("ignore_global_suppressions") or ()),
        ))
    return SegmentsConfig(path, {n: suppressions[n] for n in global_names}, suppressions, tuple(segments))


def applied_suppressions(segments: SegmentsConfig, segment: SegmentConfig) -> list[str]:
    """Names of the suppressions that apply to a segment: global ones for
    marketing segments (unless opted out) plus its own."""
    names = [n for n in segments.global_suppressions if segment.marketing and n not in segment.ignore_global_suppressions]
    return names + [n for n in segment.suppressions if n not in names]


def _positive(value: Any, key: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ProfileConfigError(key, f"must be a positive whole number, not {value!r}") from None
    if number <= 0:
        raise ProfileConfigError(key, f"must be positive, not {number}")
    return number
