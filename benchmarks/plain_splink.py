"""A plain, tutorial-style Splink 5 model: the baseline our identity step must beat.

    .venv/bin/python benchmarks/plain_splink.py FILE.csv [FILE.csv ...] [--threshold 0.9]

Follows Splink's own FEBRL examples (docs/demos/examples/duckdb/febrl3 and
febrl4): library comparisons with term frequencies, a handful of blocking
rules, deterministic rules for the prior, u from random pairs, m by EM on
date of birth then postcode, prediction and Splink's clustering at the
threshold. Same columns as our FEBRL workspace (names, date of birth,
street, suburb, postcode, state); no social security number. The files are
deduplicated together (FEBRL 4's two halves as one dataset, as ours).
Scored like `cdp evaluate`: pairs of records put in one cluster against
pairs sharing the truth id in rec-<n>-org / rec-<n>-dup-<k>.

`plain_splink_on_records` runs the same kind of model on a warehouse's
canonical identity records (intermediate.int_identity__records: names, date
of birth, address, postcode, city, email, phone, loyalty id), as a tutorial
would model a customer table, and scores it with `cdp evaluate`'s own code.
Most of those records carry one email, phone or loyalty id and nothing else,
and one equal identifier cannot outweigh the prior of a table with thousands
of persons; so, as a Splink user would, it first links exact matches on those
identifiers with Splink's deterministic linking, then adds the probabilistic
links and clusters both at the threshold. No household or conflict logic.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.clustering import cluster_pairwise_predictions_at_threshold

COLUMNS = ["rec_id", "given_name", "surname", "street_number", "address_1", "suburb", "postcode", "state", "date_of_birth"]

BLOCKING_RULES = [
    block_on("given_name", "surname"),
    "l.given_name = r.surname and l.surname = r.given_name",
    block_on("date_of_birth"),
    block_on("state", "address_1"),
    block_on("street_number", "address_1"),
    block_on("postcode"),
]


def settings() -> SettingsCreator:
    return SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
            ),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )


def load(con: duckdb.DuckDBPyConnection, files: list[Path]) -> duckdb.DuckDBPyRelation:
    """The files as one table of trimmed strings, blanks as null."""
    paths = ", ".join(f"'{f.as_posix()}'" for f in files)
    cleaned = ", ".join(f"nullif(trim({c}), '') as {c}" for c in COLUMNS)
    return con.sql(
        f"select {cleaned} from read_csv([{paths}], header = true, all_varchar = true, normalize_names = true)"
    )


def pairwise_scores(clusters: pl.DataFrame) -> dict:
    """Pairwise precision / recall / F1 of `clusters` (rec_id, cluster_id) against the truth in rec_id."""
    scored = clusters.with_columns(person=pl.col("rec_id").str.extract(r"^rec-(\d+)-"))

    def pairs(*keys: str) -> int:
        sizes = scored.group_by(*keys).len()["len"]
        return int((sizes * (sizes - 1) // 2).sum())

    predicted, true, hits = pairs("cluster_id"), pairs("person"), pairs("cluster_id", "person")
    precision = hits / predicted if predicted else 1.0
    recall = hits / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "false_merges": predicted - hits, "true_pairs": true}


def trained_linker(
    con: duckdb.DuckDBPyConnection, records: duckdb.DuckDBPyRelation, settings: SettingsCreator,
    prior_rules: list, em_rules: list, seed: int = 2,
) -> Linker:
    """The tutorial training: the prior from deterministic rules, u from random pairs, m by EM on each of `em_rules`."""
    linker = Linker(DuckDBAPI(con).register(records), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(prior_rules, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    return linker


def clusters_at(con: duckdb.DuckDBPyConnection, linker: Linker, unique_id: str, threshold: float) -> tuple[pl.DataFrame, int]:
    """Splink's prediction and clustering at `threshold`: (unique_id, cluster_id) for every record, and the links found."""
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    links = con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
    return clusters.as_duckdbpyrelation().select(f"{unique_id}, cluster_id").pl(), links


def run_plain_splink(files: list[Path], threshold: float = 0.9) -> dict:
    started = time.perf_counter()
    con = duckdb.connect()
    linker = trained_linker(
        con, load(con, files), settings(),
        prior_rules=[block_on("given_name", "surname", "date_of_birth")],
        em_rules=[block_on("date_of_birth"), block_on("postcode")],
    )
    clusters, links = clusters_at(con, linker, "rec_id", threshold)
    result = pairwise_scores(clusters)
    result["links"] = links
    result["seconds"] = round(time.perf_counter() - started, 1)
    con.close()
    return result


# A customer table's model, on the canonical identity records.
RECORD_COLUMNS = [
    "record_key", "first_name_norm", "last_name_norm", "date_of_birth", "address_line_norm", "postcode_norm", "city",
    "email", "phone", "loyalty_id",
]

RECORD_BLOCKING_RULES = [
    block_on("first_name_norm", "last_name_norm"),
    block_on("last_name_norm", "date_of_birth"),
    block_on("date_of_birth", "postcode_norm"),
    block_on("last_name_norm", "postcode_norm"),
    block_on("email"),
    block_on("phone"),
    block_on("loyalty_id"),
]

# Identifiers a customer table's owner trusts on their own: an exact match is a link, as in Splink's
# deterministic linking. Most records carry nothing else (a campaign response, a consent event, a receipt).
RECORD_DETERMINISTIC_RULES = [block_on("email"), block_on("phone"), block_on("loyalty_id")]

# The prior from pairs one would call certain. Each EM block trains the columns it leaves out: names on
# date of birth, the rest on full names. Not on email or postcode: a family shares those, and EM would
# learn that a different first name is common in a true match.
RECORD_PRIOR_RULES = [block_on("first_name_norm", "last_name_norm", "date_of_birth"), block_on("email")]
RECORD_EM_RULES = [block_on("first_name_norm", "last_name_norm"), block_on("date_of_birth")]


def record_settings(blocking_rules: list | None = None) -> SettingsCreator:
    return SettingsCreator(
        unique_id_column_name="record_key",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules or RECORD_BLOCKING_RULES,
        comparisons=[
            cl.NameComparison("first_name_norm").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name_norm").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
            cl.DamerauLevenshteinAtThresholds("postcode_norm", [1, 2]).configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_line_norm", [0.9, 0.8]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("loyalty_id"),
        ],
        retain_intermediate_calculation_columns=True,
    )


def deterministic_links(con: duckdb.DuckDBPyConnection, records: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Splink's deterministic linking on the trusted identifiers: every pair sharing one, as a certain match."""
    linker = Linker(DuckDBAPI(con).register(records), record_settings(RECORD_DETERMINISTIC_RULES), log_level=None)
    pairs = linker.inference.deterministic_link()
    return con.sql(f"select record_key_l, record_key_r, 1.0 as match_probability from {pairs.physical_name}")


def plain_clusters_on_records(warehouse: Path, threshold: float = 0.9) -> tuple[pl.DataFrame, int]:
    """Plain Splink's clusters (record_key, cluster_id) of the warehouse's identity records, and its links:
    deterministic links on email, phone and loyalty id, then the probabilistic model's predictions, clustered
    together at `threshold` by Splink's connected components."""
    con = duckdb.connect()
    con.execute(f"attach '{warehouse.as_posix()}' as records_source (read_only)")
    con.execute(
        f"create table records as select {', '.join(RECORD_COLUMNS)} from records_source.intermediate.int_identity__records"
    )
    records = con.table("records")
    linker = trained_linker(
        con, records, record_settings(),
        prior_rules=RECORD_PRIOR_RULES, em_rules=RECORD_EM_RULES,
    )
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    deterministic = deterministic_links(con, records)
    con.execute(
        f"create table edges as select record_key_l, record_key_r, match_probability from {predictions.physical_name}"
        " union all select * from deterministic"
    )
    clusters = cluster_pairwise_predictions_at_threshold(
        "records", "edges", DuckDBAPI(con), node_id_column_name="record_key", threshold_match_probability=threshold
    )
    links = con.sql("select count(*) from (select distinct record_key_l, record_key_r from edges"
                    f" where match_probability >= {threshold})").fetchall()[0][0]
    result = clusters.as_duckdbpyrelation().select("record_key, cluster_id").pl(), links
    con.close()
    return result


def evaluate_clusters(warehouse: Path, truth: Path, clusters: pl.DataFrame):
    """`cdp evaluate` of `clusters` (record_key, cluster_id) in place of the warehouse's person map: the same
    records (those of identity.person_map), the same truth, the same code, on a scratch copy of what it reads."""
    from dagster_project.identity.evaluate import evaluate_identity

    with tempfile.TemporaryDirectory(prefix="plain-splink-") as folder:
        scratch = Path(folder) / "evaluated.duckdb"
        con = duckdb.connect(str(scratch))
        con.execute(f"attach '{warehouse.as_posix()}' as warehouse_source (read_only)")
        con.register("plain_clusters", clusters.to_arrow())
        for schema in ("intermediate", "identity"):
            con.execute(f"create schema {schema}")
        for table in ("int_identity__records", "int_identity__links"):
            con.execute(f"create table intermediate.{table} as select * from warehouse_source.intermediate.{table}")
        con.execute(
            "create table identity.person_map as select m.record_key, m.source, m.source_record_id,"
            " cast(c.cluster_id as varchar) as person_id"
            " from warehouse_source.identity.person_map m join plain_clusters c using (record_key)"
        )
        con.close()
        return evaluate_identity(scratch, truth)


def plain_splink_on_records(warehouse: Path, truth: Path, threshold: float = 0.9):
    """Plain Splink on the warehouse's identity records, scored like `cdp evaluate`: (evaluation, links, seconds)."""
    started = time.perf_counter()
    clusters, links = plain_clusters_on_records(warehouse, threshold)
    seconds = round(time.perf_counter() - started, 1)
    return evaluate_clusters(warehouse, truth, clusters), links, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()
    print(json.dumps(run_plain_splink(args.files, args.threshold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
