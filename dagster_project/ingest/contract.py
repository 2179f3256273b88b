"""Check a source's contract on a frame of text columns, with polars.

The result splits the rows: those that keep the contract, typed per the
contract, and one violation per (row, column) for those that break it. A
broken value quarantines its row whole (action 'row'), so loaded +
quarantined = read; except a well-typed value outside its limits (length,
control characters, range) in a column marked on_violation='field' (optional,
descriptive): that value is nulled, logged (action 'field') and the row loads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dagster_project.config import DECIMAL_PRECISION, RELATIVE_BOUND, ColumnContract
from dagster_project.ingest.readers import ROW_NUMBER, UnreadableFileError

VIOLATION_SCHEMA = {
    ROW_NUMBER: pl.Int64, "column_name": pl.String, "value": pl.String, "reason": pl.String, "action": pl.String,
}
# C0 control characters but tab; free text may also keep line feed and carriage return.
CONTROL_CHARS = r"[\x00-\x08\x0A-\x1F]"
CONTROL_CHARS_BUT_LINE_BREAKS = r"[\x00-\x08\x0B\x0C\x0E-\x1F]"


@dataclass
class ContractResult:
    valid: pl.DataFrame  # typed rows that keep the contract
    violations: pl.DataFrame  # row_number, column_name, value, reason, action (row | field)
    invalid_rows: pl.DataFrame  # the untouched text of every quarantined row
    flagged_rows: pl.DataFrame  # the untouched text of every row with a violation (quarantined or a field nulled)
    absent_columns: list[str]  # optional contract columns this file does not have (loaded as null)

    @property
    def rows_read(self) -> int:
        return self.valid.height + self.invalid_rows.height


def check_required_columns(contract: dict[str, ColumnContract], columns: list[str], path: Path) -> None:
    """Reject the file unless it has every required column of the contract."""
    missing = [c.name for c in contract.values() if c.required and c.name not in columns]
    if missing:
        raise UnreadableFileError(path, f"missing required column(s): {', '.join(missing)} (found: {', '.join(c for c in columns if c != ROW_NUMBER)})")


def check_contract(frame: pl.DataFrame, contract: dict[str, ColumnContract], path: Path) -> ContractResult:
    check_required_columns(contract, frame.columns, path)
    original = frame
    # Optional contract columns absent from this file are null (and reported).
    absent = [c for c in contract if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in absent)
    # Blank text is no value: trim-only strings become null before any check.
    text_columns = [c for c in frame.columns if c != ROW_NUMBER]
    frame = frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in text_columns
    )
    typed = frame.with_columns(_parse(column) for column in contract.values())
    violations = pl.concat(
        [_violations(frame, typed, column) for column in contract.values()], how="vertical"
    ).sort(ROW_NUMBER, "column_name")
    bad_rows = violations.filter(pl.col("action") == "row").get_column(ROW_NUMBER).unique().implode()
    # Every entry of a quarantined row counts as that row's.
    violations = violations.with_columns(
        pl.when(pl.col(ROW_NUMBER).is_in(bad_rows)).then(pl.lit("row")).otherwise(pl.col("action")).alias("action")
    )
    return ContractResult(
        valid=_null_flagged_fields(typed.filter(~pl.col(ROW_NUMBER).is_in(bad_rows)), violations),
        violations=violations,
        invalid_rows=original.filter(pl.col(ROW_NUMBER).is_in(bad_rows)),
        flagged_rows=original.filter(pl.col(ROW_NUMBER).is_in(violations.get_column(ROW_NUMBER).unique().implode())),
        absent_columns=absent,
    )


def _null_flagged_fields(valid: pl.DataFrame, violations: pl.DataFrame) -> pl.DataFrame:
    fields = violations.filter(pl.col("action") == "field")
    for name in fields.get_column("column_name").unique().to_list():
        rows = fields.filter(pl.col("column_name") == name).get_column(ROW_NUMBER).implode()
        valid = valid.with_columns(pl.when(pl.col(ROW_NUMBER).is_in(rows)).then(None).otherwise(pl.col(name)).alias(name))
    return valid


def _parse(column: ColumnContract) -> pl.Expr:
    """The column converted to its contract type; null where it does not convert."""
    text = pl.col(column.name).str.strip_chars()
    if column.type == "string":
        return pl.col(column.name)
    if column.type == "int":
        return text.cast(pl.Int64, strict=False).alias(column.name)
    if column.type == "float":
        return text.cast(pl.Float64, strict=False).alias(column.name)
    if column.type == "decimal":
        return text.cast(pl.Decimal(DECIMAL_PRECISION, column.scale), strict=False).alias(column.name)
    if column.type == "bool":
        lowered = text.str.to_lowercase()
        return (
            pl.when(lowered.is_in(["true", "1", "yes", "y", "t"])).then(True)
            .when(lowered.is_in(["false", "0", "no", "n", "f"])).then(False)
            .otherwise(None).alias(column.name)
        )
    dtype = pl.Date if column.type == "date" else pl.Datetime("us")
    attempts = [text.str.strptime(dtype, fmt, strict=False, exact=True) for fmt in column.formats]
    return pl.coalesce(attempts).alias(column.name)


def _violations(text_frame: pl.DataFrame, typed: pl.DataFrame, column: ColumnContract) -> pl.DataFrame:
    name = column.name
    value = text_frame.get_column(name)
    parsed = typed.get_column(name)
    present = value.is_not_null()
    checks: list[tuple[pl.Series, str]] = []  # broken values: the row is quarantined
    if column.required:
        checks.append((~present, "required value is missing"))
    if column.type != "string":
        expected = f"{column.type} in format {' or '.join(column.formats)}" if column.formats else column.type
        checks.append((present & parsed.is_null(), f"not a valid {expected}"))
    if column.type == "decimal":
        decimals = value.str.strip_chars().str.extract(r"\.(\d*?)0*$", 1).str.len_chars()
        checks.append((present & (decimals > column.scale), f"more than {column.scale} decimal places"))
    if column.allowed:
        checks.append((present & ~value.is_in(list(column.allowed)), f"not one of the allowed values: {', '.join(column.allowed)}"))
    if column.pattern:
        checks.append((present & ~value.str.contains(column.pattern).fill_null(False), f"does not match pattern {column.pattern}"))
    limits = _limit_checks(value, parsed, column)
    entries = [(mask, reason, "row") for mask, reason in checks] + [(mask, reason, column.on_violation) for mask, reason in limits]

    frames = []
    for mask, reason, action in entries:
        mask = mask.fill_null(False)
        if mask.any():
            frames.append(
                pl.DataFrame({ROW_NUMBER: text_frame.get_column(ROW_NUMBER).filter(mask), "value": value.filter(mask)})
                .with_columns(pl.lit(name).alias("column_name"), pl.lit(reason).alias("reason"), pl.lit(action).alias("action"))
                .select(list(VIOLATION_SCHEMA))
            )
    if not frames:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    # A value breaking two rules is reported once, with the first reason.
    return pl.concat(frames).unique(subset=[ROW_NUMBER], keep="first", maintain_order=True)


def _limit_checks(value: pl.Series, parsed: pl.Series, column: ColumnContract) -> list[tuple[pl.Series, str]]:
    """Values of the right type that are still impossible: too long, control characters, out of range."""
    checks = []
    if column.type == "string":
        if column.max_length is not None:
            checks.append((value.str.len_chars() > column.max_length, f"longer than {column.max_length} characters"))
        if not column.allow_control_chars:
            pattern = CONTROL_CHARS_BUT_LINE_BREAKS if column.allow_line_breaks else CONTROL_CHARS
            checks.append((value.str.contains(pattern), "contains a control character"))
        return checks
    for bound, label, is_outside in ((column.min, "below minimum", parsed.__lt__), (column.max, "above maximum", parsed.__gt__)):
        if bound is not None:
            limit = _resolve_bound(bound, column.type)
            when = limit.isoformat(" ", "minutes") if isinstance(limit, dt.datetime) else limit
            shown = f"{bound} ({when})" if RELATIVE_BOUND.match(str(bound)) else bound
            checks.append((parsed.is_not_null() & is_outside(limit), f"{label} {shown}"))
    return checks


def _resolve_bound(bound: float | str, column_type: str):
    """A min/max as a value comparable with the column: `today`/`now` (+/-Nd) are resolved now."""
    if column_type not in ("date", "timestamp"):
        return bound
    relative = RELATIVE_BOUND.match(str(bound))
    if relative:
        anchor, shift = relative.groups()
        moment = dt.datetime.now() if anchor == "now" else dt.datetime.combine(dt.date.today(), dt.time())
        moment += dt.timedelta(days=int(shift[:-1]) if shift else 0)
    else:
        moment = dt.datetime.fromisoformat(str(bound))
    return moment.date() if column_type == "date" else moment
