"""The profile half of the configuration: golden record survivorship, traits,
predictive models, next best action (in cdp.yml) and segments (segments.yml).

Each part is validated by a pydantic model and handed to dbt as vars, so a
marketer changes a rule in YAML and the next run applies it; no code changes.
Every problem names its key, like the rest of the config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import yaml
from pydantic import AfterValidator, Field, PlainSerializer, PositiveInt, StrictBool, ValidationInfo, field_validator, model_validator

from dagster_project.canonical import ENRICHMENT_ATTRIBUTES, IDENTITY_FIELDS
from dagster_project.config_schema import ConfigError, Problem, Strict, validate

SURVIVORSHIP_RULES = ("trust", "recency", "completeness")
Rule = Literal[SURVIVORSHIP_RULES]
# Attributes of the golden record; device ids are identifiers, not attributes.
GOLDEN_FIELDS = tuple(f for f in IDENTITY_FIELDS if f not in ("device_id", "sex"))


def _sql_condition(condition: str) -> str:
    """A condition must at least parse as a SQL boolean expression."""
    if not condition.strip():
        raise Problem("must be a SQL boolean expression (a non-empty string)")
    try:
        duckdb.sql(f"select 1 from (select 1) as t where false and ({condition})").fetchall()
    except duckdb.ParserException as error:
        raise Problem(f"is not valid SQL: {error}") from None
    except duckdb.Error:
        pass  # columns are only known in the warehouse; parsing is what we check here
    return condition


SqlCondition = Annotated[str, AfterValidator(_sql_condition)]


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


class AttributeSpec(Strict):
    fields: tuple[str, ...] = ()  # default: the attribute's own name
    rule: Rule | None = None  # default: golden_record.default_rule


class GoldenRecordSpec(Strict):
    source_trust: tuple[str, ...] = ()  # source names, checked against the sources in cdp.yml
    default_rule: Rule = "recency"
    attributes: dict[str, AttributeSpec] = {}

    @model_validator(mode="after")
    def _each_field_once(self) -> GoldenRecordSpec:
        claimed: set[str] = set()
        for name, spec in self.attributes.items():
            for field in spec.fields or (name,):
                key = f"attributes.{name}.fields"
                if field not in GOLDEN_FIELDS:
                    raise Problem(f"unknown attribute {field!r} (one of: {', '.join(GOLDEN_FIELDS)})", key)
                if field in claimed:
                    raise Problem(f"{field!r} is already in another attribute", key)
                claimed.add(field)
        return self

    def rules(self) -> GoldenRecordConfig:
        """The listed attributes, then every other field on its own under the default rule."""
        rules = [AttributeRule(name, spec.fields or (name,), spec.rule or self.default_rule) for name, spec in self.attributes.items()]
        claimed = {field for rule in rules for field in rule.fields}
        rules += [AttributeRule(f, (f,), self.default_rule) for f in GOLDEN_FIELDS if f not in claimed]
        return GoldenRecordConfig(self.source_trust, tuple(rules))


class AbandonedCart(Strict):
    after_days: PositiveInt = 1
    lookback_days: PositiveInt = 14


class TraitsConfig(Strict):
    as_of: Literal["latest_data", "today"] = "latest_data"  # the newest activity in the warehouse, or the run date
    session_gap_minutes: PositiveInt = 30
    abandoned_cart: AbandonedCart = {}
    recent_days: PositiveInt = 30
    loyalty_tiers: dict[str, int] = {"bronze": 0, "silver": 1000, "gold": 3000, "platinum": 8000}

    @field_validator("loyalty_tiers")
    @classmethod
    def _lowest_first(cls, tiers: dict[str, int]) -> dict[str, int]:
        if sorted(tiers.values()) != list(tiers.values()):
            raise Problem("list tiers from the lowest to the highest points threshold")
        return tiers

    @property
    def abandoned_cart_after_days(self) -> int:
        return self.abandoned_cart.after_days

    @property
    def abandoned_cart_lookback_days(self) -> int:
        return self.abandoned_cart.lookback_days


def in_workspace(value: str, info: ValidationInfo) -> Path:
    """A path of cdp.yml, relative to the config file's folder."""
    return (info.context["root"] / value).resolve()


# Written as a non-empty string, read as the resolved Path (dumped as that Path).
WorkspacePath = Annotated[
    str, Field(min_length=1), AfterValidator(in_workspace), PlainSerializer(lambda path: path, return_type=Any)
]


class ModelsConfig(Strict):
    folder: WorkspacePath = "ml_models"
    churn_horizon_days: PositiveInt = 180
    propensity_horizon_days: PositiveInt = 90
    # An incremental run retrains a model older than this; `cdp run --full` always does.
    max_age_days: PositiveInt = 30

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


class ActionRule(Strict):
    action: str = Field(min_length=1)
    when: SqlCondition
    description: str = ""


def _segment_name(name: str) -> str:
    if not name.isidentifier() or name != name.lower():
        raise Problem(f"must be a lower-case identifier (it names the dbt model seg_<name>), not {name!r}")
    return name


class SegmentConfig(Strict):
    name: Annotated[str, AfterValidator(_segment_name)]
    description: str = ""
    where: SqlCondition
    marketing: StrictBool = True
    suppressions: tuple[str, ...] = ()  # extra named suppressions
    ignore_global_suppressions: tuple[str, ...] = ()
    # The condition may use third-party enrichment (fresh rows of marts.customer_enrichment);
    # its audiences may go only to destinations whose purpose is in enrichment.purposes (cdp.yml).
    enrichment: StrictBool = False

    @model_validator(mode="after")
    def _enrichment_declared(self) -> SegmentConfig:
        used = [a for a in ENRICHMENT_ATTRIBUTES if re.search(rf"\b{a}\b", self.where)]
        if used and not self.enrichment:
            raise Problem(f"uses enrichment ({', '.join(used)}): declare `enrichment: true` so only destinations "
                          f"allowed enrichment receive it", "where")
        return self


class SuppressionSpec(Strict):
    description: str = ""
    when: SqlCondition
    global_: StrictBool = Field(False, alias="global")


class SegmentsSpec(Strict):
    suppressions: dict[str, SuppressionSpec] = {}
    segments: tuple[SegmentConfig, ...] = ()

    @model_validator(mode="after")
    def _names_and_references(self) -> SegmentsSpec:
        seen: set[str] = set()
        for index, segment in enumerate(self.segments):
            if segment.name in seen:
                raise Problem(f"segment {segment.name!r} is declared twice", f"segments[{index}].name")
            seen.add(segment.name)
            for option in ("suppressions", "ignore_global_suppressions"):
                for name in getattr(segment, option):
                    if name not in self.suppressions:
                        raise Problem(f"names no declared suppression ({name!r})", f"segments[{index}].{option}")
        return self


@dataclass(frozen=True)
class SegmentsConfig:
    path: Path
    global_suppressions: dict[str, str]  # name -> SQL condition over customer_traits
    suppressions: dict[str, str]  # every named suppression (global and optional)
    segments: tuple[SegmentConfig, ...]


def load_segments(path: Path) -> SegmentsConfig:
    """segments.yml: named suppressions and segments over marts.customer_traits."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("segments", f"file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise ConfigError("segments", f"{path} is not valid YAML: {error}") from None
    spec = validate(SegmentsSpec, raw, prefix=f"{path.name}: ")
    return SegmentsConfig(
        path,
        global_suppressions={name: s.when for name, s in spec.suppressions.items() if s.global_},
        suppressions={name: s.when for name, s in spec.suppressions.items()},
        segments=spec.segments,
    )


def applied_suppressions(segments: SegmentsConfig, segment: SegmentConfig) -> list[str]:
    """Names of the suppressions that apply to a segment: global ones for
    marketing segments (unless opted out) plus its own."""
    names = [n for n in segments.global_suppressions if segment.marketing and n not in segment.ignore_global_suppressions]
    return names + [n for n in segment.suppressions if n not in names]
