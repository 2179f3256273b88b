"""benchmarks/pseudopeople_bench.py maps pseudopeople's datasets into a valid workspace (without pseudopeople:
files with its columns stand in for its output)."""

from __future__ import annotations

import polars as pl

from benchmarks.pseudopeople_bench import ADDRESS, DATASETS, build_workspace
from dagster_project.config import load_config

PERSON_COLUMNS = ["simulant_id", "first_name", "middle_initial", "last_name", "date_of_birth", "sex", *ADDRESS]
TAX_COLUMNS = ["simulant_id", "first_name", "middle_initial", "last_name", *(f"mailing_address_{c}" for c in ADDRESS)]


def write_raw(raw, rows: int = 3) -> None:
    raw.mkdir()
    for name in DATASETS:
        columns = TAX_COLUMNS if name in ("w2", "f1040") else PERSON_COLUMNS
        frame = pl.DataFrame({c: [f"{c[:3]}{i}" for i in range(rows)] for c in columns})
        frame.with_columns(pl.lit("04/01/1980").alias("date_of_birth") if "date_of_birth" in columns else pl.lit(None)) \
            .select(columns).write_parquet(raw / f"{name}.parquet")


def test_every_dataset_becomes_an_identity_source_with_truth(tmp_path):
    write_raw(tmp_path / "raw")
    config = load_config(build_workspace(tmp_path / "ws", tmp_path / "raw"))
    assert [s.name for s in config.sources] == list(DATASETS)
    truth = pl.read_csv(tmp_path / "ws" / "truth.csv")
    assert truth.height == 3 * len(DATASETS) and truth["person_id"].str.starts_with("sim").all()
    census = pl.read_csv(tmp_path / "ws" / "landing" / "census" / "census.csv")
    w2 = pl.read_csv(tmp_path / "ws" / "landing" / "w2" / "w2.csv")
    assert "date_of_birth" in census.columns and "date_of_birth" not in w2.columns  # tax forms carry none
    assert {"street_number", "zipcode"} <= set(w2.columns)  # the mailing address, under the census's names
    one_per_person = {s.name: s.one_record_per_person for s in config.sources}
    assert one_per_person["census"] and one_per_person["f1040"] and not one_per_person["w2"]
