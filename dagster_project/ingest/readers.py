"""Read one landing file into a polars frame of text columns.

Every value comes back as a string (or null) so the contract, not the reader's
type inference, decides what is valid. Nested JSON objects are flattened into
`parent_child` columns. A file that cannot be read at all raises
UnreadableFileError naming the file and what is wrong with it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl

ROW_NUMBER = "_row_number"


class UnreadableFileError(Exception):
    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def read_landing_file(path: Path, file_format: str, delimiter: str = ",") -> pl.DataFrame:
    """The file's records as text columns plus `_row_number` (1-based record number)."""
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFileError(path, "file is empty")
    _check_utf8(path, data)
    if file_format == "csv":
        frame = _read_csv(path, data, delimiter)
    elif file_format == "jsonl":
        frame = _read_jsonl(path, data)
    elif file_format == "parquet":
        frame = _read_parquet(path, data)
    else:
        raise UnreadableFileError(path, f"unsupported format {file_format!r}")
    frame = _as_text(_flatten(frame))
    return frame.with_row_index(ROW_NUMBER, offset=1).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))


def _check_utf8(path: Path, data: bytes) -> None:
    if data[:4] == b"PAR1":
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UnreadableFileError(
            path, f"not valid UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} (line {line}); re-export the file as UTF-8"
        ) from None


def _read_csv(path: Path, data: bytes, delimiter: str) -> pl.DataFrame:
    try:
        frame = pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False, encoding="utf8")
    except Exception as error:  # polars raises several error types for malformed CSV
        raise UnreadableFileError(path, f"not a readable CSV file: {str(error).splitlines()[0]}") from None
    return _trimmed_header(path, frame)


def _trimmed_header(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Header names without surrounding spaces: many exports write `id, name, ...`."""
    names = [c.strip() for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UnreadableFileError(path, f"header names column(s) {', '.join(map(repr, repeated))} more than once (spaces around names ignored)")
    return frame.rename(dict(zip(frame.columns, names)))


def _read_jsonl(path: Path, data: bytes) -> pl.DataFrame:
    try:
        return pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except Exception:
        # polars could not infer one schema (mixed types) or a line is broken:
        # parse line by line, which both tolerates mixed types and finds the bad line.
        return _read_jsonl_by_line(path, data)


def _read_jsonl_by_line(path: Path, data: bytes) -> pl.DataFrame:
    records = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UnreadableFileError(path, f"invalid JSON on line {number} ({error.msg} at column {error.colno}); the file may be truncated") from None
        if not isinstance(record, dict):
            raise UnreadableFileError(path, f"line {number} is not a JSON object")
        records.append(_flatten_dict(record))
    columns = sorted({key for record in records for key in record})
    return pl.DataFrame({c: [_text(r.get(c)) for r in records] for c in columns}, schema={c: pl.String for c in columns})


def _read_parquet(path: Path, data: bytes) -> pl.DataFrame:
    try:
        return pl.read_parquet(io.BytesIO(data))
    except Exception as error:
        raise UnreadableFileError(path, f"not a readable Parquet file: {str(error).splitlines()[0]}") from None


def _flatten_dict(record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_dict(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Unnest struct columns into `parent_child` columns, recursively."""
    while any(dtype == pl.Struct for dtype in frame.dtypes):
        for name, dtype in zip(frame.columns, frame.dtypes):
            if dtype == pl.Struct:
                fields = [f.name for f in dtype.fields]
                frame = frame.with_columns(
                    pl.col(name).struct.field(f).alias(f"{name}_{f}") for f in fields
                ).drop(name)
    return frame


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    exprs = []
    for name, dtype in zip(frame.columns, frame.dtypes):
        if dtype == pl.String:
            exprs.append(pl.col(name))
        elif dtype == pl.List or dtype == pl.Array:
            exprs.append(pl.col(name).map_elements(lambda v: json.dumps(list(v)), return_dtype=pl.String).alias(name))
        elif dtype == pl.Boolean:
            exprs.append(pl.when(pl.col(name)).then(pl.lit("true")).otherwise(pl.lit("false")).alias(name))
        else:
            exprs.append(pl.col(name).cast(pl.String).alias(name))
    return frame.select(exprs) if exprs else frame
