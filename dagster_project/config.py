"""Load and validate `cdp.yml`, the one configuration file.

Paths are resolved against the config file's own folder, so a copy of the file
in an empty folder is a fresh workspace. Every problem is reported with the
key it concerns and why, before anything runs.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from dagster_project import config_profiles as profiles
from dagster_project.canonical import (
    CONSENT_PURPOSES,
    DEFAULT_MAX_LENGTH,
    DESCRIPTIVE_FIELDS,
    FIELD_LIMITS,
    REFUND_FIELDS,
    KIND_ENTITY,
    KIND_FIELDS,
    KIND_REQUIRED,
    fields_for_kind,
)

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


class ConfigError(ValueError):
    """A problem in cdp.yml, naming the key and the reason."""

    def __init__(self, key: str, reason: str, path: Path | None = None):
        self.key, self.reason = key, reason
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{key}: {reason}")


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

    @property
    def staging_model(self) -> str:
        return f"stg_{self.name}__{self.entity}"

    @property
    def has_identity_records(self) -> bool:
        """Whether rows of this source are identity records of their own."""
        return self.identity_source is None


@dataclass(frozen=True)
class AudienceConfig:
    name: str
    model: str
    suite: str
    description: str = ""
    min_rows: int = 1
    max_rows: int = 1_000_000_000
    size_band: float | None = None  # allowed relative change from the previous export


@dataclass(frozen=True)
class DestinationConfig:
    name: str
    purpose: str
    channel: str  # email | sms | ads | postal | any
    audiences: tuple[str, ...]
    formats: tuple[str, ...] = ("parquet",)
    identifiers: tuple[str, ...] = ()  # golden-record columns sent, or *_sha256 forms
    suppressions: tuple[str, ...] | None = None  # named suppressions of segments.yml; None = the default


# Purposes that are marketing: their destinations leave out everyone matching
# a global suppression of segments.yml unless they list their own.
MARKETING_PURPOSES = ("email_marketing", "sms_marketing", "ad_personalisation")


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
    veto_weight: float
    max_shared_group: int
    ambiguity_margin: float
    identity_decisions: Path  # human must-link / cannot-link decisions (CSV beside cdp.yml)
    max_cluster_size: int
    consent_defaults: dict[str, str]
    audiences: tuple[AudienceConfig, ...]
    destinations: tuple[DestinationConfig, ...]
    sources: tuple[SourceConfig, ...]
    golden_record: profiles.GoldenRecordConfig
    traits: profiles.TraitsConfig
    models: profiles.ModelsConfig
    next_best_action: tuple[profiles.ActionRule, ...]
    segments_path: Path
    erasure_requests: str  # glob of erasure request files under the landing folder
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
        except profiles.ProfileConfigError as error:
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


def _check_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ConfigError(key, f"must be a lower-case identifier (a-z, 0-9, _; not starting with a digit), not {value!r}")
    return value


TOP_KEYS = {
    "warehouse", "published", "landing", "exports", "truth", "expectations", "sample", "identity", "consent", "quality",
    "golden_record", "traits", "models", "next_best_action", "segments", "erasure_requests", "audiences",
    "destinations", "sources",
}
SOURCE_KEYS = {"name", "kind", "entity", "glob", "format", "contract", "mapping", "identity_source", "links_to", "delimiter", "allow_refunds", "encoding",
               "one_record_per_person"}
LIMIT_KEYS = {"min", "max", "max_length", "allow_control_chars", "allow_line_breaks"}
COLUMN_KEYS = {"type", "required", "formats", "allowed", "pattern", "scale", *LIMIT_KEYS}


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
        return _parse(raw, config_path)
    except ConfigError as error:
        if error.args[0].startswith(str(config_path)):
            raise
        raise ConfigError(error.key, error.reason, config_path) from None


def _parse(raw: dict, config_path: Path) -> CdpConfig:
    _check_keys(raw, TOP_KEYS, "")
    root = config_path.parent

    def path_of(key: str, default: str | None = None) -> Path:
        value = raw.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(key, "must be a path (string)")
        return (root / value).resolve()

    sample = raw.get("sample") or {}
    _check_keys(sample, {"people", "seed"}, "sample")
    identity = raw.get("identity") or {}
    _check_keys(
        identity,
        {"deterministic_keys", "default_phone_country_code", "model", "match_threshold", "veto_weight", "max_shared_group",
         "ambiguity_margin", "decisions"},
        "identity",
    )
    match_threshold = float(identity.get("match_threshold", 0.9))
    if not 0 < match_threshold < 1:
        raise ConfigError("identity.match_threshold", f"must be a probability between 0 and 1, not {match_threshold}")
    max_shared_group = int(identity.get("max_shared_group", 20))
    ambiguity_margin = float(identity.get("ambiguity_margin", 5.0))
    if ambiguity_margin < 0:
        raise ConfigError("identity.ambiguity_margin", f"must be a match weight difference of 0 or more, not {ambiguity_margin}")
    if max_shared_group < 2:
        raise ConfigError("identity.max_shared_group", "must be at least 2")
    keys = tuple(identity.get("deterministic_keys", ["email", "phone", "loyalty_id"]))
    for key in keys:
        if key not in ("email", "phone", "loyalty_id", "device_id"):
            raise ConfigError("identity.deterministic_keys", f"unknown key {key!r} (email, phone, loyalty_id, device_id)")

    quality = raw.get("quality") or {}
    _check_keys(quality, {"max_cluster_size"}, "quality")
    sources = tuple(_parse_source(s, i) for i, s in enumerate(_list(raw, "sources")))
    _check_source_references(sources)
    audiences = tuple(_parse_audience(a, i) for i, a in enumerate(_list(raw, "audiences")))
    destinations = tuple(_parse_destination(d, i, audiences) for i, d in enumerate(_list(raw, "destinations")))
    try:
        golden_record = profiles.parse_golden_record(raw.get("golden_record"), [s.name for s in sources])
        traits = profiles.parse_traits(raw.get("traits"))
        models = profiles.parse_models(raw.get("models"), root)
        actions = profiles.parse_actions(raw.get("next_best_action"))
        segments_path = _segments_path(raw, root)
        segments = profiles.load_segments(segments_path)  # fail at load, naming the key, not mid-run
        for index, destination in enumerate(destinations):
            for name in destination.suppressions or ():
                if name not in segments.suppressions:
                    raise ConfigError(f"destinations[{index}].suppressions", f"names no suppression of {segments_path.name} ({name!r})")
    except profiles.ProfileConfigError as error:
        raise ConfigError(error.key, error.reason) from None

    warehouse, published = path_of("warehouse", "data/warehouse.duckdb"), path_of("published", "data/published.duckdb")
    if published == warehouse:
        raise ConfigError("published", "must differ from warehouse: readers use the published copy while a run writes the warehouse")
    return CdpConfig(
        path=config_path,
        warehouse=warehouse,
        published=published,
        landing=path_of("landing", "data/landing"),
        exports=path_of("exports", "data/exports"),
        truth=path_of("truth", "truth.csv"),
        expectations=path_of("expectations") if "expectations" in raw else BUNDLED_EXPECTATIONS,
        sample_people=int(sample.get("people", 5000)),
        sample_seed=int(sample.get("seed", 42)),
        deterministic_keys=keys,
        default_phone_country_code=str(identity.get("default_phone_country_code", "44")),
        identity_model=(root / str(identity.get("model", "identity_model.json"))).resolve(),
        match_threshold=match_threshold,
        veto_weight=float(identity.get("veto_weight", -4.0)),
        max_shared_group=max_shared_group,
        ambiguity_margin=ambiguity_margin,
        identity_decisions=(root / str(identity.get("decisions", "identity_decisions.csv"))).resolve(),
        max_cluster_size=int(quality.get("max_cluster_size", 200)),
        consent_defaults=_parse_consent(raw.get("consent") or {}),
        audiences=audiences,
        destinations=destinations,
        sources=sources,
        golden_record=golden_record,
        traits=traits,
        models=models,
        next_best_action=actions,
        segments_path=segments_path,
        erasure_requests=str(raw.get("erasure_requests", "privacy/erasure_requests_*.csv")),
        raw=raw,
    )


def _segments_path(raw: dict, root: Path) -> Path:
    """segments.yml: the configured file, else the workspace's own, else the bundled one."""
    if "segments" in raw:
        return (root / str(raw["segments"])).resolve()
    own = root / "segments.yml"
    return own.resolve() if own.is_file() else BUNDLED_SEGMENTS


def _list(raw: dict, key: str) -> list:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(key, "must be a list")
    return value


def _check_keys(mapping: Any, allowed: set[str], where: str) -> None:
    if not isinstance(mapping, dict):
        raise ConfigError(where or "(top level)", "must be a mapping")
    for key in mapping:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise ConfigError(f"{prefix}{key}", f"unknown key (expected one of: {', '.join(sorted(allowed))})")


def _parse_source(raw: dict, index: int) -> SourceConfig:
    where = f"sources[{index}]"
    _check_keys(raw, SOURCE_KEYS, where)
    for key in ("name", "kind", "glob", "format", "contract", "mapping"):
        if key not in raw:
            raise ConfigError(f"{where}.{key}", "is required")
    name = _check_name(raw["name"], f"{where}.name")
    where = f"sources.{name}"
    kind = raw["kind"]
    if kind not in KIND_FIELDS:
        raise ConfigError(f"{where}.kind", f"unknown kind {kind!r} (one of: {', '.join(KIND_FIELDS)})")
    if raw["format"] not in FORMATS:
        raise ConfigError(f"{where}.format", f"unknown format {raw['format']!r} (one of: {', '.join(FORMATS)})")
    contract = _parse_contract(raw["contract"], f"{where}.contract")
    mapping = _parse_mapping(raw["mapping"], kind, contract, f"{where}.mapping")
    allow_refunds = bool(raw.get("allow_refunds", False))
    contract = _with_field_limits(contract, raw["contract"], mapping, allow_refunds)
    return SourceConfig(
        name=name,
        kind=kind,
        glob=str(raw["glob"]),
        format=raw["format"],
        contract=contract,
        mapping=mapping,
        entity=str(raw.get("entity") or KIND_ENTITY[kind]),
        identity_source=raw.get("identity_source"),
        links_to=raw.get("links_to"),
        delimiter=str(raw.get("delimiter", ",")),
        allow_refunds=allow_refunds,
        encoding=_parse_encoding(raw.get("encoding", "utf-8"), f"{where}.encoding"),
        one_record_per_person=_parse_optional_bool(raw.get("one_record_per_person"), f"{where}.one_record_per_person"),
    )


def _parse_optional_bool(value: Any, where: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(where, f"must be true or false (or left out), not {value!r}")
    return value


def _parse_encoding(value: Any, where: str) -> str:
    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise ConfigError(where, f"unknown encoding {value!r} (a Python codec name, e.g. utf-8, cp1252, latin-1)") from None


def _parse_contract(raw: Any, where: str) -> dict[str, ColumnContract]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(where, "must map column names to their contract")
    contract = {}
    for column, spec in raw.items():
        spec = spec or {}
        _check_keys(spec, COLUMN_KEYS, f"{where}.{column}")
        col_type = spec.get("type", "string")
        if col_type not in COLUMN_TYPES:
            raise ConfigError(f"{where}.{column}.type", f"unknown type {col_type!r} (one of: {', '.join(COLUMN_TYPES)})")
        formats = tuple(spec.get("formats") or ())
        if col_type in ("date", "timestamp") and not formats:
            raise ConfigError(f"{where}.{column}.formats", f"a {col_type} column needs at least one format, e.g. '%Y-%m-%d'")
        scale = spec.get("scale", DEFAULT_SCALE)
        if not isinstance(scale, int) or not 0 <= scale <= DECIMAL_PRECISION:
            raise ConfigError(f"{where}.{column}.scale", f"must be a whole number from 0 to {DECIMAL_PRECISION}")
        max_length = spec.get("max_length")
        if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
            raise ConfigError(f"{where}.{column}.max_length", "must be a positive whole number")
        contract[column] = ColumnContract(
            name=column,
            type=col_type,
            required=bool(spec.get("required", False)),
            formats=formats,
            allowed=tuple(str(v) for v in spec.get("allowed") or ()),
            pattern=spec.get("pattern"),
            min=_bound(spec.get("min"), col_type, f"{where}.{column}.min"),
            max=_bound(spec.get("max"), col_type, f"{where}.{column}.max"),
            scale=scale,
            max_length=max_length,
            allow_control_chars=bool(spec.get("allow_control_chars", False)),
            allow_line_breaks=bool(spec.get("allow_line_breaks", False)),
        )
    return contract


def _bound(value: Any, col_type: str, key: str) -> float | str | None:
    """A min/max: a number, or for a date/timestamp column an ISO date or a relative bound."""
    if value is None:
        return None
    if col_type in ("date", "timestamp"):
        text = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
        if RELATIVE_BOUND.match(text):
            return text
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(key, f"must be a date (YYYY-MM-DD), today or now, optionally +/-Nd, not {value!r}") from None
        return text
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, f"must be a number, not {value!r}")
    return value


def _with_field_limits(
    contract: dict[str, ColumnContract], raw_contract: dict, mapping: dict[str, str], allow_refunds: bool
) -> dict[str, ColumnContract]:
    """Give each column the default limits of the canonical field it maps to
    directly (cdp.yml keys win), and decide how a broken value is handled:
    an optional column that only feeds descriptive fields is nulled, field by
    field; any other column quarantines the row."""
    limited = {}
    for name, column in contract.items():
        explicit = set(raw_contract[name] or {})
        defaults: dict[str, Any] = {}
        if column.type == "string":
            defaults["max_length"] = DEFAULT_MAX_LENGTH
        for target, expression in mapping.items():
            if expression.strip().strip('"') == name:
                defaults.update(FIELD_LIMITS.get(target, {}))
                if allow_refunds and target in REFUND_FIELDS:
                    defaults.pop("min", None)
        defaults = {k: v for k, v in defaults.items() if k not in explicit and _applies(k, column.type)}
        feeds = [t for t, e in mapping.items() if re.search(rf'(?<![\w"]){re.escape(name)}(?![\w"])|"{re.escape(name)}"', e)]
        descriptive = not column.required and all(t in DESCRIPTIVE_FIELDS for t in feeds)
        limited[name] = dataclasses.replace(column, **defaults, on_violation="field" if descriptive else "row")
    return limited


def _applies(limit: str, col_type: str) -> bool:
    if limit in ("min", "max"):
        return col_type not in ("string", "bool")
    return col_type == "string"


def _parse_mapping(raw: Any, kind: str, contract: dict[str, ColumnContract], where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConfigError(where, "must map canonical fields to column names or SQL expressions")
    allowed = fields_for_kind(kind)
    for target in raw:
        if target not in allowed:
            raise ConfigError(f"{where}.{target}", f"not a canonical field of kind {kind!r} (one of: {', '.join(allowed)})")
    for target in ["source_record_id", *KIND_REQUIRED[kind]]:
        if target not in raw:
            raise ConfigError(f"{where}.{target}", f"is required for a source of kind {kind!r}")
    mapping = {target: str(expression) for target, expression in raw.items()}
    _check_expressions(mapping, contract, where)
    return mapping


def _check_expressions(mapping: dict[str, str], contract: dict[str, ColumnContract], where: str) -> None:
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
                raise ConfigError(f"{where}.{target}", f"bad expression {expression!r}: {reason}") from None
    finally:
        con.close()


def _check_source_references(sources: tuple[SourceConfig, ...]) -> None:
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"sources.{duplicate}", "is declared twice")
    for source in sources:
        for key in ("identity_source", "links_to"):
            target = getattr(source, key)
            if target is not None and target not in names:
                raise ConfigError(f"sources.{source.name}.{key}", f"names no declared source ({target!r})")
        if source.links_to and "account_ref" not in source.mapping:
            raise ConfigError(f"sources.{source.name}.mapping.account_ref", "is required when links_to is set")


def _parse_audience(raw: dict, index: int) -> AudienceConfig:
    where = f"audiences[{index}]"
    _check_keys(raw, {"name", "description", "model", "suite", "min_rows", "max_rows", "size_band"}, where)
    if "size_band" in raw and not 0 < float(raw["size_band"]):
        raise ConfigError(f"{where}.size_band", "must be a positive share, e.g. 0.5 for ±50% of the previous export")
    for key in ("name", "model", "suite"):
        if key not in raw:
            raise ConfigError(f"{where}.{key}", "is required")
    return AudienceConfig(
        name=_check_name(raw["name"], f"{where}.name"),
        model=_check_name(raw["model"], f"{where}.model"),
        suite=_check_name(raw["suite"], f"{where}.suite"),
        description=raw.get("description", ""),
        min_rows=int(raw.get("min_rows", 1)),
        max_rows=int(raw.get("max_rows", 1_000_000_000)),
        size_band=float(raw["size_band"]) if "size_band" in raw else None,
    )


def _parse_destination(raw: dict, index: int, audiences: tuple[AudienceConfig, ...]) -> DestinationConfig:
    where = f"destinations[{index}]"
    _check_keys(raw, {"name", "purpose", "channel", "audiences", "formats", "identifiers", "suppressions"}, where)
    for key in ("name", "purpose", "channel", "audiences"):
        if key not in raw:
            raise ConfigError(f"{where}.{key}", "is required")
    if raw["purpose"] not in CONSENT_PURPOSES:
        raise ConfigError(f"{where}.purpose", f"unknown purpose {raw['purpose']!r} (one of: {', '.join(CONSENT_PURPOSES)})")
    known = {a.name for a in audiences}
    for audience in raw["audiences"]:
        if audience not in known:
            raise ConfigError(f"{where}.audiences", f"names no declared audience ({audience!r})")
    formats = tuple(raw.get("formats") or ("parquet",))
    for fmt in formats:
        if fmt not in ("parquet", "csv"):
            raise ConfigError(f"{where}.formats", f"unknown export format {fmt!r} (parquet, csv)")
    channel = raw["channel"]
    if channel not in CHANNEL_IDENTIFIERS:
        raise ConfigError(f"{where}.channel", f"unknown channel {channel!r} (one of: {', '.join(CHANNEL_IDENTIFIERS)})")
    identifiers = tuple(raw.get("identifiers") or CHANNEL_IDENTIFIERS[channel])
    for identifier in identifiers:
        if identifier not in EXPORTABLE_IDENTIFIERS:
            raise ConfigError(f"{where}.identifiers", f"unknown identifier {identifier!r} (one of: {', '.join(EXPORTABLE_IDENTIFIERS)})")
        if (channel == "ads" or raw["purpose"] == "ad_personalisation") and not identifier.endswith("_sha256"):
            raise ConfigError(f"{where}.identifiers", f"an ad destination receives only hashed identifiers, not {identifier!r} (use email_sha256, phone_sha256)")
    suppressions = tuple(raw["suppressions"]) if raw.get("suppressions") is not None else None
    return DestinationConfig(_check_name(raw["name"], f"{where}.name"), raw["purpose"], channel, tuple(raw["audiences"]), formats, identifiers, suppressions)


def _parse_consent(raw: dict) -> dict[str, str]:
    _check_keys(raw, {"defaults"}, "consent")
    defaults = {purpose: "withdrawn" for purpose in CONSENT_PURPOSES}
    for purpose, state in (raw.get("defaults") or {}).items():
        if purpose not in CONSENT_PURPOSES:
            raise ConfigError(f"consent.defaults.{purpose}", f"unknown purpose (one of: {', '.join(CONSENT_PURPOSES)})")
        if state not in ("granted", "withdrawn"):
            raise ConfigError(f"consent.defaults.{purpose}", f"must be granted or withdrawn, not {state!r}")
        defaults[purpose] = state
    return defaults
