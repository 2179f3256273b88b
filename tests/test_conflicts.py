"""Conflict-aware clustering: twins, Jr/Sr and partial records never chain people together."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl

from dagster_project.config import BUNDLED_DBT_PROJECT
from dagster_project.identity.conflicts import (
    MUST_LINK_WEIGHT, cluster_without_conflicts, conflict_pairs, separate_conflicts,
)
from dagster_project.identity.one_per_person import duplicate_free_sources
from dagster_project.identity.phonetic import write_record_phonetics
from dagster_project.identity.source_ages import AgeVerdict, write_min_ages

RECORD_SCHEMA = {
    "record_key": pl.String, "date_of_birth": pl.Date, "first_name_norm": pl.String,
    "first_name_canonical": pl.String, "first_name_listed": pl.Boolean, "last_name_norm": pl.String, "name_suffix": pl.String,
}
TYPOS = {"thomsa", "t", "mna", "sdan", "befn"}  # not real names: not in the nickname list


def _warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the nickname seed where dbt puts it."""
    con = duckdb.connect()
    con.execute("create schema reference")
    for seed in ("nicknames", "nickname_alternates"):
        con.execute(f"create table reference.{seed} as select * from read_csv(?, header = true)",
                    [str(BUNDLED_DBT_PROJECT / "seeds" / f"{seed}.csv")])
    return con


def _add_records(con: duckdb.DuckDBPyConnection, records: pl.DataFrame) -> None:
    """The identity records as table `records`, with their sound-alike keys as identity resolution writes them."""
    con.register("records", records.to_arrow())
    con.execute("create schema if not exists identity")
    write_record_phonetics(con, "records")


def _records(rows: list[tuple]) -> pl.DataFrame:
    """(key, dob, first name, last name, suffix[, canonical first name from the nickname list])"""
    return pl.DataFrame(
        [(key, dob, first, (rest or [first])[0], first not in TYPOS, last, suffix) for key, dob, first, last, suffix, *rest in rows],
        schema=RECORD_SCHEMA, orient="row",
    )


def _splink_edges(links: list[tuple[str, str, float]]) -> pl.DataFrame:
    """Standing Splink links (record_key, linked_record_key, match_weight) as identity resolution's edges."""
    return pl.DataFrame(
        [(a, b, "splink", w, False, None) for a, b, w in links],
        schema={"record_key": pl.String, "linked_record_key": pl.String, "rule": pl.String,
                "match_weight": pl.Float64, "vetoed": pl.Boolean, "veto_reason": pl.String},
        orient="row",
    )


def _cluster(nodes, full, links, conflicts=(), decisions=(), margin=5.0):
    """links: (a, b, weight); conflicts: (a, b)."""
    left, right, weight = (np.array(v) for v in zip(*links)) if links else (np.array([], int),) * 3
    pairs = [*conflicts, *decisions]
    c_left = np.array([a for a, _ in pairs], dtype=int)
    c_right = np.array([b for _, b in pairs], dtype=int)
    reasons = ["conflict"] * len(conflicts) + ["cannot-link decision"] * len(decisions)
    is_decision = np.array([False] * len(conflicts) + [True] * len(decisions), dtype=bool)
    outcome = cluster_without_conflicts(
        nodes, np.array(full), left.astype(int), right.astype(int), weight.astype(float), c_left, c_right, reasons, is_decision, margin
    )
    return outcome.labels, outcome.edge_reasons


def test_conflicting_dates_names_and_suffixes_are_found_and_typos_are_not():
    con = _warehouse()
    records = _records([
        ("a", date(1980, 3, 12), "thomas", "smith", None),
        ("b", date(1980, 3, 12), "timothy", "smith", None),        # twin: first names conflict
        ("c", date(1980, 12, 3), "thomas", "smith", None),         # day/month swapped: no conflict with a
        ("d", date(1980, 3, 21), "tom", "smith", None, "thomas"),           # digits swapped, nickname: no conflict with a
        ("e", date(2008, 7, 1), "thomas", "smith", "jr"),          # son: dob conflicts with a
        ("f", None, "t", "smith", "sr"),                           # initial: no name conflict; suffix conflicts with e
        ("g", date(1980, 3, 13), "thomsa", "smith", None),         # one digit, typo: no conflict with a
    ])
    _add_records(con, records)
    clusters = pl.DataFrame({"record_key": records["record_key"], "cluster": [1] * records.height})
    found = conflict_pairs(con, "records", clusters)
    pairs = {(l, r): reason for l, r, reason in found.iter_rows()}
    assert ("a", "b") in pairs and pairs[("a", "b")].startswith("first names")
    assert ("a", "e") in pairs and pairs[("a", "e")].startswith("dates of birth")
    assert ("e", "f") in pairs and pairs[("e", "f")].startswith("generational suffixes")
    for clean in [("a", "c"), ("a", "d"), ("a", "f"), ("a", "g")]:
        assert clean not in pairs, clean
    # Records in different clusters are never compared.
    apart = clusters.with_columns(pl.Series("cluster", [1, 2, 1, 1, 1, 1, 1]))
    assert ("a", "b") not in {(l, r) for l, r, _ in conflict_pairs(con, "records", apart).iter_rows()}


def test_real_names_conflict_strictly_and_rare_spellings_only_when_nothing_alike():
    con = _warehouse()
    records = _records([
        ("a", None, "mark", "jones", None), ("b", None, "mary", "jones", None),     # real names, one letter apart
        ("c", None, "mia", "jones", None), ("d", None, "mna", "jones", None),       # a typo of mia
        ("e", None, "sean", "jones", None), ("f", None, "sdan", "jones", None),     # a typo of sean
        ("g", None, "jones", "mark", None),                                         # written the other way round
        ("h", None, "befn", "jones", None), ("i", None, "benjamin", "jones", None),  # a typo of ben, same first letter
        ("j", None, "charlie", "jones", None, "charles"), ("k", None, "charlotte", "jones", None),  # one nickname, two names
    ])
    _add_records(con, records)
    pairs = {(l, r) for l, r, _ in conflict_pairs(con, "records", pl.DataFrame({"record_key": records["record_key"], "cluster": [1] * 11})).iter_rows()}
    assert ("a", "b") in pairs and ("a", "c") in pairs
    for clean in [("c", "d"), ("e", "f"), ("a", "g"), ("h", "i"), ("j", "k")]:
        assert clean not in pairs, clean
    assert ("d", "f") in pairs  # two typos, nothing alike (mna / sdan)
    assert ("e", "g") in pairs  # sean jones / mark jones, written the other way round


def test_a_record_written_the_other_way_round_is_compared_by_its_real_first_name():
    con = _warehouse()
    born = date(1990, 5, 1)
    records = _records([
        ("a", born, "john", "smith", None),
        ("b", born, "smith", "jane", None),     # his twin, surname written first: surnames alike, first names not
        ("c", born, "smith", "johnny", None),   # him, surname first and a nickname
        ("d", None, "smith", None, None),       # a surname in the first-name field: no first name to compare
        ("e", born, "smyth", "j", None),        # him, surname first and an initial
        ("f", born, "stubbs", "jon", None),     # him, surname first, its surname replaced (stubbs)
        # Others of the town (another person): smith and stubbs are written as surnames.
        *[(f"town:{n}", None, name, surname, None) for n, (name, surname) in
          enumerate([("anna", "smith"), ("ben", "smith"), ("cara", "smith"), ("dan", "stubbs"), ("eve", "stubbs")])],
    ])
    _add_records(con, records)
    clusters = pl.DataFrame({"record_key": records["record_key"],
                             "cluster": [2 if key.startswith("town:") else 1 for key in records["record_key"]]})
    pairs = {(l, r): reason for l, r, reason in conflict_pairs(con, "records", clusters).iter_rows()}
    assert pairs.get(("a", "b"), "").startswith("first names")
    for clean in [("a", "c"), ("a", "d"), ("a", "e"), ("a", "f")]:
        assert clean not in pairs, clean


def test_twins_and_a_partial_record_that_links_to_both_stay_three_people():
    # 0 tom, 1 tim (twins, full records), 2 a tax form "T Smith" with no date of birth.
    labels, reasons = _cluster(3, [True, True, False], [(0, 1, 6.0), (0, 2, 12.0), (1, 2, 11.0)], conflicts=[(0, 1)])
    assert len(set(labels)) == 3
    assert reasons[0].startswith("refused")
    assert reasons[1].startswith("ambiguous") and reasons[2].startswith("ambiguous")


def test_a_partial_record_joins_the_clearly_best_person_only():
    labels, reasons = _cluster(3, [True, True, False], [(0, 2, 20.0), (1, 2, 8.0)], conflicts=[(0, 1)])
    assert labels[2] == labels[0] != labels[1]
    assert 1 in reasons and 0 not in reasons


def test_junior_and_senior_are_never_one_person_and_the_weaker_link_loses():
    # 0 senior, 1 junior (conflict), 2 senior's other record: 0-2 strong, 1-2 weaker.
    labels, reasons = _cluster(3, [True, True, True], [(1, 2, 9.0), (0, 2, 25.0)], conflicts=[(0, 1)])
    assert labels[0] == labels[2] != labels[1]
    assert list(reasons) == [0] and "refused" in reasons[0]


def test_a_chain_through_a_partial_record_is_cut_but_clean_groups_stay_whole():
    # Two persons of two records each, joined only through a partial record 4.
    links = [(0, 1, 15.0), (2, 3, 15.0), (0, 4, 9.0), (2, 4, 9.0)]
    labels, _ = _cluster(5, [True, True, True, True, False], links, conflicts=[(1, 3)])
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
    assert labels[4] not in (labels[0], labels[2])


def test_a_weak_link_between_partial_records_never_preempts_a_strong_link_to_a_person():
    # 0 olivia (full); 1 robert, no date of birth (partial, conflicts with 0); 2 a benefit form with
    # a surname and olivia's date of birth but no first name: it links to robert weakly, to olivia strongly.
    labels, reasons = _cluster(3, [True, False, False], [(1, 2, 4.4), (0, 2, 15.1)], conflicts=[(0, 1)])
    assert labels[2] == labels[0] != labels[1]
    assert list(reasons) == [0] and reasons[0].startswith("refused")


def test_a_refused_link_names_the_same_conflicting_pair_however_the_records_are_numbered():
    # x and y are one person; z conflicts with both, so the link y-z is refused. Runs number the
    # records in whatever order DuckDB returned them: the reason must not depend on it.
    def refusal(order: list[str]) -> str:
        node = {key: order.index(key) for key in order}
        left, right = np.array([node["x"], node["y"]]), np.array([node["y"], node["z"]])
        outcome = cluster_without_conflicts(
            3, np.array([True] * 3), left, right, np.array([20.0, 10.0]),
            np.array([node["x"], node["y"]]), np.array([node["z"], node["z"]]),
            ["first names ann / cat", "first names bea / cat"], np.array([False, False]), 5.0, node_names=order,
        )
        return outcome.edge_reasons[1]

    reasons = {refusal(order) for order in (["x", "y", "z"], ["z", "y", "x"], ["y", "z", "x"])}
    assert reasons == {"refused: would join first names ann / cat (x, z)"}


def test_a_group_of_partial_records_joins_at_most_one_person():
    # 2 and 3: partial records of one group; 2 links to person 0, 3 to person 1 (no conflict between them).
    labels, reasons = _cluster(4, [True, True, False, False], [(2, 3, 25.0), (0, 2, 20.0), (1, 3, 9.0)])
    assert labels[0] == labels[2] == labels[3] != labels[1]
    assert reasons == {2: "refused: a record with little evidence joins only its best person"}


def test_must_link_beats_a_conflict_and_cannot_link_beats_everything():
    must = MUST_LINK_WEIGHT
    labels, _ = _cluster(2, [True, True], [(0, 1, must)], conflicts=[(0, 1)])
    assert labels[0] == labels[1]
    labels, reasons = _cluster(3, [True, True, True], [(0, 1, must), (1, 2, 40.0)], decisions=[(0, 1)])
    assert labels[0] != labels[1] and labels[1] == labels[2]
    assert "refused" in reasons[0]


def test_separate_conflicts_rebuilds_only_the_conflicting_cluster():
    con = _warehouse()
    records = _records([
        ("crm:1", date(1970, 1, 5), "john", "smith", "sr"),
        ("crm:2", date(2001, 9, 9), "john", "smith", "jr"),
        ("tax:1", None, None, "smith", None),  # a surname only: either of them
        ("crm:3", date(1990, 2, 2), "ann", "lee", None),
        ("crm:4", date(1990, 2, 2), "anne", "lee", None),
    ])
    _add_records(con, records)
    edges = _splink_edges([("crm:1", "tax:1", 14.0), ("crm:2", "tax:1", 13.0), ("crm:1", "crm:2", 7.0), ("crm:3", "crm:4", 20.0)])
    clusters = pl.DataFrame({"record_key": records["record_key"], "cluster": [0, 0, 0, 1, 1]})
    full = records.filter(pl.col("date_of_birth").is_not_null() & pl.col("first_name_norm").is_not_null())["record_key"]
    result = separate_conflicts(con, "records", edges, clusters, full, margin=5.0)
    persons = dict(result.clusters.iter_rows())
    assert len({persons["crm:1"], persons["crm:2"], persons["tax:1"]}) == 3
    assert persons["crm:3"] == persons["crm:4"] == 1
    assert result.conflicted_clusters == 1 and result.refused_links == 1 and result.ambiguous_links == 2
    vetoed = result.edges.filter(pl.col("vetoed"))
    assert vetoed.height == 3 and vetoed["veto_reason"].str.contains("generational suffixes sr / jr").any()


def test_a_record_without_suffix_or_birth_date_is_either_namesake_unless_an_email_or_phone_says_which():
    con = _warehouse()
    records = _records([
        ("crm:jr", date(2001, 5, 26), "william", "matthews", "jr"),
        ("loyalty:1", None, "william", "matthews", None),          # the father's card? nothing tells
        ("ecommerce:1", None, "will", "matthews", None, "william"),  # the son's phone: his
        ("benefits:1", date(2001, 5, 26), "william", "matthews", None),  # his date of birth: his
        ("survey:1", None, "w", "matthews", None),                 # an initial: either
    ]).with_columns(pl.Series("phone", ["+447268129013", None, "+447268129013", None, None]),
                    pl.Series("email", [None, "williammatthews@icloud.com", "wm@example.com", None, None]))
    _add_records(con, records)
    one = pl.DataFrame({"record_key": records["record_key"], "cluster": [0] * records.height})
    pairs = {(l, r): reason for l, r, reason in conflict_pairs(con, "records", one).iter_rows()}
    assert pairs == {("crm:jr", "loyalty:1"): "namesakes jr / no suffix", ("crm:jr", "survey:1"): "namesakes jr / no suffix"}

    edges = _splink_edges([("crm:jr", "loyalty:1", 12.8), ("crm:jr", "ecommerce:1", 20.0), ("crm:jr", "benefits:1", 18.0),
                           ("crm:jr", "survey:1", 9.0)])
    full = records.filter(pl.col("date_of_birth").is_not_null() & pl.col("first_name_norm").is_not_null())["record_key"]
    persons = dict(separate_conflicts(con, "records", edges, one, full, margin=5.0).clusters.iter_rows())
    assert persons["crm:jr"] == persons["ecommerce:1"] == persons["benefits:1"]
    assert len({persons["crm:jr"], persons["loyalty:1"], persons["survey:1"]}) == 3
    # Without household safety (data without households) the names are only evidence, as first names are.
    weighed = separate_conflicts(con, "records", edges, one, full, margin=5.0, household_safe=False)
    assert weighed.clusters["cluster"].n_unique() == 1 and weighed.accepted.height == 2


def test_a_namesake_is_still_a_rival_so_a_form_fitting_father_and_son_stays_apart():
    con = _warehouse()
    records = _records([
        ("census:sr", date(1970, 1, 5), "john", "smith", None),
        ("census:jr", date(2001, 9, 9), "john", "smith", "jr"),
        ("tax:1", None, "john", "smith", None),  # the father's or the son's: the son's suffix does not say
    ])
    _add_records(con, records)
    one = pl.DataFrame({"record_key": records["record_key"], "cluster": [0] * records.height})
    edges = _splink_edges([("census:sr", "tax:1", 14.0), ("census:jr", "tax:1", 13.0), ("census:sr", "census:jr", 7.0)])
    full = records.filter(pl.col("date_of_birth").is_not_null())["record_key"]
    result = separate_conflicts(con, "records", edges, one, full, margin=5.0)
    assert result.clusters["cluster"].n_unique() == 3
    reasons = result.edges.filter(pl.col("vetoed"))["veto_reason"]
    assert reasons.str.starts_with("ambiguous").sum() == 2 and reasons.str.starts_with("refused").sum() == 1


def _cluster_by_source(nodes, full, links, unique_source, must=()):
    """links: (a, b, weight); unique_source: a duplicate-free source number per record, -1 for others."""
    left, right, weight = (np.array(v) for v in zip(*[*links, *((a, b, MUST_LINK_WEIGHT) for a, b in must)]))
    empty = np.array([], dtype=int)
    outcome = cluster_without_conflicts(
        nodes, np.array(full), left.astype(int), right.astype(int), weight.astype(float), empty, empty, [],
        np.array([], dtype=bool), 5.0, node_names=[f"r{n}" for n in range(nodes)],
        unique_source=np.array(unique_source), source_names=["census"],
    )
    return outcome.labels, outcome.edge_reasons


def test_two_census_records_linked_through_a_third_record_are_two_people_and_the_stronger_link_wins():
    # 0 and 1: census returns of a father and son; 2: a CRM record linking to both.
    labels, reasons = _cluster_by_source(3, [True] * 3, [(0, 2, 18.0), (1, 2, 12.0)], [0, 0, -1])
    assert labels[0] == labels[2] != labels[1]
    assert reasons == {1: "refused: would put two records of source census in one person (r0, r1)"}
    # A direct link between two census returns is refused too; other sources' records still join.
    labels, reasons = _cluster_by_source(4, [True] * 4, [(0, 1, 20.0), (2, 3, 20.0), (0, 2, 15.0)], [0, 0, -1, -1])
    assert labels[0] != labels[1] and labels[0] == labels[2] == labels[3]
    assert list(reasons) == [0]


def test_a_partial_record_does_not_chain_two_census_records_and_a_must_link_overrides():
    # Three records with little evidence: a tax form (2) links to two census returns. It joins the
    # clearly stronger one, and neither when the two links are close (a father and son of one name).
    labels, reasons = _cluster_by_source(3, [False] * 3, [(0, 2, 18.0), (1, 2, 11.0)], [0, 0, -1])
    assert labels[0] == labels[2] != labels[1] and list(reasons) == [1] and reasons[1].startswith("refused")
    labels, reasons = _cluster_by_source(3, [False] * 3, [(0, 2, 12.0), (1, 2, 11.0)], [0, 0, -1])
    assert len(set(labels)) == 3 and all(reason.startswith("ambiguous") for reason in reasons.values())
    # A person said both returns are one person: the decision wins over the rule.
    labels, reasons = _cluster_by_source(3, [True] * 3, [(1, 2, 30.0)], [0, 0, -1], must=[(0, 1)])
    assert labels[0] == labels[1] == labels[2] and not reasons


def test_a_person_the_partial_record_could_never_join_is_no_rival():
    # 0: a census return without a first name, linked as strongly to two persons: 1 (whose own census
    # return it is) and 2 (a survey record). 1 cannot take a second census return, so 2 is the one.
    labels, reasons = _cluster_by_source(3, [False, True, True], [(0, 1, 10.7), (0, 2, 10.7)], [0, 0, -1])
    assert labels[0] == labels[2] != labels[1]
    assert reasons == {0: "refused: would put two records of source census in one person (r0, r1)"}
    # When both could take it, the tie leaves it apart.
    labels, reasons = _cluster_by_source(3, [False, True, True], [(0, 1, 10.7), (0, 2, 10.7)], [0, -1, -1])
    assert len(set(labels)) == 3 and all(reason.startswith("ambiguous") for reason in reasons.values())


def test_the_recorded_sex_of_a_form_without_a_first_name_tells_which_member_filed_it():
    con = _warehouse()
    records = _records([
        ("census:1", date(1980, 4, 2), "fatima", "hussain", None),
        ("census:2", date(1978, 9, 30), "ahmed", "hussain", None),
        ("tax:1", None, None, "hussain", None),                  # a form with a surname and "m" only
        ("crm:1", date(1980, 4, 2), "fatima", "hussain", None),   # her, with the sex typed wrong
    ]).with_columns(sex=pl.Series(["f", "m", "m", "m"]))
    _add_records(con, records)
    one_cluster = pl.DataFrame({"record_key": records["record_key"], "cluster": [0] * records.height})
    pairs = {(l, r): reason for l, r, reason in conflict_pairs(con, "records", one_cluster).iter_rows()}
    assert pairs[("census:1", "tax:1")] == "sexes f / m"
    assert ("census:1", "crm:1") not in pairs  # both first names known: they tell, not the sex
    # The form links as strongly to both; she could never take it, so it is his.
    edges = _splink_edges([("census:1", "tax:1", 10.7), ("census:2", "tax:1", 10.7), ("census:1", "crm:1", 25.0)])
    full = records.filter(pl.col("date_of_birth").is_not_null())["record_key"]
    persons = dict(separate_conflicts(con, "records", edges, one_cluster, full, margin=5.0).clusters.iter_rows())
    assert persons["tax:1"] == persons["census:2"] != persons["census:1"] == persons["crm:1"]
    # Without a recorded sex the tie leaves the form apart.
    con = _warehouse()
    _add_records(con, records.drop("sex"))
    persons = dict(separate_conflicts(con, "records", edges, one_cluster, full, margin=5.0).clusters.iter_rows())
    assert len({persons["tax:1"], persons["census:1"], persons["census:2"]}) == 3


def test_a_form_of_an_adults_only_source_is_the_fathers_not_his_young_sons():
    con = _warehouse()
    records = _records([
        ("census:1", date(1975, 6, 1), "david", "okafor", None),
        ("census:2", date(2007, 2, 10), "daniel", "okafor", None),  # 16 on the form's date
        ("tax:1", None, None, "okafor", None),                     # a surname, "m", no date of birth
    ]).with_columns(sex=pl.Series(["m", "m", "m"]), source=pl.Series(["census", "census", "tax"]),
                    updated_at=pl.Series([datetime(2021, 3, 21)] * 2 + [datetime(2023, 4, 5)]))
    _add_records(con, records)
    one_cluster = pl.DataFrame({"record_key": records["record_key"], "cluster": [0] * records.height})
    edges = _splink_edges([("census:1", "tax:1", 10.7), ("census:2", "tax:1", 10.7)])
    full = records.filter(pl.col("date_of_birth").is_not_null())["record_key"]
    # No source declares an age: a tie, and the form stays apart.
    persons = dict(separate_conflicts(con, "records", edges, one_cluster, full, margin=5.0).clusters.iter_rows())
    assert len({persons["tax:1"], persons["census:1"], persons["census:2"]}) == 3
    # Tax forms are filed by adults (cdp.yml: min_age 18): the son could never take it, so it is the father's.
    write_min_ages(con, [AgeVerdict("tax", 18, "declared min_age: 18 in cdp.yml")])
    pairs = {(l, r): reason for l, r, reason in conflict_pairs(con, "records", one_cluster).iter_rows()}
    assert pairs[("census:2", "tax:1")] == "ages born 2007-02-10 / at least 18 years old"
    assert ("census:1", "tax:1") not in pairs
    persons = dict(separate_conflicts(con, "records", edges, one_cluster, full, margin=5.0).clusters.iter_rows())
    assert persons["tax:1"] == persons["census:1"] != persons["census:2"]
    # At 16 he is old enough for a source of 16 and over.
    con.execute("update identity.source_min_ages set min_age = 16")
    assert not conflict_pairs(con, "records", one_cluster)["reason"].str.starts_with("ages").any()


def test_separate_conflicts_rebuilds_a_cluster_holding_two_records_of_a_one_record_source():
    con = _warehouse()
    records = _records([
        ("census:1", date(1970, 1, 5), "john", "smith", None),
        ("census:2", date(1970, 1, 5), "john", "smith", None),  # a namesake: no conflict, but a second census return
        ("crm:1", date(1970, 1, 5), "john", "smith", None),
        ("crm:2", date(1990, 2, 2), "ann", "lee", None),
        ("crm:3", date(1990, 2, 2), "ann", "lee", None),
    ])
    _add_records(con, records)
    edges = _splink_edges([("census:1", "crm:1", 16.0), ("census:2", "crm:1", 14.0), ("crm:2", "crm:3", 20.0)])
    clusters = pl.DataFrame({"record_key": records["record_key"], "cluster": [0, 0, 0, 1, 1]})
    census = pl.DataFrame({"record_key": ["census:1", "census:2"], "source": ["census", "census"]})
    result = separate_conflicts(con, "records", edges, clusters, records["record_key"], margin=5.0, one_per_person=census)
    persons = dict(result.clusters.iter_rows())
    assert persons["census:1"] == persons["crm:1"] != persons["census:2"]
    assert persons["crm:2"] == persons["crm:3"] == 1
    assert result.crowded_clusters == 1 and result.refused_links == 1
    assert result.edges.filter(pl.col("vetoed"))["veto_reason"].to_list() == [
        "refused: would put two records of source census in one person (census:1, census:2)"
    ]
    # Without the rule the cluster has no conflict and stays whole.
    assert separate_conflicts(con, "records", edges, clusters, records["record_key"], margin=5.0).conflicted_clusters == 0


def test_a_source_is_one_record_per_person_when_almost_none_of_its_records_link_to_each_other():
    n = 200
    records = pl.DataFrame({
        "record_key": [f"census:{i}" for i in range(n)] + [f"crm:{i}" for i in range(n)] + [f"pos:{i}" for i in range(n)],
        "source": ["census"] * n + ["crm"] * n + ["pos"] * n,
        "is_described": [True] * (2 * n) + [False] * n,
    })
    # crm: 10% of its records in duplicate pairs; census: one false pair (1%) and links to crm;
    # pos receipts (bare) link only to crm records.
    links = ([(f"crm:{i}", f"crm:{i + 1}") for i in range(0, 20, 2)] + [("census:0", "census:1")]
             + [(f"census:{i}", f"crm:{i}") for i in range(n)] + [(f"pos:{i}", f"crm:{i % 10}") for i in range(n)])
    edges = pl.DataFrame(links, schema=["record_key", "linked_record_key"], orient="row").with_columns(vetoed=pl.lit(False))
    verdicts = {v.source: v for v in duplicate_free_sources(records, edges, {})}
    assert not verdicts["crm"].one_per_person and verdicts["crm"].reason.startswith("has duplicates: 20 of 200")
    assert not verdicts["census"].one_per_person  # 2 of 200 records: 1%, not fewer
    assert not verdicts["pos"].one_per_person and verdicts["pos"].reason.startswith("too few records to tell")
    edges = edges.with_columns(vetoed=pl.col("record_key") == "census:0")  # the false pair vetoed
    assert {v.source for v in duplicate_free_sources(records, edges, {}) if v.one_per_person} == {"census"}
    # A declaration in cdp.yml wins over the detection.
    declared = {v.source: v for v in duplicate_free_sources(records, edges, {"census": False, "pos": True})}
    assert not declared["census"].one_per_person and declared["pos"].one_per_person
    assert declared["pos"].reason == "declared one_record_per_person: true in cdp.yml"


def test_first_names_that_sound_alike_never_conflict():
    con = _warehouse()
    born = date(1984, 6, 2)
    records = _records([
        ("a", born, "sophie", "hale", None), ("b", born, "sofia", "hale", None),        # spelt as it sounds,
        ("c", born, "carl", "ward", None), ("d", born, "karl", "ward", None),           # not in the nickname list
        ("e", born, "emma", "cole", None), ("f", born, "olivia", "cole", None),         # twins
        ("g", born, "tom", "page", None), ("h", born, "tim", "page", None),             # twins, one vowel apart
    ])
    _add_records(con, records)
    clusters = pl.DataFrame({"record_key": records["record_key"], "cluster": [1, 1, 2, 2, 3, 3, 4, 4]})
    pairs = {(l, r) for l, r, _ in conflict_pairs(con, "records", clusters).iter_rows()}
    assert pairs == {("e", "f"), ("g", "h")}


def test_links_within_a_source_are_read_from_the_record_keys_whatever_the_source_record_ids_hold():
    # A record key is "source:source_record_id"; an id may hold colons, a source name never does.
    n = 100
    records = pl.DataFrame({
        "record_key": [f"crm:{i}:x" for i in range(n)] + [f"crm_eu:{i}" for i in range(n)],
        "source": ["crm"] * n + ["crm_eu"] * n,
        "is_described": [True] * (2 * n),
    })
    # crm_eu's records link to crm's (another source), and two of crm's to each other.
    links = [(f"crm:{i}:x", f"crm_eu:{i}") for i in range(n)] + [("crm:0:x", "crm:1:x")]
    edges = pl.DataFrame(links, schema=["record_key", "linked_record_key"], orient="row").with_columns(vetoed=pl.lit(False))
    verdicts = {v.source: v for v in duplicate_free_sources(records, edges, {})}
    assert verdicts["crm"].reason.startswith("has duplicates: 2 of 100")
    assert verdicts["crm_eu"].one_per_person and verdicts["crm_eu"].reason.startswith("detected: 0 of 100")


def test_the_sole_link_of_two_duplicate_free_sources_joins_despite_first_names_but_a_twin_never_does():
    con = _warehouse()
    born = date(1961, 4, 2)
    records = _records([
        ("census:1", born, "michael", "hale", None), ("tax:1", born, "sam", "hale", None),      # a name replaced
        ("census:2", born, "mark", "osei", None), ("census:3", born, "mary", "osei", None),   # twins
        ("tax:2", born, "mark", "osei", None),
    ])
    _add_records(con, records)
    edges = _splink_edges([("census:1", "tax:1", 14.0), ("census:2", "tax:2", 22.0), ("census:3", "tax:2", 13.0)])
    clusters = pl.DataFrame({"record_key": records["record_key"], "cluster": [0, 0, 1, 1, 1]})
    one_per_person = records.select("record_key", pl.col("record_key").str.split(":").list.first().alias("source"))
    result = separate_conflicts(con, "records", edges, clusters, records["record_key"], margin=5.0, one_per_person=one_per_person)
    persons = dict(result.clusters.iter_rows())
    assert persons["census:1"] == persons["tax:1"]
    assert persons["census:2"] == persons["tax:2"] != persons["census:3"]  # tax:2 had two candidates in the census
    assert result.accepted.rows() == [("census:1", "tax:1", "sole link of two one-record-per-person sources: first names michael / sam")]
    # Without duplicate-free sources the names conflict as ever.
    alone = separate_conflicts(con, "records", edges, clusters, records["record_key"], margin=5.0)
    assert dict(alone.clusters.iter_rows())["census:1"] != dict(alone.clusters.iter_rows())["tax:1"]


def test_without_household_safety_names_and_birth_dates_are_only_evidence_but_jr_sr_still_conflicts():
    con = _warehouse()
    born = date(1961, 4, 2)
    records = _records([
        ("a:1", born, "douglas", "hingston", None), ("a:2", born, "jayden", "hingston", None),        # a name replaced
        ("a:3", born, "william", "forn", None), ("a:4", date(1983, 9, 1), "william", "forn", None),  # a date replaced
        ("a:5", born, "james", "ruiz", "jr"), ("a:6", born, "james", "ruiz", "sr"),
    ])
    _add_records(con, records)
    edges = _splink_edges([("a:1", "a:2", 20.0), ("a:3", "a:4", 18.0), ("a:5", "a:6", 25.0)])
    clusters = pl.DataFrame({"record_key": records["record_key"], "cluster": [0, 0, 1, 1, 2, 2]})
    safe = dict(separate_conflicts(con, "records", edges, clusters, records["record_key"], margin=5.0).clusters.iter_rows())
    assert safe["a:1"] != safe["a:2"] and safe["a:3"] != safe["a:4"] and safe["a:5"] != safe["a:6"]
    result = separate_conflicts(con, "records", edges, clusters, records["record_key"], margin=5.0, household_safe=False)
    persons = dict(result.clusters.iter_rows())
    assert persons["a:1"] == persons["a:2"] and persons["a:3"] == persons["a:4"]
    assert persons["a:5"] != persons["a:6"]
    assert sorted(result.accepted["reason"]) == ["household safety off: dates of birth 1961-04-02 / 1983-09-01",
                                                 "household safety off: first names douglas / jayden"]


def test_explain_lists_a_conflict_joined_as_a_sole_link():
    from dagster_project.identity.explain import PersonExplanation

    records = pl.DataFrame({"record_key": ["census:1", "tax:1"], "source": ["census", "tax"], "source_record_id": ["1", "1"]})
    accepted = pl.DataFrame({"record_key": ["census:1"], "linked_record_key": ["tax:1"], "reason": ["first names francisco / paco"]})
    empty = pl.DataFrame()
    text = PersonExplanation("P1", records, empty, empty.with_columns(pl.lit(None, pl.String).alias("veto_reason")), empty,
                             one_record_sources={"census": "declared", "tax": "declared"}, accepted=accepted).render()
    assert "Joined despite a conflict (1)" in text and "census:1 <-> tax:1: first names francisco / paco" in text


def test_the_run_summary_says_whether_household_safety_is_on_and_how_many_pairs_joined_despite_a_conflict():
    from dagster_project.run_summary import RunSummary

    why = "auto: 12 pairs of records with one surname and address and conflicting first names, 11 of them with one date of birth"
    text = RunSummary("r", identity_records=4, persons=2, accepted_conflicts=3, household_safe=False, household_reason=why).render()
    assert f"household safety off ({why}): different first names" in text and "joined despite a conflict: 3 record pairs" in text
    on = RunSummary("r", identity_records=4, persons=2, household_reason="identity.household_safe: true").render()
    assert "household safety on (identity.household_safe: true)\n" in on + "\n"
    assert "household safety" not in RunSummary("r", identity_records=4, persons=2).render()  # identity not resolved yet
