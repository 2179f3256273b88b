"""Person ids: connected components, stable across runs, merges and splits logged."""

import polars as pl

from dagster_project.identity.clusters import assign_person_ids, connected_clusters


def resolve(records, links, previous=None):
    frame = pl.DataFrame(links, schema={"record_key": pl.String, "linked_record_key": pl.String}, orient="row")
    return assign_person_ids(connected_clusters(pl.Series(records), frame), previous)


def ids(assignment) -> dict[str, str]:
    return dict(assignment.person_map.select("record_key", "person_id").iter_rows())


def test_linked_records_share_a_person_and_unlinked_do_not():
    result = ids(resolve(["a", "b", "c", "d"], [("a", "b"), ("b", "c")]))
    assert result["a"] == result["b"] == result["c"] != result["d"]


def test_identical_rerun_changes_no_id_and_logs_nothing():
    first = resolve(["a", "b", "c"], [("a", "b")])
    second = resolve(["a", "b", "c"], [("a", "b")], first.person_map.select("record_key", "person_id"))
    assert ids(first) == ids(second)
    assert second.history.is_empty()


def test_merge_keeps_the_oldest_id_and_is_logged():
    first = resolve(["a", "b"], [])
    second = resolve(["a", "b"], [("a", "b")], first.person_map.select("record_key", "person_id"))
    old = ids(first)
    assert set(ids(second).values()) == {min(old.values())}
    merge = second.history.filter(pl.col("event") == "merge").row(0, named=True)
    assert sorted(merge["old_person_ids"]) == sorted(old.values())
    assert merge["person_id"] == min(old.values())


def test_split_keeps_the_id_on_the_larger_part_and_logs_the_new_one():
    first = resolve(["a", "b", "c"], [("a", "b"), ("b", "c")])
    second = resolve(["a", "b", "c"], [("a", "b")], first.person_map.select("record_key", "person_id"))
    before, after = ids(first), ids(second)
    assert after["a"] == after["b"] == before["a"]
    assert after["c"] != before["a"]
    events = second.history.to_dicts()
    assert events == [{"event": "split", "old_person_ids": [before["a"]], "person_id": after["c"], "records": 1}]


def test_new_records_get_new_ids_never_reusing_old_ones():
    first = resolve(["a", "b"], [])
    second = resolve(["a", "b", "c"], [], first.person_map.select("record_key", "person_id"))
    assert ids(second)["c"] not in ids(first).values()
    assert second.history["event"].to_list() == ["create"]


def test_large_star_components_are_found():
    records = [f"r{i}" for i in range(10_000)]
    links = [(f"r{i}", "r0") for i in range(1, 10_000)]
    assert len(set(ids(resolve(records, links)).values())) == 1


def test_bare_records_join_one_person_and_stay_apart_when_their_identifier_has_two():
    from dagster_project.identity.graph import attach_bare_records

    # a1, a2 are one person, b1 another (described records: a name or a date of birth).
    # x: a consent event for a1's email; y: a survey answer from the family inbox of a1 and b1;
    # z1, z2: campaign clicks sharing an email, one of which a1 also has.
    described = ["a1", "a2", "b1"]
    edges = pl.DataFrame(
        [("a1", "a2", "splink", False), ("a1", "x", "email", False), ("a1", "y", "email", False),
         ("b1", "y", "email", False), ("z1", "z2", "email", False), ("a1", "z1", "email", False),
         ("a2", "b1", "phone", True)],
        schema={"record_key": pl.String, "linked_record_key": pl.String, "rule": pl.String, "vetoed": pl.Boolean},
        orient="row",
    ).with_columns(pl.lit(None, pl.String).alias("veto_reason"))
    keys = pl.Series(described + ["x", "y", "z1", "z2"])
    edges, clusters = attach_bare_records(edges, pl.Series(described), keys)

    person = dict(clusters.iter_rows())
    assert person["a1"] == person["a2"] == person["x"] == person["z1"] == person["z2"]
    assert len({person["a1"], person["b1"], person["y"]}) == 3
    y_links = edges.filter(pl.col("linked_record_key") == "y")
    assert y_links["vetoed"].all() and y_links["veto_reason"].str.contains("2 different people").all()
    # The clusters are exactly the connected components of the links that stand.
    standing = connected_clusters(keys, edges.filter(~pl.col("vetoed")))
    same = lambda frame: {frozenset(g) for g in frame.group_by("cluster").agg("record_key")["record_key"].to_list()}  # noqa: E731
    assert same(clusters) == same(standing)
