"""The household pass: a person's records at one address join when each is the other's only candidate."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest

from dagster_project.config import BUNDLED_DBT_PROJECT
from dagster_project.identity.household_pass import HOUSEHOLD_RULE, household_pass
from dagster_project.identity.phonetic import write_record_phonetics

SCHEMA = {
    "record_key": pl.String, "date_of_birth": pl.Date, "first_name_norm": pl.String, "first_name_canonical": pl.String,
    "first_name_listed": pl.Boolean, "last_name_norm": pl.String, "name_suffix": pl.String,
    "address_line_norm": pl.String, "postcode_norm": pl.String, "sex": pl.String,
}
EDGE_SCHEMA = {"record_key": pl.String, "linked_record_key": pl.String, "rule": pl.String,
               "match_weight": pl.Float64, "vetoed": pl.Boolean, "veto_reason": pl.String}
NICKNAMES = {"katie": "kathleen", "zosia": "zofia", "jim": "james"}
TYPOS = {"karnil"}  # not real names: not in the nickname list


def records_connection(rows: list[tuple], with_sex: bool = True) -> tuple[duckdb.DuckDBPyConnection, pl.DataFrame]:
    """A connection holding the nickname seeds, `rows` as the records table "records" and their phonetic keys.
    rows: (key, dob, first name, last name, address, postcode[, suffix[, sex]])."""
    con = duckdb.connect()
    con.execute("create schema reference")
    for seed in ("nicknames", "nickname_alternates"):
        con.execute(f"create table reference.{seed} as select * from read_csv(?, header = true)",
                    [str(BUNDLED_DBT_PROJECT / "seeds" / f"{seed}.csv")])
    records = pl.DataFrame(
        [(key, dob, first, NICKNAMES.get(first, first), first not in TYPOS, last, (rest + [None])[0], address, postcode,
          (rest + [None, None])[1])
         for key, dob, first, last, address, postcode, *rest in rows],
        schema=SCHEMA, orient="row",
    )
    con.register("records", (records if with_sex else records.drop("sex")).to_arrow())
    con.execute("create schema identity")
    write_record_phonetics(con, "records")
    return con, records


def _run(rows: list[tuple], *, one_per_person: dict[str, str] | None = None, cannot_link=(), clusters: dict[str, int] | None = None,
         with_sex: bool = True):
    """rows as records_connection takes them. Every record starts as its own person unless `clusters` says
    otherwise. Returns the person (cluster) of each record and the edges added."""
    con, records = records_connection(rows, with_sex)
    keys = records["record_key"].to_list()
    clusters = clusters or {key: n for n, key in enumerate(keys)}
    start = pl.DataFrame({"record_key": keys, "cluster": [clusters[k] for k in keys]}, schema={"record_key": pl.String, "cluster": pl.Int64})
    sources = pl.DataFrame(list((one_per_person or {}).items()), schema={"record_key": pl.String, "source": pl.String}, orient="row")
    decisions = pl.DataFrame(list(cannot_link), schema={"record_key": pl.String, "linked_record_key": pl.String}, orient="row")
    edges, result, joined = household_pass(con, "records", pl.DataFrame(schema=EDGE_SCHEMA), start, sources, decisions)
    person = dict(result.iter_rows())
    return person, edges, joined


@pytest.mark.parametrize("with_sex", [True, False], ids=["records with sex", "records from before the sex field"])
def test_a_typo_and_a_nickname_join_their_only_candidate_at_the_address(with_sex):
    person, edges, joined = _run(with_sex=with_sex, rows=[
        ("census:1", date(1974, 9, 16), "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
        ("tax:1", None, "karnil", "dabrowski", "152 abbey wy", "MB65ZN"),              # OCR: rn for m
        ("census:2", date(1975, 11, 2), "kathleen", "flanagan", "7 manor place", "MB21AQ"),
        ("tax:2", None, "katie", "flabnagan", "7 manor pl", None),                      # nickname, surname typo, no postcode
        ("census:3", date(1980, 1, 1), "anna", "dabrowski", "152 abbey way", "MB65ZN"),  # another member: not alike
    ])
    assert person["census:1"] == person["tax:1"]
    assert person["census:2"] == person["tax:2"]
    assert person["census:3"] not in (person["census:1"], person["census:2"])
    assert joined == 2
    assert set(edges["rule"]) == {HOUSEHOLD_RULE} and edges.height == 2


def test_a_tie_a_twin_a_jr_sr_pair_and_other_addresses_stay_apart():
    person, edges, joined = _run([
        # Two Elizabeth Taylors at one address: "e taylor" could be either.
        ("census:1", date(1933, 9, 23), "elizabeth", "taylor", "33 brook grove", "MB65FQ"),
        ("census:2", date(2015, 10, 14), "elizabeth", "taylor", "33 brook grove", "MB65FQ"),
        ("tax:1", None, "e", "taylor", "33 brook gro", "MB65FQ"),
        # Father and son of one name: their suffixes conflict.
        ("census:3", date(1960, 5, 1), "john", "smith", "4 grange road", "MB41AQ", "sr"),
        ("survey:3", None, "john", "smith", "4 grange rd", "MB41AQ", "jr"),
        # Same name, other house number: not one household.
        ("census:4", date(1970, 3, 30), "mohammed", "ali", "158 clover way", "MB74ZP"),
        ("tax:4", None, "mohammed", "ali", "160 clover way", "MB74ZP"),
        # Real names that only sound alike are two people; one street in two towns is two households.
        ("crm:6", None, "john", "westmore", "33 tower way flat 4", "NR201DN"),
        ("crm:7", None, "joanne", "westmore", "33 tower way flat 4", "NR201DN"),
        ("crm:8", date(1984, 2, 1), "jennifer", "bennett", "20 meadow road", "L13ZU"),
        ("crm:9", None, "jennifer", "bennett", "20 meadow rd", "G615QZ"),
        # A surname and an address alone say nothing about which member it is.
        ("census:5", date(1981, 10, 6), "oisin", "burke", "106 mulberry close", "MB51ST"),
        ("tax:5", None, None, "burke", "106 mulberry close", "MB51ST"),
        # Father (his suffix written) and son of one name: a form without either fits both.
        ("census:10", date(1980, 8, 22), "leonard", "harris", "155 manor place flat 5", "MB11AA", "sr"),
        ("census:11", date(2005, 8, 3), "leonard", "harris", "155 manor place flat 5", "MB11AA"),
        ("tax:10", None, "leonard", "harris", "155 manor place flat 5", "MB11AA"),
    ])
    assert joined == 0 and edges.is_empty()
    assert len(set(person.values())) == len(person)


def test_one_first_name_at_one_address_joins_despite_a_surname_written_as_a_role_or_garbled():
    person, _, joined = _run([
        # A role written as the surname ("lady", "de casa"), or a surname garbled beyond a typo.
        ("census:1", date(1961, 4, 2), "marilyn", "frampton", "18 fern hill road", "MB12AB"),
        ("tax:1", None, "marilyn", "lady", "18 fern hill rd", "MB12AB"),
        ("census:2", date(1970, 8, 9), "riley", "crenshaw", "9 elm court", "MB33CD"),
        ("tax:2", None, "riley", "cahenxa", "9 elm court", "MB33CD"),
        # No surname at all (left blank, or a placeholder the staging model emptied).
        ("census:5", date(1979, 6, 30), "oisin", "burke", "106 mulberry close", "MB51ST"),
        ("tax:5", None, "oisin", None, "106 mulberry close", "MB51ST"),
        # The same house number and postcode on another street: two households.
        ("census:3", date(1985, 1, 5), "tyler", "gonzalez", "1109 ariel street", "MB44EF"),
        ("tax:3", None, "tyler", "blackburn", "1109 semoran drive", "MB44EF"),
        # Names written the other way round: one surname as the first name, two people.
        ("crm:6", None, "holmwick", "sarah", "183 cromwell street", "MB66IJ"),
        ("shop:6", None, "holmwick", "christopher", "183 cromwell street", "MB66IJ"),
        # Only the same initial: not enough once the surnames differ.
        ("census:4", date(1990, 3, 3), "daniel", "moss", "4 quay lane", "MB55GH"),
        ("tax:4", None, "d", "owner", "4 quay lane", "MB55GH"),
    ])
    assert person["census:1"] == person["tax:1"] and person["census:2"] == person["tax:2"]
    assert person["census:5"] == person["tax:5"]
    assert person["census:3"] != person["tax:3"] and person["census:4"] != person["tax:4"]
    assert person["crm:6"] != person["shop:6"]
    assert joined == 3


def test_dates_of_birth_that_conflict_keep_a_parent_and_child_apart():
    person, _, joined = _run([
        ("census:1", date(1954, 11, 13), "james", "parker", "136 queens close", "MB73XR"),
        ("survey:1", date(1988, 2, 2), "jim", "parker", "136 queens cl", "MB73XR"),
    ])
    assert joined == 0 and person["census:1"] != person["survey:1"]


def test_duplicate_free_sources_and_cannot_link_decisions_are_never_overruled():
    rows = [
        ("census:1", date(1974, 9, 16), "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
        ("tax:1", None, "karnil", "dabrowski", "152 abbey way", "MB65ZN"),
        ("tax:2", None, "kamil", "dabrowski", "152 abbey way", "MB65ZN"),
    ]
    # census:1 and tax:1 are already one person, so tax:2 would be a second tax form of theirs.
    person, _, joined = _run(rows, one_per_person={"tax:1": "tax", "tax:2": "tax"},
                             clusters={"census:1": 0, "tax:1": 0, "tax:2": 1})
    assert joined == 0 and person["tax:2"] != person["census:1"]
    person, _, joined = _run(rows[:2], cannot_link=[("tax:1", "census:1")])
    assert joined == 0 and person["tax:1"] != person["census:1"]


def test_records_of_one_person_that_are_only_alike_each_other_join_together_but_a_bridge_does_not():
    # Three records alike each other, and nothing else at the address.
    person, edges, joined = _run([
        ("census:1", date(1943, 6, 28), "andrzej", "zielinski", "116 lark street", "MB78TQ"),
        ("survey:1", None, "andrzej", "zielinsky", "116 lark st", None),
        ("tax:1", None, "a", "zielinski", "116 lark street", "MB78TQ"),
    ], one_per_person={"tax:1": "tax", "census:1": "census"})
    assert person["census:1"] == person["survey:1"] == person["tax:1"]
    assert joined == 2
    # "a zielinski" alike "andrzej" and "alina", who are not alike each other: it bridges nobody.
    person, _, joined = _run([
        ("census:1", date(1943, 6, 28), "andrzej", "zielinski", "116 lark street", "MB78TQ"),
        ("census:2", None, "alina", "zielinski", "116 lark street", "MB78TQ"),
        ("tax:1", None, "a", "zielinski", "116 lark street", "MB78TQ"),
    ], one_per_person={"tax:1": "tax", "census:1": "census", "census:2": "census"})
    assert joined == 0 and len(set(person.values())) == 3


def test_sex_from_a_title_tells_which_member_filed_a_form():
    household = [
        ("census:1", date(1970, 1, 5), "john", "taylor", "12 poplar grove", "MB45BR", None, "m"),
        ("census:2", date(1972, 8, 9), "jane", "taylor", "12 poplar grove", "MB45BR", None, "f"),
    ]
    # "j taylor" could be either; "Mrs J Taylor" is Jane.
    person, _, joined = _run([*household, ("tax:1", None, "j", "taylor", "12 poplar grove", "MB45BR")])
    assert joined == 0
    person, _, joined = _run([*household, ("tax:1", None, "j", "taylor", "12 poplar grove", "MB45BR", None, "f")])
    assert joined == 1 and person["tax:1"] == person["census:2"] != person["census:1"]
