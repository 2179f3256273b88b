"""The independent town benchmark (benchmarks/town/): deterministic, fully labelled, and holding the
cases it exists for (twins, Jr/Sr, tax forms without a first name, movers, same-name strangers)."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.town.population import build_town
from benchmarks.town.sources import write_sources


def read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def town(folder: Path, seed: int = 3, noise: float = 1.0) -> dict[str, int]:
    return write_sources(build_town(1500, seed), folder / "landing", folder, noise, seed)


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    town(tmp_path / "a"), town(tmp_path / "b"), town(tmp_path / "c", seed=4)
    for source in ("census", "survey", "benefits", "tax"):
        a, b, c = (tmp_path / x / "landing" / source / f"{source}.csv" for x in "abc")
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_every_record_has_truth_and_every_person_a_household(tmp_path):
    counts = town(tmp_path, noise=5)
    truth = read(tmp_path / "truth.csv")
    keys = {(t["source"], t["source_record_id"]) for t in truth}
    assert len(keys) == len(truth) == sum(counts.values())
    ids = {"census": lambda r: f"{r['return_id']}-{r['person_no']}", "survey": lambda r: r["RespID"],
           "benefits": lambda r: r["ApplicationNo"], "tax": lambda r: r["tax_ref"]}
    for source, record_id in ids.items():
        rows = read(tmp_path / "landing" / source / f"{source}.csv")
        assert len(rows) == counts[source] > 0
        assert {(source, record_id(r)) for r in rows} <= keys
    people = {p["person_id"] for p in read(tmp_path / "truth_households.csv")}
    assert {t["person_id"] for t in truth} <= people
    census_people = [t["person_id"] for t in truth if t["source"] == "census"]
    assert len(census_people) == len(set(census_people))  # the census is duplicate-free


def test_the_hard_cases_are_present(tmp_path):
    town(tmp_path)
    people = read(tmp_path / "town_people.csv")
    twins = [p for p in people if p["twin"] == "True"]
    assert len(twins) >= 4 and len({(p["household_id"], p["dob"]) for p in twins}) <= len(twins) // 2
    assert {"Jr", "Sr"} <= {p["suffix"] for p in people}
    assert any(p["moved_to"] for p in people)
    assert sum(p["namesake"] == "True" for p in people) > 10
    tax = read(tmp_path / "landing" / "tax" / "tax.csv")
    assert "date_of_birth" not in tax[0] and "dob" not in tax[0]
    assert sum(r["first_name_or_initials"] == "" for r in tax) > len(tax) // 10
    assert sum(len(r["first_name_or_initials"].replace(" ", "")) in (1, 2) for r in tax) > len(tax) // 10
