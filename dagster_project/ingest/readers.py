"""Read one landing file into a polars frame of text columns.

Every value comes back as a string (or null) so the contract, not the reader's
type inference, decides what is valid. Nested JSON objects are flattened into
`parent_child` columns. A file that cannot be read at all raises
UnreadableFileError naming the file and what is wrong with it (line and byte
where known).

Column names become warehouse columns, so a file whose names are not plain
identifiers (letters, digits, underscores) or that names a column twice
(ignoring case, as the warehouse does) is rejected whole: nothing read from a
file ever becomes SQL text.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import re
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import polars as pl

ROW_NUMBER = "_row_number"
PLAIN_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# JSON lines are read in blocks of whole lines of about this size: a web-event
# file of a few GB parsed whole (every line checked as JSON, then the frame)
# held several times its size in memory.
JSONL_BLOCK_BYTES = 64 * 2**20


class UnreadableFileError(Exception):
    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def is_plain_column_name(name: str) -> bool:
    return PLAIN_COLUMN_NAME.fullmatch(name) is not None


def read_landing_file(path: Path, file_format: str, delimiter: str = ",", encoding: str = "utf-8") -> pl.DataFrame:
    """The file's records as text columns plus `_row_number` (1-based record number)."""
    return pl.concat(read_landing_chunks(path, file_format, delimiter, encoding), how="diagonal")


def read_landing_chunks(path: Path, file_format: str, delimiter: str = ",", encoding: str = "utf-8") -> Iterator[pl.DataFrame]:
    """The file's records as frames of text columns plus `_row_number` (1-based record
    number in the file): one frame for CSV and Parquet, one per block of lines for JSON
    lines (a block may lack a key that others have). An error names the file's line."""
    if file_format == "jsonl":
        yield from _jsonl_chunks(path, encoding)
        return
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFileError(path, "file is empty")
    if file_format == "csv":
        frame = _read_csv(path, _as_utf8(path, data, encoding), delimiter)
    elif file_format == "parquet":
        frame = _read_parquet(path, data)
    else:
        raise UnreadableFileError(path, f"unsupported format {file_format!r}")
    yield _text_frame(path, frame, first_row=1)


def _jsonl_chunks(path: Path, encoding: str) -> Iterator[pl.DataFrame]:
    first_row = 1
    for data, first_line, verdict in _checked_blocks(path, encoding):
        frame = _text_frame(path, _read_jsonl(path, data, first_line, verdict), first_row)
        first_row += frame.height
        yield frame
    if first_row == 1:  # nothing but white space
        raise UnreadableFileError(path, "file is empty")


def _jsonl_blocks(path: Path, encoding: str) -> Iterator[tuple[bytes, int]]:
    """The file's blocks of whole lines that are not all white space, as UTF-8, each with its first line's number."""
    first_line, first_byte = 1, 0
    with path.open("rb") as file:
        while block := file.read(JSONL_BLOCK_BYTES):
            block += file.readline()  # up to the end of the line
            if block.strip():
                yield _as_utf8(path, block, encoding, first_line, first_byte), first_line
            first_line += block.count(b"\n")
            first_byte += len(block)


def _checked_blocks(path: Path, encoding: str) -> Iterator[tuple[bytes, int, Callable[[], None] | None]]:
    """The blocks of _jsonl_blocks, each with a function that raises what the strict line check
    (_check_json_lines) found in it, or None: check it here.

    The strict check is Python's JSON parser, line by line, on one core: in a file of several
    blocks a worker process checks each block while this one parses and loads the block before,
    which takes about a quarter off loading a web-event file. Errors come in the file's order, as if
    checked here."""
    if path.stat().st_size <= JSONL_BLOCK_BYTES:
        for data, first_line in _jsonl_blocks(path, encoding):
            yield data, first_line, None
        return
    blocks = _jsonl_blocks(path, encoding)
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        ahead = _next_block(blocks)
        verdict = _submit_check(pool, ahead)
        while ahead is not None:
            current, current_verdict = ahead, verdict
            ahead = _next_block(blocks)  # checked while the current block is parsed and loaded
            verdict = _submit_check(pool, ahead)
            if isinstance(current, UnreadableFileError):
                raise current
            data, first_line = current
            yield data, first_line, partial(_raise_verdict, path, current_verdict)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _next_block(blocks: Iterator[tuple[bytes, int]]) -> tuple[bytes, int] | UnreadableFileError | None:
    """The next block, None after the last, or the error reading it (raised when its turn comes)."""
    try:
        return next(blocks, None)
    except UnreadableFileError as error:
        return error


def _submit_check(pool: ProcessPoolExecutor, block) -> Future | None:
    if block is None or isinstance(block, UnreadableFileError):
        return None
    return pool.submit(_line_check_failure, *block)


def _line_check_failure(data: bytes, first_line: int) -> str | None:
    """In the worker process: why the block's lines fail the strict check, or None."""
    try:
        _check_json_lines(Path(), data, first_line)
    except UnreadableFileError as error:
        return error.reason
    return None


def _raise_verdict(path: Path, verdict: Future) -> None:
    failure = verdict.result()
    if failure is not None:
        raise UnreadableFileError(path, failure)


def _text_frame(path: Path, frame: pl.DataFrame, first_row: int) -> pl.DataFrame:
    frame = _flatten(path, frame)
    check_column_names(path, frame.columns)
    frame = _as_text(frame)
    return frame.with_row_index(ROW_NUMBER, offset=first_row).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))


def check_column_names(path: Path, names: list[str]) -> None:
    """Reject the file unless every column name is plain and named once (case-insensitively)."""
    for name in names:
        if not is_plain_column_name(name):
            raise UnreadableFileError(
                path, f"column name {name!r} is not a plain name (letters, digits and underscores, not starting with a digit)")
    if ROW_NUMBER in names:
        raise UnreadableFileError(path, f"column name {ROW_NUMBER!r} is reserved for lineage")
    lowered = [n.lower() for n in names]
    repeated = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if repeated:
        raise UnreadableFileError(
            path, f"header names column(s) {', '.join(map(repr, repeated))} more than once (spaces around names and case ignored)")


def _as_utf8(path: Path, data: bytes, encoding: str, first_line: int = 1, first_byte: int = 0) -> bytes:
    """The text re-encoded as UTF-8 from the source's declared encoding; undeclared non-UTF-8 is rejected.
    `data` starts at line `first_line`, byte `first_byte` of the file."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        hint = "re-export the file as UTF-8 or declare its encoding: in cdp.yml" if encoding == "utf-8" else "check the source's encoding: in cdp.yml"
        raise UnreadableFileError(
            path, f"not valid {'UTF-8' if encoding == 'utf-8' else encoding}: byte 0x{data[error.start]:02x} at offset {first_byte + error.start} (line {line}); {hint}"
        ) from None
    return data if encoding == "utf-8" else text.encode("utf-8")


def _read_csv(path: Path, data: bytes, delimiter: str) -> pl.DataFrame:
    # Read the header as a row: polars would silently rename a repeated name (email -> email_duplicated_0).
    try:
        frame = pl.read_csv(io.BytesIO(data), separator=delimiter, infer_schema=False, has_header=False, encoding="utf8")
    except Exception as error:  # polars raises several error types for malformed CSV
        raise UnreadableFileError(path, f"not a readable CSV file{_csv_error_place(data, error)}: {str(error).splitlines()[0]}") from None
    header = [(name or "").strip() for name in frame.row(0)]
    check_column_names(path, header)
    return frame.slice(1).rename(dict(zip(frame.columns, header)))


def _csv_error_place(data: bytes, error: Exception) -> str:
    """' at line L (byte B)' from polars' 'current offset in the file is B bytes', when it says so."""
    found = re.search(r"offset in the file is (\d+) bytes", str(error))
    if not found:
        return ""
    offset = int(found.group(1))
    line = data.count(b"\n", 0, offset) + 1
    return f" at line {line} (byte {offset})"


def _read_jsonl(path: Path, data: bytes, first_line: int = 1, verdict: Callable[[], None] | None = None) -> pl.DataFrame:
    """The block's records; `verdict` raises what the strict line check found when a worker made
    it (_checked_blocks), else the check runs here first."""
    if verdict is None:
        _check_json_lines(path, data, first_line)
    try:
        frame = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
    except Exception:
        frame = None
    if verdict is not None:
        verdict()
    if frame is not None:
        return frame
    # polars could not infer one schema (mixed types): build the frame from the parsed records.
    flat = [_flatten_dict(path, record) for record in _json_records(path, data, first_line)]
    columns = sorted({key for record in flat for key in record})
    return pl.DataFrame({c: [_text(r.get(c)) for r in flat] for c in columns}, schema={c: pl.String for c in columns})


class _RepeatedKey(Exception):
    pass


def _unique_keys(pairs: list[tuple]) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        raise _RepeatedKey(sorted({k for k, _ in pairs if [p[0] for p in pairs].count(k) > 1}))
    return record


_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _check_json_lines(path: Path, data: bytes, first_line: int) -> None:
    """Every line parsed (and dropped), so a broken or truncated line, or a key given twice, is named with its line."""
    for _ in _json_records(path, data, first_line):
        pass


def _json_records(path: Path, data: bytes, first_line: int = 1) -> Iterator[dict]:
    for number, line in enumerate(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None), start=first_line):
        if not line.strip():
            continue
        try:
            record = _STRICT_JSON.decode(line)
        except json.JSONDecodeError as error:
            raise UnreadableFileError(path, f"invalid JSON on line {number}, column {error.colno} ({error.msg.removesuffix(' at')}); the file may be truncated") from None
        except _RepeatedKey as repeated:
            raise UnreadableFileError(path, f"line {number} names key(s) {', '.join(map(repr, repeated.args[0]))} more than once") from None
        if not isinstance(record, dict):
            raise UnreadableFileError(path, f"line {number} is not a JSON object")
        yield record


def _read_parquet(path: Path, data: bytes) -> pl.DataFrame:
    try:
        return pl.read_parquet(io.BytesIO(data))
    except Exception as error:
        raise UnreadableFileError(path, f"not a readable Parquet file: {str(error).splitlines()[0]}") from None


def _flatten_dict(path: Path, record: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        items = _flatten_dict(path, value, f"{name}_") if isinstance(value, dict) else {name: value}
        for flat_name, flat_value in items.items():
            if flat_name in flat:
                raise UnreadableFileError(path, f"nested keys flatten to column {flat_name!r} twice")
            flat[flat_name] = flat_value
    return flat


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Unnest struct columns into `parent_child` columns, recursively."""
    while any(dtype == pl.Struct for dtype in frame.dtypes):
        for name, dtype in zip(frame.columns, frame.dtypes):
            if dtype == pl.Struct:
                children = [f"{name}_{f.name}" for f in dtype.fields]
                clash = sorted(set(children) & set(frame.columns))
                if clash:
                    raise UnreadableFileError(path, f"nested keys flatten to column(s) {', '.join(map(repr, clash))} which the file also has")
                frame = frame.with_columns(
                    pl.col(name).struct.field(f.name).alias(child) for f, child in zip(dtype.fields, children)
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
