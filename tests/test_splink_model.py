"""Probabilistic identity matching (Splink): training, prediction, explanations, on small synthetic data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dagster_project.identity import splink_model
from dagster_project.identity.phonetic import phonetic_key
from dagster_project.identity.splink_model import (
    MIN_M_DIFFERENT, _open_linker, blocking_rule_counts, deduct_matches_from_u, explain_pair, guard_weights, score_pairs, train_model, waterfall_chart_html,
)
from dagster_project.identity.splink_prepare import NICKNAMES_CSV, SCRATCH, key_cap, prepare_records, scratch_database
from dagster_project.identity.splink_settings import build_spec
from dagster_project.identity.best_links import _names_agree
from dagster_project.identity.term_frequencies import frozen_lookups
from tests.splink_synthetic import load_identity_records, synthetic_records

TABLE = "intermediate.int_identity__records"
FAST = {"max_pairs": 3e5}  # u from fewer random pairs: enough for a few thousand records


def predict_links(con, records_table: str, model_path, *, threshold_match_probability: float) -> pl.DataFrame:
    """Scored pairs at or above the threshold from the saved model, as identity.graph scores them.

    Columns: record_key_l, record_key_r (l < r), match_probability,
    match_weight, then per comparison X: gamma_X (level, -1 = missing), bf_X
    (Bayes factor including any term-frequency adjustment) and mw_X (log2 bf_X).
    """
    model = json.loads(Path(model_path).read_text())
    with scratch_database(con):
        prepare_records(con, records_table)
        return score_pairs(con, model, threshold_match_probability).sort("record_key_l", "record_key_r")

# Hand-made pairs on top of the synthetic people (surnames the generator never makes).
CASES = [
    # nickname: Bob / Robert, Peggy / Margaret
    ("case:bob1", "Robert", "Quarrington", "1971-04-02", "14 Mill Lane", "LS6 2QT", "robert.q@example.org"),
    ("case:bob2", "Bob", "Quarrington", "1971-04-02", "14 Mill Ln", "LS62QT", None),
    ("case:peg1", "Margaret", "O'Loughnane", "1958-11-23", "3 Harbour View", "T12 X2YZ", None),
    ("case:peg2", "Peggy", "O Loughnane", "1958-11-23", "3 Harbour Vw", "T12X2YZ", "peggy.ol@example.org"),
    # first and last name swapped
    ("case:swap1", "Evangeline", "Tarrant", "1990-07-30", "88 Kestrel Close", "BS7 9PL", None),
    ("case:swap2", "Tarrant", "Evangeline", "1990-07-30", "88 Kestrel Cl", "BS7 9PL", None),
    # swapped, and one of them mistyped (a form filled in surname first)
    ("case:swaptypo1", "Harriet", "Whitcombe", "1983-01-09", "5 Juniper Walk", "CF10 3AT", None),
    ("case:swaptypo2", "Whitcmbe", "Harriet", "1983-01-09", "5 Juniper Walk", "CF10 3AT", None),
    # swapped, and the first name given as a nickname
    ("case:swapnick1", "Benjamin", "Redgwell", "1979-05-17", "29 George Avenue", "BS2 8YD", None),
    ("case:swapnick2", "Redgwell", "Benny", "1979-05-17", "29 George Ave", "BS2 8YD", None),
    # household: same address and surname, different first names and dates of birth
    ("case:home1", "Thomas", "Fairweather", "1962-02-14", "27 Orchard Grove", "M20 4RX", "fairweathers@example.org"),
    ("case:home2", "Lucy", "Fairweather", "1965-09-03", "27 Orchard Grove", "M20 4RX", "fairweathers@example.org"),
    ("case:home3", "Oliver", "Fairweather", "1994-06-21", "27 Orchard Gr", "M204RX", None),
    # spelt as they sound (not in the nickname list), a year mistyped, moved house: only the sound-alike name block finds them
    ("case:sofia1", "Sophie", "Smith", "1983-05-17", "9 Larch Walk", "EH4 1AB", None),
    ("case:sofia2", "Sofia", "Smyth", "1988-05-17", "61 Quarry Road", "G12 8QQ", None),
]
CASE_COLUMNS = ["record_key", "first_name", "last_name", "date_of_birth", "address_line", "postcode", "email"]
# A placeholder value shared by hundreds of records must not explode the email rule.
PLACEHOLDER_EMAILS = 400


def _records() -> pl.DataFrame:
    data = synthetic_records(1500, seed=3)
    cases = pl.DataFrame(CASES, schema=CASE_COLUMNS, orient="row").with_columns(
        pl.col("date_of_birth").str.to_date(), source=pl.lit("crm"), city=pl.lit(None, pl.String)
    )
    placeholder = data.filter(pl.col("source") == "ecommerce").head(PLACEHOLDER_EMAILS).with_columns(
        email=pl.lit("noemail@example.com"),
        record_key=pl.format("placeholder:{}", pl.int_range(PLACEHOLDER_EMAILS)),
    )
    # One person per case pair (bob1 / bob2); each household member is their own person.
    cases = cases.with_columns(
        source_record_id=pl.col("record_key"),
        person_id=pl.when(pl.col("record_key").str.contains("home")).then(pl.col("record_key"))
        .otherwise(pl.col("record_key").str.strip_chars_end("12")),
    )
    return pl.concat([data, placeholder, cases], how="diagonal_relaxed")


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect()
    load_identity_records(con, _records())
    yield con
    con.close()


@pytest.fixture(scope="module")
def trained(warehouse, tmp_path_factory):
    model_path = tmp_path_factory.mktemp("splink") / "model.json"
    summary = train_model(warehouse, TABLE, model_path, **FAST)
    return model_path, summary


@pytest.fixture(scope="module")
def links(warehouse, trained):
    return predict_links(warehouse, TABLE, trained[0], threshold_match_probability=0.0)


def _pair(links: pl.DataFrame, a: str, b: str) -> dict | None:
    a, b = sorted((a, b))
    rows = links.filter((pl.col("record_key_l") == a) & (pl.col("record_key_r") == b))
    return rows.row(0, named=True) if rows.height else None


def _probability(links: pl.DataFrame, a: str, b: str) -> float:
    row = _pair(links, a, b)
    return row["match_probability"] if row else 0.0  # not even blocked together


def test_nicknames_seed_is_a_clean_lookup():
    rows = list(csv.DictReader(NICKNAMES_CSV.open()))
    nicknames = [r["nickname"] for r in rows]
    assert len(rows) >= 150
    assert len(set(nicknames)) == len(nicknames), "one canonical per nickname, so the dbt join cannot duplicate rows"
    assert not {r["canonical"] for r in rows} & set(nicknames), "no chains: canonical names are not nicknames"
    assert all(value.isascii() and value == value.lower() for r in rows for value in r.values())
    assert {"bob": "robert", "bill": "william", "liz": "elizabeth", "peggy": "margaret", "jim": "james"}.items() <= {
        r["nickname"]: r["canonical"] for r in rows
    }.items()


def test_training_summary(trained):
    model_path, summary = trained
    assert summary["records"] > 5000
    assert set(summary["comparisons"]) == {"first_name", "last_name", "date_of_birth", "address", "email", "phone"}
    assert len(summary["em_blocking_rules"]) >= 2
    assert 0 < summary["probability_two_random_records_match"] < 0.01
    model = json.loads(model_path.read_text())
    assert model["unique_id_column_name"] == "record_key"
    assert len(model["comparisons"]) == 6


def test_nicknames_and_swapped_names_match(links):
    assert _probability(links, "case:bob1", "case:bob2") > 0.95
    assert _probability(links, "case:peg1", "case:peg2") > 0.95
    assert _probability(links, "case:swap1", "case:swap2") > 0.95
    assert _probability(links, "case:swaptypo1", "case:swaptypo2") > 0.95
    assert _probability(links, "case:swapnick1", "case:swapnick2") > 0.95


def test_guard_weights_unseen_partial_agreement_is_no_evidence():
    """A level EM saw among no matches (no one-digit date typos in the training
    data) counts as no evidence, not as much against a match as "different"."""
    model = {"comparisons": [{"output_column_name": "date_of_birth", "comparison_levels": [
        {"is_null_level": True, "label_for_charts": "missing"},
        {"label_for_charts": "exact match", "m_probability": 0.98, "u_probability": 0.001},
        {"label_for_charts": "one digit different", "m_probability": 1e-7, "u_probability": 0.002},
        {"label_for_charts": "same year", "m_probability": 0.004, "u_probability": 0.02},
        {"label_for_charts": "different", "m_probability": 1e-9, "u_probability": 0.97},
    ]}]}
    changed = guard_weights(model, unobserved_u=1e-7)
    exact, digit, year, different = model["comparisons"][0]["comparison_levels"][1:]
    assert digit["m_probability"] == digit["u_probability"]  # weight 0
    assert year["m_probability"] == 0.004  # estimated: kept, it speaks against a match
    assert different["m_probability"] == MIN_M_DIFFERENT
    assert exact["m_probability"] == 0.98
    assert set(changed) == {
        "date_of_birth: one digit different", "date_of_birth: different"}


def test_the_true_matches_among_random_pairs_are_taken_out_of_u():
    """With one pair in 1,000 a match, half the random pairs that share a date of
    birth are matches: the non-match u is half the sampled one; no level loses more
    than half of its u (the prior may be too high)."""
    model = {"probability_two_random_records_match": 0.001, "comparisons": [
        {"output_column_name": "date_of_birth", "comparison_levels": [
            {"is_null_level": True, "label_for_charts": "missing"},
            {"label_for_charts": "exact match", "m_probability": 0.9, "u_probability": 0.0019},
            {"label_for_charts": "day and month swapped", "m_probability": 0.05, "u_probability": 0.00004},
            {"label_for_charts": "different", "m_probability": 0.05, "u_probability": 0.99816},
        ]}]}
    deduct_matches_from_u(model)
    missing, exact, swapped, different = model["comparisons"][0]["comparison_levels"]
    assert "u_probability" not in missing
    assert exact["u_probability"] == pytest.approx(0.001 / 0.999)
    assert swapped["u_probability"] == 0.00002
    assert different["u_probability"] == pytest.approx((0.99816 - 0.00005) / 0.999)
    assert exact["m_probability"] == 0.9


def test_the_prior_is_the_models_own_expected_share_of_matches(tmp_path, monkeypatch):
    """The probability that two random records match comes out near the true share of matching
    pairs (known here), on all described records and on a sample of half of them, even when the
    deterministic rules' recall is assumed far off (half the true one: a prior twice too high)."""
    records = synthetic_records(1500, seed=3).filter(pl.col("first_name").is_not_null() | pl.col("date_of_birth").is_not_null())
    sizes = records.group_by("person_id").len()["len"]
    true_prior = float((sizes * (sizes - 1) / 2).sum()) / (records.height * (records.height - 1) / 2)
    con = duckdb.connect()
    load_identity_records(con, records)
    summary = train_model(con, TABLE, tmp_path / "model.json", deterministic_recall=0.35, **FAST)
    assert summary["probability_from_the_deterministic_rules"] > 1.5 * true_prior
    assert summary["probability_two_random_records_match"] == pytest.approx(true_prior, rel=0.1)
    monkeypatch.setattr(splink_model, "PRIOR_SAMPLE_RECORDS", records.height // 2)
    sampled = train_model(con, TABLE, tmp_path / "sampled.json", deterministic_recall=0.35, **FAST)
    assert sampled["probability_two_random_records_match"] == pytest.approx(true_prior, rel=0.2)
    assert sampled["probability_two_random_records_match"] != summary["probability_two_random_records_match"]


def test_names_spelt_as_they_sound_are_blocked_and_compared_by_sound(links, trained):
    pair = _pair(links, "case:sofia1", "case:sofia2")
    assert pair is not None, "no blocking rule brought the pair together"
    lines = explain_pair(pair, trained[0])
    assert any(line.startswith("first_name: sounds alike (") for line in lines), lines


def test_household_members_do_not_match(links):
    for a, b in [("case:home1", "case:home2"), ("case:home1", "case:home3"), ("case:home2", "case:home3")]:
        assert _probability(links, a, b) < 0.05, (a, b)


def test_accuracy_on_synthetic_truth(warehouse, links):
    truth = _records().select("record_key", "person_id")
    scored = (
        links.filter(pl.col("match_probability") >= 0.9)
        .join(truth.rename({"record_key": "record_key_l", "person_id": "p_l"}), on="record_key_l")
        .join(truth.rename({"record_key": "record_key_r", "person_id": "p_r"}), on="record_key_r")
    )
    precision = (scored["p_l"] == scored["p_r"]).mean()
    assert precision > 0.95


def test_blocking_keeps_comparisons_near_linear(trained):
    _, summary = trained
    records = summary["records"]
    counts = {rule["rule"]: rule["comparisons"] for rule in summary["blocking_rules"]}
    assert set(counts) >= {"bk_name", "bk_phonetic_name", "bk_dob_last", "bk_postcode", "bk_email", "bk_phone"}
    assert all(count <= 5 * records for count in counts.values()), counts
    assert summary["comparisons_to_score"] <= 10 * records
    # 400 records share one placeholder email: uncapped that alone is ~80,000 pairs.
    assert counts["bk_email"] < PLACEHOLDER_EMAILS * (PLACEHOLDER_EMAILS - 1) / 2 / 4


def test_blocking_counts_above_the_cap_are_estimated_from_a_sample(warehouse, trained):
    model_path, summary = trained
    assert summary["blocking_counts_sample"] == 1.0  # exact below the cap
    exact = summary["comparisons_to_score"]
    rules = [rule["rule"] for rule in summary["blocking_rules"]]
    with scratch_database(warehouse):
        records_count = prepare_records(warehouse, TABLE)
        _, _, records = _open_linker(warehouse, json.loads(model_path.read_text()))
        counts, sample = blocking_rule_counts(records, rules, records_count, sample_records=records_count // 2)
    assert sample == pytest.approx(0.5, abs=0.01)
    assert [rule["rule"] for rule in counts] == rules
    assert counts[-1]["cumulative_comparisons"] != exact  # estimated, not counted
    assert counts[-1]["cumulative_comparisons"] == pytest.approx(exact, rel=0.2)


def test_prediction_output_and_saved_model_round_trip(warehouse, trained, links):
    again = predict_links(warehouse, TABLE, trained[0], threshold_match_probability=0.0)
    assert again.equals(links)
    for name in ("first_name", "last_name", "date_of_birth", "address", "email", "phone"):
        assert {f"gamma_{name}", f"bf_{name}", f"mw_{name}"} <= set(links.columns)
    assert (links["record_key_l"] < links["record_key_r"]).all()
    high = predict_links(warehouse, TABLE, trained[0], threshold_match_probability=0.9)
    assert high.height == links.filter(pl.col("match_probability") >= 0.9).height


def test_score_pairs_adds_kept_pairs_whatever_their_score(warehouse, trained, links):
    # The veto needs the evidence of shared-identifier links, even far below the
    # threshold, even for a pair that no blocking rule would compare.
    unblocked = tuple(sorted(("case:bob1", "case:swap1")))
    household = tuple(sorted(("case:home1", "case:home2")))
    assert _pair(links, *unblocked) is None
    assert _probability(links, *household) < 0.9
    keep = pl.DataFrame([unblocked, household], schema=["record_key_l", "record_key_r"], orient="row")
    model = json.loads(trained[0].read_text())
    with scratch_database(warehouse):
        prepare_records(warehouse, TABLE)
        warehouse.register("keep_frame", keep.to_arrow())
        warehouse.execute(f"create table {SCRATCH}.keep as select * from keep_frame")
        warehouse.unregister("keep_frame")
        scored = score_pairs(warehouse, model, 0.9, keep_pairs=f"{SCRATCH}.keep")

    above = links.filter(pl.col("match_probability") >= 0.9)
    pairs = list(zip(scored["record_key_l"], scored["record_key_r"]))
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == set(zip(above["record_key_l"], above["record_key_r"])) | {unblocked, household}
    assert _pair(scored, *household)["match_weight"] == pytest.approx(_pair(links, *household)["match_weight"])
    assert _pair(scored, *unblocked)["match_probability"] < 0.01


def test_warehouse_left_untouched(warehouse, trained):
    before = warehouse.execute("select database_name, schema_name, table_name from duckdb_tables() order by all").fetchall()
    predict_links(warehouse, TABLE, trained[0], threshold_match_probability=0.99)
    after = warehouse.execute("select database_name, schema_name, table_name from duckdb_tables() order by all").fetchall()
    assert after == before
    assert warehouse.execute("select current_database(), current_schema()").fetchall()[0] == ("memory", "main")
    assert [r[0] for r in warehouse.execute("select database_name from duckdb_databases() where not internal").fetchall()] == ["memory"]


def test_given_first_name_canonical_column_is_used(warehouse, trained, links):
    # As dbt will provide it: the seed joined on first_name_norm.
    warehouse.execute(f"""
        create or replace view intermediate.records_with_canonical as
        select r.*, coalesce(n.canonical, r.first_name_norm) as first_name_canonical
        from {TABLE} r left join read_csv('{NICKNAMES_CSV.as_posix()}') n on n.nickname = r.first_name_norm
    """)
    with_column = predict_links(warehouse, "intermediate.records_with_canonical", trained[0], threshold_match_probability=0.0)
    assert with_column.equals(links)


def test_explain_pair_names_each_comparison(links, trained):
    lines = explain_pair(_pair(links, "case:bob1", "case:bob2"), trained[0])
    assert lines[0].startswith("prior")
    assert any(line.startswith("first_name: nickname match (+") for line in lines), lines
    assert any(line.startswith("address: same address and postcode (+") for line in lines), lines
    assert lines[-1].startswith("total:")
    household = explain_pair(_pair(links, "case:home1", "case:home2"), trained[0])
    assert any(line.startswith("first_name: different (-") for line in household), household


def test_waterfall_chart_is_standalone_html(warehouse, trained, tmp_path):
    path = waterfall_chart_html(
        warehouse, TABLE, trained[0], [("case:bob1", "case:bob2"), ("case:home1", "case:home2")], tmp_path / "w.html"
    )
    html = path.read_text()
    assert "vegaEmbed" in html and "quarrington" in html and "fairweather" in html
    assert '"record_number": 1' in html  # two pairs charted
    assert "<script src=" not in html, "libraries must be inlined to work offline"


@pytest.mark.parametrize("variant", ["absent", "all_null"])
def test_names_dob_address_only(variant, tmp_path):
    """Bring your own data: only names, date of birth and address (raw, not normalised)."""
    data = _records()
    keep = ["record_key", "first_name", "last_name", "date_of_birth", "address_line", "postcode"]
    con = duckdb.connect()
    con.register("raw", data.select(keep).to_arrow())
    if variant == "absent":
        con.execute("create table people as select * from raw")
    else:
        con.execute("""
            create table people as select *, null::varchar as email, null::varchar as phone,
                null::varchar as city, null::varchar as loyalty_id from raw
        """)
    summary = train_model(con, "people", tmp_path / "model.json", **FAST)
    assert summary["fields_used"] == ["address", "dob", "first", "last", "postcode"]
    assert set(summary["comparisons"]) == {"first_name", "last_name", "date_of_birth", "address"}
    found = predict_links(con, "people", tmp_path / "model.json", threshold_match_probability=0.0)
    assert _probability(found, "case:bob1", "case:bob2") > 0.9
    assert _probability(found, "case:swap1", "case:swap2") > 0.9
    assert _probability(found, "case:home1", "case:home2") < 0.05


@pytest.mark.parametrize("a, b", [
    ("catherine", "kathryn"), ("steven", "stephen"), ("jon", "john"), ("geoffrey", "jeffrey"), ("brian", "bryan"),
    ("carl", "karl"), ("sophie", "sofia"), ("smith", "smyth"), ("o brien", "obrien"),
])
def test_names_spelt_as_they_sound_share_a_phonetic_key(a, b):
    assert phonetic_key(a) == phonetic_key(b) is not None


@pytest.mark.parametrize("a, b", [("tom", "tim"), ("jane", "june"), ("hill", "hall"), ("jones", "james"), ("emma", "olivia")])
def test_different_names_keep_different_phonetic_keys(a, b):
    # Metaphone alone codes tom and tim alike: the first vowel keeps them apart.
    assert phonetic_key(a) != phonetic_key(b)


def test_a_phonetic_key_needs_letters():
    assert [phonetic_key(n) for n in (None, "", " ", "12")] == [None] * 4


def _prepared(rows: list[tuple], block_cap: int = 200,
              columns: str = "record_key varchar, first_name varchar, last_name varchar") -> dict[str, dict]:
    """The prepared records (splink_prepare) of `rows`, a table with `columns`, by record key."""
    con = duckdb.connect()
    con.execute(f"create table people({columns})")
    con.executemany(f"insert into people values ({', '.join('?' * len(rows[0]))})", rows)
    with scratch_database(con):
        prepare_records(con, "people", block_cap=block_cap)
        prepared = con.sql(f"select * from {SCRATCH}.main.splink_records").pl()
    return {row["record_key"]: row for row in prepared.iter_rows(named=True)}


def test_prepared_records_carry_phonetic_keys_and_a_sound_alike_block():
    rows = [
        ("ocr", "R0SE", "5MITH"),  # scanned: digits read as the letters they look like
        ("typed", "Rose", "Smyth"),
        ("swapped", "Smyth", "Rose"),
        ("no_first", None, "Smith"),
        ("other", "Ruth", "Smith"),
    ]
    prepared = _prepared(rows, block_cap=10)
    assert prepared["ocr"]["first_name_phonetic"] == prepared["typed"]["first_name_phonetic"] == phonetic_key("rose")
    assert prepared["ocr"]["last_name_phonetic"] == prepared["typed"]["last_name_phonetic"] == phonetic_key("smith")
    assert prepared["ocr"]["bk_phonetic_name"] is not None
    assert {prepared[k]["bk_phonetic_name"] for k in ("ocr", "typed", "swapped")} == {prepared["ocr"]["bk_phonetic_name"]}
    assert prepared["no_first"]["first_name_phonetic"] is None and prepared["no_first"]["bk_phonetic_name"] is None
    assert prepared["no_first"]["last_name_phonetic"] == phonetic_key("smith")
    assert prepared["other"]["bk_phonetic_name"] not in (None, prepared["ocr"]["bk_phonetic_name"])
    # Capped like every blocking key: three records share it, more than a cap of 2.
    capped = _prepared(rows, block_cap=2)
    assert capped["typed"]["bk_phonetic_name"] is None and capped["other"]["bk_phonetic_name"] is not None


def test_a_record_with_both_names_and_the_street_garbled_is_blocked_on_its_birth_date_and_house_number():
    # FEBRL 1's rec-306: the names swapped and the surname replaced, the street and postcode mistyped.
    prepared = _prepared([
        ("org", "Timothy", "Coffey", "1960-02-22", "23 Bacchus Circuit", "2450"),
        ("dup", "Dominey", "Timothy", "1960-02-22", "23 Bacchus Hircuit", "2405"),
        ("neighbour", "Timothy", "Coffey", "1960-02-22", "25 Bacchus Circuit", "2450"),
    ], columns="record_key varchar, first_name varchar, last_name varchar, date_of_birth date, address_line varchar, postcode varchar")
    rules = build_spec({"first", "last", "dob", "address", "postcode"}).blocking_rules
    shared = [rule for rule in rules if prepared["org"][rule] is not None and prepared["org"][rule] == prepared["dup"][rule]]
    assert shared == ["bk_dob_house"]
    assert prepared["neighbour"]["bk_dob_house"] != prepared["org"]["bk_dob_house"]


def test_the_surname_prefix_and_birth_year_key_is_capped_at_a_quarter_of_the_others():
    # Three letters of a surname with a birth year group far more strangers than a whole name does.
    smiths = [(f"smith{i}", "John", "Smith", "1980-01-01") for i in range(3)]
    prepared = _prepared([*smiths, ("smithers", "Ann", "Smithers", "1980-06-02")], block_cap=8,  # a quarter: 2
                         columns="record_key varchar, first_name varchar, last_name varchar, date_of_birth date")
    assert key_cap("bk_last_year", 8) == 2 and key_cap("bk_name", 8) == 8
    assert {prepared[k]["bk_last_year"] for k in prepared} == {None}  # four records share smi|1980
    assert prepared["smith0"]["bk_name"] is not None and prepared["smith0"]["bk_name"] == prepared["smith2"]["bk_name"]


def test_addresses_are_compared_in_one_spelling_with_the_flat_after_the_street():
    con = duckdb.connect()
    con.execute("create table places(record_key varchar, address_line varchar)")
    con.executemany("insert into places values (?, ?)", [
        ("before", "Flat 6, 80 Farm Gro"), ("after", "80 Farm Grove Flat 6"), ("apartment", "Apartment 6 80 farm grove"),
        ("house", "123 Gladstone Gdns"), ("neighbour", "124 Gladstone Gardens"),
    ])
    with scratch_database(con):
        prepare_records(con, "places")
        prepared = {k: (line, number) for k, line, number in con.execute(
            f"select record_key, address_line_norm, house_number from {SCRATCH}.main.splink_records").fetchall()}
    assert prepared["before"] == prepared["after"] == prepared["apartment"] == ("80 farm grove flat 6", "80")
    assert prepared["house"] == ("123 gladstone gardens", "123") and prepared["neighbour"][1] == "124"


@pytest.mark.parametrize("restricted", [False, True])
def test_scoring_representatives_of_identical_records_gives_every_records_scores(warehouse, trained, restricted):
    # Copies of records under other keys (a person's many consent events): Splink scores one record
    # per group of identical rows; every pair and score must be as if it scored them all, the pairs
    # within a group and the kept pairs (blocked or not, within a group or across) included.
    warehouse.execute(f"""
        create or replace view intermediate.records_with_copies as
        select * from {TABLE}
        union all select t.* replace ('copy' || n || ':' || record_key as record_key)
        from {TABLE} as t, range(2) as copies(n) where hash(record_key) % 5 = 0""")
    model_path = trained[0]
    model = json.loads(model_path.read_text())
    with scratch_database(warehouse):
        prepare_records(warehouse, "intermediate.records_with_copies")
        dirty = None
        if restricted:  # an incremental run: only the pairs with a new or changed record
            dirty = "is_new"
            warehouse.execute(f"""create or replace table {SCRATCH}.main.splink_records as
                select *, hash(record_key) % 3 = 0 as is_new from {SCRATCH}.main.splink_records""")
        frequencies = frozen_lookups(warehouse, model, model_path)
        warehouse.execute(f"""create table {SCRATCH}.keep as
            select distinct least(a.record_key, b.record_key) as record_key_l, greatest(a.record_key, b.record_key) as record_key_r
            from {SCRATCH}.main.splink_records as a join {SCRATCH}.main.splink_records as b
              on a.record_key <> b.record_key and (a.email = b.email or a.last_name_norm = b.last_name_norm)
            where hash(a.record_key, b.record_key) % 50 = 0""")
        scored = {
            by: score_pairs(warehouse, model, 0.9, keep_pairs=f"{SCRATCH}.keep", term_frequencies=frequencies,
                            only_pairs_of=dirty, by_representatives=by).sort("record_key_l", "record_key_r")
            for by in (True, False)
        }
        groups = warehouse.execute(f"""select count(*), count(distinct hash(columns(* exclude (record_key))))
            from {SCRATCH}.main.splink_records""").fetchall()[0]
    assert groups[1] < groups[0] - 500  # there are copies to group
    within = scored[False].filter(pl.col("record_key_l").str.ends_with(pl.col("record_key_r").str.split(":").list.last()))
    assert within.height > 0 and scored[False]["from_blocking"].any() and not scored[False]["from_blocking"].all()
    assert scored[True].equals(scored[False])


def test_the_best_link_pass_reads_alike_names_from_the_models_weights(links):
    """identity.best_links lets a record without a date of birth join only where both names are alike."""
    agree = links.with_columns(_names_agree(links.columns))
    pairs = [("case:bob1", "case:bob2"), ("case:peg1", "case:peg2"), ("case:home1", "case:home2"), ("case:home1", "case:home3")]
    assert [_pair(agree, a, b)["names_agree"] for a, b in pairs] == [True, True, False, False]
