"""Check a source's contract on a frame of text columns, with polars.

The result splits the rows: those that keep the contract, typed per the
contract, and one violation per (row, column) for those that break it. A row
with any violation is quarantined whole, so loaded + quarantined = read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dagster_project.config import ColumnContract
from dagster_project.ingest.readers import ROW_NUMBER, UnreadableFileError

VIOLATION_SCHEMA = {ROW_NUMBER: pl.Int64, "column_name": pl.String, "value": pl.String, "reason": pl.String}


@dataclass
class ContractResult:
    valid: pl.DataFrame  # typed rows that keep the contract
    violations: pl.DataFrame  # row_number, column_name, value, reason
    invalid_rows: pl.DataFrame  # the untouched text of every quarantined row
    absent_columns: list[str]  # optional contract columns this file does not have (loaded as null)

    @property
    def rows_read(self) -> int:
        return self.valid.height + self.invalid_rows.height


def check_contract(frame: pl.DataFrame, contract: dict[str, ColumnContract], path: Path) -> ContractResult:
    missing = [c.name for c in contract.values() if c.required and c.name not in frame.columns]
    if missing:
        raise UnreadableFileError(path, f"missing required column(s): {', '.join(missing)} (found: {', '.join(c for c in frame.columns if c != ROW_NUMBER)})")
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
    bad_rows = violations.get_column(ROW_NUMBER).unique()
    return ContractResult(
        valid=typed.filter(~pl.col(ROW_NUMBER).is_in(bad_rows.implode())),
        violations=violations,
        invalid_rows=original.filter(pl.col(ROW_NUMBER).is_in(bad_rows.implode())),
        absent_columns=absent,
    )


def _parse(column: ColumnContract) -> pl.Expr:
    """The column converted to its contract type; null where it does not convert."""
    text = pl.col(column.name).str.strip_chars()
    if column.type == "string":
        return pl.col(column.name)
    if column.type == "int":
        return text.cast(pl.Int64, strict=False).alias(column.name)
    if column.type == "float":
        return text.cast(pl.Float64, strict=False).alias(column.name)
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
    checks: list[tuple[pl.Series, str]] = []
    if column.required:
        checks.append((~present, "required value is missing"))
    if column.type != "string":
        expected = f"{column.type} in format {' or '.join(column.formats)}" if column.formats else column.type
        checks.append((present & parsed.is_null(), f"not a valid {expected}"))
    if column.allowed:
        checks.append((present & ~value.is_in(list(column.allowed)), f"not one of the allowed values: {', '.join(column.allowed)}"))
    if column.pattern:
        checks.append((present & ~value.str.contains(column.pattern).fill_null(False), f"does not match pattern {column.pattern}"))
    if column.min is not None:
        checks.append((parsed.is_not_null() & (parsed < column.min), f"below minimum {column.min}"))
    if column.max is not None:
        checks.append((parsed.is_not_null() & (parsed > column.max), f"above maximum {column.max}"))

    frames = []
    for mask, reason in checks:
        mask = mask.fill_null(False)
        if mask.any():
            frames.append(
                pl.DataFrame({ROW_NUMBER: text_frame.get_column(ROW_NUMBER).filter(mask), "value": value.filter(mask)})
                .with_columns(pl.lit(name).alias("column_name"), pl.lit(reason).alias("reason"))
                .select(list(VIOLATION_SCHEMA))
            )
    if not frames:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    # A value breaking two rules is reported once, with the first reason.
    return pl.concat(frames).unique(subset=[ROW_NUMBER], keep="first", maintain_order=True)
