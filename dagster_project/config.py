"""Load and validate `cdp.yml`, the one configuration file.

Paths are resolved against the config file's own folder, so a copy of the file
in an empty folder is a fresh workspace. The file is validated by the pydantic
models below (config_schema.py: unknown keys are errors); every problem is
reported with the key it concerns and why, before anything runs.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import duckdb
import yaml
from pydantic import (AfterValidator, BeforeValidator, Field, NonNegativeInt, PositiveFloat, PositiveInt, StrictBool,
                      ValidationInfo, field_validator, model_validator)

from dagster_project import config_profiles as profiles
from dagster_project.canonical import (
    CONSENT_PURPOSES,
    ENRICHMENT_ATTRIBUTES,
    DEFAULT_MAX_LENGTH,
    DESCRIPTIVE_FIELDS,
    FIELD_LIMITS,
    REFUND_FIELDS,
    KIND_ENTITY,
    KIND_FIELDS,
    KIND_REQUIRED,
    fields_for_kind,
)
from dagster_project.config_profiles import WorkspacePath
from dagster_project.config_schema import ConfigError, Problem, Strict, validate
from dagster_project.spark.settings import Engine, SparkSpec, check_engine

__all__ = ["ConfigError", "load_config"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "cdp.yml"
BUNDLED_EXPECTATIONS = PROJECT_ROOT / "expectations"
BUNDLED_DBT_PROJECT = PROJECT_ROOT / "dbt"
BUNDLED_SEGMENTS = PROJECT_ROOT / "segments.yml"

FORMATS = ("csv", "jsonl", "parquet")
COLUMN_TYPES = ("string", "int", "float", "decimal", "bool", "date", "timestamp")
COLUMN_TYPE_SQL = {
    "string": "varchar",
    "int": "bigint",
    "float": "double",
    "decimal": "decimal(18,2)",  # at the column's scale: see column_sql_type
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
# Money is exact: a `decimal` column has 18 digits, `scale` of them decimals.
DECIMAL_PRECISION = 18
DEFAULT_SCALE = 2
# A relative bound of a date/timestamp column: today, now, optionally +/- N days.
RELATIVE_BOUND = re.compile(r"^(today|now)([+-]\d+d)?$")
# Purposes that are marketing: their destinations leave out everyone matching
# a global suppression of segments.yml unless they list their own.
MARKETING_PURPOSES = ("email_marketing", "sms_marketing", "ad_personalisation")
# What each channel needs to reach a person, and sends by default.
CHANNEL_IDENTIFIERS = {
    "email": ("email", "first_name", "last_name"),
    "sms": ("phone", "first_name"),
    "ads": ("email_sha256", "phone_sha256"),
    "postal": ("first_name", "last_name", "address_line", "postcode", "city", "country"),
    "any": (),
}
EXPORTABLE_IDENTIFIERS = (
    "email", "phone", "first_name", "last_name", "address_line", "postcode", "city", "region", "country",
    "loyalty_id", "email_sha256", "phone_sha256",
)
# Names that become folder, file, table or model names: plain identifiers,
# so that no name can reach outside its folder or into SQL.
NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")


def _plain_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise Problem(f"must be a lower-case identifier (a-z, 0-9, _; not starting with a digit), not {value!r}")
    return value


def _codec(value: str) -> str:
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise Problem(f"unknown encoding {value!r} (a Python codec name, e.g. utf-8, cp1252, latin-1)") from None


Name = Annotated[str, AfterValidator(_plain_name)]
Text = Annotated[str, BeforeValidator(str)]  # a YAML scalar read as text (44, GB, 2024)


@dataclass(frozen=True)
class ColumnContract:
    name: str
    type: str = "string"
    required: bool = False  # the column must exist and every value be non-empty
    formats: tuple[str, ...] = ()  # strptime formats for date/timestamp, tried in order
    allowed: tuple[str, ...] = ()
    pattern: str | None = None  # regular expression a non-empty value must match
    min: float | str | None = None  # a number, or for dates a date / `today` / `now+1d` (resolved at load)
    max: float | str | None = None
    scale: int = DEFAULT_SCALE  # decimals of a `decimal` column
    max_length: int | None = None  # characters of a text value
    allow_control_chars: bool = False  # C0 control characters other than tab (NUL, ...)
    allow_line_breaks: bool = False  # line feed and carriage return (free text)
    on_violation: str = "row"  # row: quarantine the row | field: null the value, log it, load the row


def column_sql_type(column: ColumnContract) -> str:
    """The DuckDB type of a contract column in raw.<source>."""
    if column.type == "decimal":
        return f"decimal({DECIMAL_PRECISION},{column.scale})"
    return COLUMN_TYPE_SQL[column.type]


class ColumnSpec(Strict):
    """A contract column as written in cdp.yml (its name is its key)."""
    type: Literal[COLUMN_TYPES] = "string"
    required: StrictBool = False
    formats: tuple[str, ...] = ()
    allowed: tuple[Text, ...] = ()
    pattern: str | None = None
    min: Any = None
    max: Any = None
    scale: int = Field(DEFAULT_SCALE, ge=0, le=DECIMAL_PRECISION)
    max_length: PositiveInt | None = None
    allow_control_chars: StrictBool = False
    allow_line_breaks: StrictBool = False

    @field_validator("min", "max")
    @classmethod
    def _bound(cls, value: Any, info: ValidationInfo) -> float | str | None:
        """A number, or for a date/timestamp column an ISO date or a relative bound."""
        if value is None or "type" not in info.data:
            return value
        if info.data["type"] in ("date", "timestamp"):
            text = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
            try:
                if not RELATIVE_BOUND.match(text):
                    dt.datetime.fromisoformat(text)
            except ValueError:
                raise Problem(f"must be a date (YYYY-MM-DD), today or now, optionally +/-Nd, not {value!r}") from None
            return text
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Problem(f"must be a number, not {value!r}")
        return value

    @model_validator(mode="after")
    def _dates_have_formats(self) -> ColumnSpec:
        if self.type in ("date", "timestamp") and not self.formats:
            raise Problem(f"a {self.type} column needs at least one format, e.g. '%Y-%m-%d'", "formats")
        return self


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    glob: str
    format: str
    contract: dict[str, ColumnContract]
    mapping: dict[str, str]
    entity: str
    identity_source: str | None = None  # rows belong to identity records of another source
    links_to: str | None = None  # account_ref values name records of this source
    delimiter: str = ","
    allow_refunds: bool = False  # negative quantity/price/amount are refunds, not broken values
    encoding: str = "utf-8"  # a Python codec name; files are decoded with it
    # A person has at most one record of this source (a census return, a tax
    # form file); None: detected from the links (identity.one_per_person).
    one_record_per_person: bool | None = None
    # Every record of this source is of a person at least this old on the record's
    # updated_at (tax forms, benefit claims: adults); 0: any age; None: read from the
    # records (identity.source_ages).
    min_age: int | None = None

    @property
    def staging_model(self) -> str:
        return f"stg_{self.name}__{self.entity}"

    @property
    def has_identity_records(self) -> bool:
        """Whether rows of this source are identity records of their own (a partner's
        encoded records are matched apart, on keys: identity/partner_match.py)."""
        return self.identity_source is None and self.kind not in ("partner", "enrichment")


class SourceSpec(Strict):
    """A source as written in cdp.yml; `build` gives its SourceConfig."""
    name: Name
    kind: Literal[tuple(KIND_FIELDS)]
    entity: str | None = None  # default: the kind's entity
    glob: str
    format: Literal[FORMATS]
    contract: dict[str, ColumnSpec] = Field(min_length=1)
    mapping: dict[str, Text]  # canonical field -> column name or SQL expression over the contract's columns
    identity_source: str | None = None
    links_to: str | None = None
    delimiter: str = ","
    allow_refunds: StrictBool = False
    encoding: Annotated[str, AfterValidator(_codec)] = "utf-8"
    one_record_per_person: StrictBool | None = None
    min_age: Annotated[NonNegativeInt, Field(le=120)] | None = None

    @model_validator(mode="after")
    def _mapping_fits_kind_and_contract(self) -> SourceSpec:
        allowed = fields_for_kind(self.kind)
        for target in self.mapping:
            if target not in allowed:
                raise Problem(f"not a canonical field of kind {self.kind!r} (one of: {', '.join(allowed)})", f"mapping.{target}")
        for target in ["source_record_id", *KIND_REQUIRED[self.kind]]:
            if target not in self.mapping:
                raise Problem(f"is required for a source of kind {self.kind!r}", f"mapping.{target}")
        if self.links_to and "account_ref" not in self.mapping:
            raise Problem("is required when links_to is set", "mapping.account_ref")
        if self.min_age is not None and (self.identity_source or self.kind in ("partner", "enrichment")):
            raise Problem("applies to sources with identity records of their own", "min_age")
        if self.min_age and "updated_at" not in self.mapping:
            raise Problem("needs mapping.updated_at: the date on which a record's person is at least that old", "min_age")
        _check_expressions(self.mapping, self.columns())
        return self

    def columns(self) -> dict[str, ColumnContract]:
        return {name: ColumnContract(name, **spec.model_dump()) for name, spec in self.contract.items()}

    def build(self) -> SourceConfig:
        explicit = {name: spec.model_fields_set for name, spec in self.contract.items()}
        return SourceConfig(
            **self.model_dump(exclude={"contract", "entity"}),
            contract=_with_field_limits(self.columns(), explicit, self.mapping, self.allow_refunds),
            entity=self.entity or KIND_ENTITY[self.kind],
        )


def _with_field_limits(
    contract: dict[str, ColumnContract], explicit: dict[str, set[str]], mapping: dict[str, str], allow_refunds: bool
) -> dict[str, ColumnContract]:
    """Give each column the default limits of the canonical field it maps to
    directly (cdp.yml keys win), and decide how a broken value is handled:
    an optional column that only feeds descriptive fields is nulled, field by
    field; any other column quarantines the row."""
    limited = {}
    for name, column in contract.items():
        defaults: dict[str, Any] = {}
        if column.type == "string":
            defaults["max_length"] = DEFAULT_MAX_LENGTH
        for target, expression in mapping.items():
            if expression.strip().strip('"') == name:
                defaults.update(FIELD_LIMITS.get(target, {}))
                if allow_refunds and target in REFUND_FIELDS:
                    defaults.pop("min", None)
        defaults = {k: v for k, v in defaults.items() if k not in explicit[name] and _applies(k, column.type)}
        feeds = [t for t, e in mapping.items() if re.search(rf'(?<![\w"]){re.escape(name)}(?![\w"])|"{re.escape(name)}"', e)]
        descriptive = not column.required and all(t in DESCRIPTIVE_FIELDS for t in feeds)
        limited[name] = dataclasses.replace(column, **defaults, on_violation="field" if descriptive else "row")
    return limited


def _applies(limit: str, col_type: str) -> bool:
    if limit in ("min", "max"):
        return col_type not in ("string", "bool")
    return col_type == "string"


def _check_expressions(mapping: dict[str, str], contract: dict[str, ColumnContract]) -> None:
    """Compile every mapping expression against the contract's columns in DuckDB."""
    con = duckdb.connect()
    try:
        columns = ", ".join(f'"{c.name}" {column_sql_type(c)}' for c in contract.values())
        con.execute(f"create table source_row ({columns})")
        for target, expression in mapping.items():
            try:
                con.execute(f"select {expression} from source_row limit 0")
            except duckdb.Error as error:
                reason = str(error).splitlines()[0]
                raise Problem(f"bad expression {expression!r}: {reason}", f"mapping.{target}") from None
    finally:
        con.close()


class AudienceConfig(Strict):
    name: Name
    model: Name
    suite: Name
    description: str = ""
    min_rows: int = 1
    max_rows: int = 1_000_000_000
    size_band: PositiveFloat | None = None  # allowed relative change from the previous export, e.g. 0.5 for ±50%


class DestinationConfig(Strict):
    name: Name
    purpose: Literal[tuple(CONSENT_PURPOSES)]
    channel: Literal[tuple(CHANNEL_IDENTIFIERS)]
    audiences: tuple[str, ...]
    formats: tuple[Literal["parquet", "csv"], ...] = Field(("parquet",), min_length=1)
    identifiers: tuple[Literal[EXPORTABLE_IDENTIFIERS], ...] = ()  # golden-record columns sent, or *_sha256 forms
    suppressions: tuple[str, ...] | None = None  # named suppressions of segments.yml; None = the default
    enrichment: tuple[Literal[ENRICHMENT_ATTRIBUTES], ...] = ()  # third-party columns sent, if its purpose allows

    @field_validator("identifiers")
    @classmethod
    def _channel_identifiers(cls, identifiers: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """The channel's identifiers by default; only hashed ones for ads."""
        if {"purpose", "channel"} - set(info.data):
            return identifiers
        identifiers = identifiers or CHANNEL_IDENTIFIERS[info.data["channel"]]
        if "ads" == info.data["channel"] or info.data["purpose"] == "ad_personalisation":
            for identifier in identifiers:
                if not identifier.endswith("_sha256"):
                    raise Problem(f"an ad destination receives only hashed identifiers, not {identifier!r} (use email_sha256, phone_sha256)")
        return identifiers


class EnrichmentSpec(Strict):
    """Third-party data (sources of kind enrichment): how old a row may be before
    it is flagged stale, and the destination purposes allowed to receive it."""
    max_age_days: PositiveInt = 365
    purposes: tuple[Literal[tuple(CONSENT_PURPOSES)], ...] = ()


class SampleSpec(Strict):
    people: PositiveInt = 5000
    seed: int = 42


class IdentitySpec(Strict):
    deterministic_keys: tuple[Literal["email", "phone", "loyalty_id", "device_id"], ...] = ("email", "phone", "loyalty_id")
    default_phone_country_code: Text = "44"
    model: WorkspacePath = "identity_model.json"
    match_threshold: float = Field(0.9, gt=0, lt=1)  # a probability
    # Below the threshold, records of two duplicate-free sources are still linked from this probability
    # when each is the other's clearly best candidate (identity/best_links.py); at the threshold or above: never.
    best_link_min_probability: float = Field(0.01, gt=0, lt=1)
    partner_dice_threshold: float = Field(0.8, gt=0, le=1)  # Bloom-filter Dice similarity for a partner match
    partner_key_min_dice: float = Field(0.6, ge=0, le=1)  # a hashed email/phone + birthday match must be at least this similar
    partner_margin: float = Field(0.05, ge=0, lt=1)  # the best person must lead the runner-up by this much Dice
    veto_weight: float = -4.0
    max_shared_group: int = Field(20, ge=2)
    ambiguity_margin: float = Field(5.0, ge=0)  # a match weight difference
    # first names / dates of birth that clearly differ are never joined; auto: unless the records show no households
    household_safe: Literal[True, False, "auto"] = "auto"
    decisions: WorkspacePath = "identity_decisions.csv"


class QualitySpec(Strict):
    max_cluster_size: PositiveInt = 200


class ConsentSpec(Strict):
    defaults: dict[Literal[tuple(CONSENT_PURPOSES)], Literal["granted", "withdrawn"]] = {}


class CdpSpec(Strict):
    """cdp.yml as written; paths are resolved against the file's folder."""
    warehouse: WorkspacePath = "data/warehouse.duckdb"
    published: WorkspacePath = "data/published.duckdb"
    landing: WorkspacePath = "data/landing"
    exports: WorkspacePath = "data/exports"
    truth: WorkspacePath = "truth.csv"
    expectations: WorkspacePath = str(BUNDLED_EXPECTATIONS)
    engine: Engine = "duckdb"  # spark: the tables on Apache Spark (spark/settings.py)
    spark: SparkSpec = {}
    sample: SampleSpec = {}
    identity: IdentitySpec = {}
    consent: ConsentSpec = {}
    enrichment: EnrichmentSpec = {}
    quality: QualitySpec = {}
    sources: tuple[SourceSpec, ...] = ()
    golden_record: profiles.GoldenRecordSpec = {}
    traits: profiles.TraitsConfig = {}
    models: profiles.ModelsConfig = {}
    next_best_action: tuple[profiles.ActionRule, ...] = ()
    segments: WorkspacePath | None = None  # default: the workspace's own segments.yml, else the bundled one
    erasure_requests: str = "privacy/erasure_requests_*.csv"
    audiences: tuple[AudienceConfig, ...] = ()
    destinations: tuple[DestinationConfig, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> CdpSpec:
        """Names that must point at something declared elsewhere in the file."""
        check_engine(self.engine)
        if self.published == self.warehouse:
            raise Problem("must differ from warehouse: readers use the published copy while a run writes the warehouse", "published")
        names = [s.name for s in self.sources]
        for source in self.sources:
            if names.count(source.name) > 1:
                raise Problem("is declared twice", f"sources.{source.name}")
            for key in ("identity_source", "links_to"):
                if getattr(source, key) not in (None, *names):
                    raise Problem(f"names no declared source ({getattr(source, key)!r})", f"sources.{source.name}.{key}")
        for name in self.golden_record.source_trust:
            if name not in names:
                raise Problem(f"names no declared source ({name!r})", "golden_record.source_trust")
        audiences = {a.name for a in self.audiences}
        for index, destination in enumerate(self.destinations):
            for audience in destination.audiences:
                if audience not in audiences:
                    raise Problem(f"names no declared audience ({audience!r})", f"destinations[{index}].audiences")
            if destination.enrichment and destination.purpose not in self.enrichment.purposes:
                raise Problem(f"purpose {destination.purpose} may not receive enrichment (enrichment.purposes)",
                              f"destinations[{index}].enrichment")
        return self


@dataclass(frozen=True)
class CdpConfig:
    path: Path
    warehouse: Path
    published: Path  # read-only snapshot of the warehouse for analysts and BI, replaced after each good run
    landing: Path
    exports: Path
    truth: Path
    expectations: Path
    sample_people: int
    sample_seed: int
    deterministic_keys: tuple[str, ...]
    default_phone_country_code: str
    identity_model: Path
    match_threshold: float
    best_link_min_probability: float
    partner_dice_threshold: float
    partner_key_min_dice: float
    partner_margin: float
    veto_weight: float
    max_shared_group: int
    ambiguity_margin: float
    household_safe: bool | str  # False: first-name and date-of-birth conflicts are only the model's evidence; "auto"
    identity_decisions: Path  # human must-link / cannot-link decisions (CSV beside cdp.yml)
    max_cluster_size: int
    consent_defaults: dict[str, str]
    enrichment_max_age_days: int
    enrichment_purposes: tuple[str, ...]  # destination purposes that may receive enrichment columns
    audiences: tuple[AudienceConfig, ...]
    destinations: tuple[DestinationConfig, ...]
    sources: tuple[SourceConfig, ...]
    golden_record: profiles.GoldenRecordConfig
    traits: profiles.TraitsConfig
    models: profiles.ModelsConfig
    next_best_action: tuple[profiles.ActionRule, ...]
    segments_path: Path
    erasure_requests: str  # glob of erasure request files under the landing folder
    engine: str  # duckdb | spark
    spark: SparkSpec  # where Spark runs when engine is spark
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def state_dir(self) -> Path:
        """Where the workspace keeps generated state (dbt build, Dagster home)."""
        return self.root / ".cdp"

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    @property
    def segments(self) -> profiles.SegmentsConfig:
        """segments.yml, read when needed (a marketer edits it between runs)."""
        try:
            return profiles.load_segments(self.segments_path)
        except ConfigError as error:
            raise ConfigError(error.key, error.reason, self.path) from None

    def destination_suppressions(self, destination: DestinationConfig) -> tuple[str, ...]:
        """Suppressions applied to a destination's exports."""
        if destination.suppressions is not None:
            return destination.suppressions
        if destination.purpose in MARKETING_PURPOSES:
            return tuple(self.segments.global_suppressions)
        return ()

    def audience(self, name: str) -> AudienceConfig:
        for audience in self.audiences:
            if audience.name == name:
                return audience
        raise KeyError(name)

    def check_ready_to_run(self) -> None:
        """Paths that must exist before a pipeline run."""
        if not self.landing.is_dir():
            raise ConfigError("landing", f"folder {self.landing} does not exist (run `cdp generate` or point it at your files)", self.path)
        if not self.expectations.is_dir():
            raise ConfigError("expectations", f"folder {self.expectations} does not exist", self.path)
        for audience in self.audiences:
            suite = self.expectations / f"{audience.suite}.json"
            if not suite.is_file():
                raise ConfigError(f"audiences.{audience.name}.suite", f"suite file {suite} does not exist", self.path)


def resolve_config_path(path: str | os.PathLike | None = None) -> Path:
    """The config to use: the argument, else $CDP_CONFIG, else the repository's cdp.yml."""
    chosen = path or os.environ.get("CDP_CONFIG") or DEFAULT_CONFIG
    return Path(chosen).expanduser().resolve()


def load_config(path: str | os.PathLike | None = None) -> CdpConfig:
    config_path = resolve_config_path(path)
    if not config_path.is_file():
        raise ConfigError("--config", f"config file {config_path} does not exist")
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError("(file)", f"not valid YAML: {error}", config_path) from error
    try:
        return _build(raw, config_path)
    except ConfigError as error:
        raise ConfigError(error.key, error.reason, config_path) from None


def _sources_by_name(raw: dict) -> Callable[[list], list]:
    """An error about a key a source declares (other than its name) names the
    source (sources.crm.mapping...); unknown, missing and name keys keep its index."""
    def relabel(loc: list) -> list:
        if len(loc) > 2 and loc[0] == "sources" and isinstance(loc[1], int):
            declared = raw["sources"][loc[1]]
            if loc[2] in SourceSpec.model_fields and loc[2] in declared and loc[2] != "name":
                return ["sources", declared["name"], *loc[2:]]  # a name in error fails first, at index
        return loc
    return relabel


def _build(raw: Any, config_path: Path) -> CdpConfig:
    root = config_path.parent
    spec = validate(CdpSpec, raw, context={"root": root}, relabel=_sources_by_name(raw))
    segments_path = spec.segments or ((root / "segments.yml").resolve() if (root / "segments.yml").is_file() else BUNDLED_SEGMENTS)
    segments = profiles.load_segments(segments_path)  # fail at load, naming the key, not mid-run
    enriched = {f"seg_{s.name}" for s in segments.segments if s.enrichment}
    for index, destination in enumerate(spec.destinations):
        for name in destination.suppressions or ():
            if name not in segments.suppressions:
                raise ConfigError(f"destinations[{index}].suppressions", f"names no suppression of {segments_path.name} ({name!r})")
        for audience in spec.audiences:
            # Membership of a segment on enrichment discloses the enrichment (a large household).
            if audience.name in destination.audiences and audience.model in enriched and destination.purpose not in spec.enrichment.purposes:
                raise ConfigError(f"destinations[{index}].audiences", f"audience {audience.name} is a segment on enrichment "
                                  f"({segments_path.name}); purpose {destination.purpose} may not receive enrichment (enrichment.purposes)")
    identity = spec.identity
    return CdpConfig(
        path=config_path,
        **spec.model_dump(include={"warehouse", "published", "landing", "exports", "truth", "expectations", "erasure_requests"}),
        sample_people=spec.sample.people,
        sample_seed=spec.sample.seed,
        **identity.model_dump(include={"deterministic_keys", "default_phone_country_code", "match_threshold",
                                       "best_link_min_probability", "veto_weight",
                                       "max_shared_group", "ambiguity_margin", "household_safe", "partner_dice_threshold",
                                       "partner_key_min_dice", "partner_margin"}),
        identity_model=identity.model,
        identity_decisions=identity.decisions,
        max_cluster_size=spec.quality.max_cluster_size,
        consent_defaults={purpose: spec.consent.defaults.get(purpose, "withdrawn") for purpose in CONSENT_PURPOSES},
        enrichment_max_age_days=spec.enrichment.max_age_days,
        enrichment_purposes=spec.enrichment.purposes,
        audiences=spec.audiences,
        destinations=spec.destinations,
        sources=tuple(source.build() for source in spec.sources),
        golden_record=spec.golden_record.rules(),
        traits=spec.traits,
        models=spec.models,
        next_best_action=spec.next_best_action,
        segments_path=segments_path,
        engine=spec.engine,
        spark=spec.spark,
        raw=raw,
    )
