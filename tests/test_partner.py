"""Second-party (partner) matching on privacy-preserving keys: encoding, accuracy, no raw PII."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl
import pytest

from dagster_project.generate import partner
from dagster_project.generate.people import EmailRegistry, person_chunk
from dagster_project.generate.plan import Ctx, cohort
from dagster_project.identity import partner_keys, partner_match

SECRET = "test-secret-shared-with-partner"


def test_keys_are_hmacs_of_the_staging_normalised_values():
    spellings = pl.DataFrame({
        "email": [" Anna.Smith@Example.COM ", "anna.smith@example.com"],
        "phone": ["07700 900123", "+44 7700 900123"],
        "country": ["United Kingdom", "GB"],
    })
    keys = partner_keys.encode(spellings, SECRET)
    assert keys["email_key"].n_unique() == 1 and keys["phone_key"].n_unique() == 1
    expected = hmac.new(SECRET.encode(), b"email:anna.smith@example.com", hashlib.sha256).hexdigest()
    assert keys["email_key"][0] == expected
    assert partner_keys.encode(spellings, SECRET + "x")["email_key"][0] != expected  # keyed by the secret


def test_bloom_filters_are_close_for_a_typo_and_far_for_someone_else():
    people = pl.DataFrame({
        "first_name": ["Catherine", "Catherin", "Mohammed"],
        "last_name": ["Walsh", "Walsh", "Okafor"],
        "date_of_birth": ["1984-03-12", "1984-03-12", "1990-07-01"],
        "postcode": ["SW1A 1AA", "sw1a1aa", "M1 1AE"],
    })
    bits = partner_match._bits(partner_keys.encode(people, SECRET)["clk"])
    assert partner_match._dice(bits[0], bits[1]) > 0.9
    assert partner_match._dice(bits[0], bits[2]) < 0.5


def test_secret_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(partner_keys.SECRET_ENV, raising=False)
    with pytest.raises(partner_keys.MissingSecret):
        partner_keys.secret_from_env()
    monkeypatch.setenv(partner_keys.SECRET_ENV, SECRET)
    assert partner_keys.secret_from_env() == SECRET


@pytest.fixture(scope="module")
def generated():
    people = cohort_people()
    raw, truth = partner.partner_rows(people, 5, 0, int(people["hi"].max()))
    ours_raw = partner.brand_records(people, 5)
    ours = pl.concat([ours_raw.select("person_id"), partner_keys.encode(ours_raw, SECRET)], how="horizontal")
    return raw, truth, partner.encoded_file(raw, SECRET), ours


def test_partner_match_precision_and_recall_with_typos_and_moves(generated):
    _raw, truth, theirs, ours = generated
    matches = partner_match.match(ours, theirs, partner_match.Thresholds())
    scored = matches.join(truth, on="partner_record_id", suffix="_true")
    correct = (scored["person_id"] == scored["person_id_true"]).sum()
    precision, recall = correct / matches.height, correct / truth["person_id"].is_not_null().sum()
    assert precision >= 0.99 and recall >= 0.9, (precision, recall)
    assert set(matches["matched_by"]) == {"key", "bloom"}  # near-misses only the Bloom filters find
    assert matches["person_id"].is_unique().all() and matches["partner_record_id"].is_unique().all()


def test_encoded_file_holds_no_raw_identifier_nor_the_secret(generated):
    raw, _truth, theirs, _ours = generated
    text = theirs.write_csv()
    assert SECRET not in text
    values = pl.concat([raw[c].drop_nulls() for c in ("first_name", "last_name", "email", "phone", "postcode")])
    leaked = [v for v in values.unique().to_list() if len(v) >= 5 and v in text]
    assert leaked == []


def test_partner_matches_table_holds_no_raw_identifier_nor_the_secret(tmp_path, generated):
    """identity.partner_matches from a warehouse holding our records and a staged
    partner file: persons are matched, and no table has a partner's raw value or the secret."""
    import duckdb
    from types import SimpleNamespace

    raw, truth, theirs, _ours = generated
    ours_raw = partner.brand_records(cohort_people(), 5).with_columns(source=pl.lit("crm"))
    ours_raw = ours_raw.with_columns(source_record_id=pl.int_range(pl.len()).cast(pl.String))
    source = SimpleNamespace(name="airline", kind="partner", staging_model="stg_airline__members")
    config = SimpleNamespace(sources=[source], default_phone_country_code="44", partner_dice_threshold=0.8,
                             partner_key_min_dice=0.6, partner_margin=0.05)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for schema in ("intermediate", "identity", "staging"):
        con.execute(f"create schema {schema}")
    con.register("ours_raw", ours_raw)
    con.execute("create table intermediate.int_identity__records as select * exclude (person_id) from ours_raw")
    con.execute("create table identity.person_map as select source, source_record_id, person_id from ours_raw")
    con.register("theirs", theirs)
    con.execute("create table staging.stg_airline__members as select partner_record_id as source_record_id, * from theirs")
    counts = partner_match.match_partner_sources(con, config, SECRET)
    found = con.sql("select source_record_id, person_id from identity.partner_matches").pl()
    assert counts == {"airline": found.height} and found.height > 0.9 * truth["person_id"].is_not_null().sum()
    tables = con.sql("select table_schema, table_name from information_schema.tables "
                     "where table_name in ('partner_matches', 'stg_airline__members')").fetchall()
    text = "\n".join(con.sql(f'select * from "{s}"."{t}"').pl().write_csv() for s, t in tables)
    assert SECRET not in text
    values = pl.concat([raw[c].drop_nulls() for c in ("first_name", "last_name", "email", "phone", "postcode")])
    assert [v for v in values.unique().to_list() if len(v) >= 5 and v in text] == []


def cohort_people() -> pl.DataFrame:
    ctx = Ctx(seed=5, batch=1, people=3000, defect_rate=0, noise=1.0)
    ctx.chunk = 0
    return cohort(ctx, person_chunk(5, 0, EmailRegistry(5)))


def test_shared_email_with_another_birthday_and_near_ties_stay_unmatched():
    ours_raw = pl.DataFrame({
        "person_id": ["p1", "p2", "p3"],
        "first_name": ["Claire", "Catherine", "Catherine"],
        "last_name": ["Thornshaw", "Walsh", "Walsh"],
        "email": ["family@example.com", None, None],
        "date_of_birth": ["1987-10-22", "1984-03-12", "1984-03-12"],
        "postcode": ["LS17 7UQ", "SW1A 1AA", "SW1A 1AA"],
    })
    theirs_raw = pl.DataFrame({
        "partner_record_id": ["a", "b"],
        "first_name": ["Michael", "Catherin"],
        "last_name": ["Thornshaw", "Walsh"],
        "email": ["family@example.com", None],
        "date_of_birth": ["1985-02-01", "1984-03-12"],
        "postcode": ["LS17 7UQ", "SW1A 1AA"],
    })
    ours = pl.concat([ours_raw.select("person_id"), partner_keys.encode(ours_raw, SECRET)], how="horizontal")
    theirs = pl.concat([theirs_raw.select("partner_record_id"), partner_keys.encode(theirs_raw, SECRET)], how="horizontal")
    # a: the household's email, another birthday; b: two persons of ours equally close (a tie).
    assert partner_match.match(ours, theirs).is_empty()
    assert partner_match.match(ours.head(2), theirs)["partner_record_id"].to_list() == ["b"]


def test_a_fuzzy_match_needs_two_agreeing_keys_not_only_a_common_name():
    ours_raw = pl.DataFrame({"person_id": ["p1"], "first_name": ["Sarah"], "last_name": ["Sandwood"],
                             "date_of_birth": ["1978-07-24"], "postcode": ["L14 5YE"]})
    theirs_raw = pl.DataFrame({
        "partner_record_id": ["stranger", "moved"],
        "first_name": ["Sarah", "Sarah"],
        "last_name": ["Sandwood", "Sandwood"],
        "date_of_birth": ["1972-07-24", "1978-07-24"],
        "postcode": [None, "M1 1AE"],
    })
    ours = pl.concat([ours_raw.select("person_id"), partner_keys.encode(ours_raw, SECRET)], how="horizontal")
    theirs = pl.concat([theirs_raw.select("partner_record_id"), partner_keys.encode(theirs_raw, SECRET)], how="horizontal")
    stranger_only = partner_match.match(ours, theirs.head(1), partner_match.Thresholds(margin=0))
    near = partner_match.candidate_pairs(ours, theirs.head(1), partner_match.Thresholds.dice_threshold)
    assert near["similarity"].to_list()[0] >= partner_match.Thresholds.dice_threshold  # as close as a typo...
    assert stranger_only.is_empty()  # ...but only the name key agrees
    # Same birthday and name key after a move: two keys agree.
    assert partner_match.match(ours, theirs.tail(1))["partner_record_id"].to_list() == ["moved"]
