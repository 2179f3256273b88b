"""A workspace that brings only person data: one source of kind identity (names,
date of birth, address; no email or phone), no orders, events, tickets,
consent, loyalty, survey or campaign responses, no golden_record section, no
audiences or destinations.

The whole pipeline must still succeed: fact tables exist, empty, with their
usual column types; the golden record has one row per person; traits are
null where there is no behaviour; the predictive models are not trained (too
little history) and that is a warning, not a failure.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta

import pytest

from dagster_project.config import load_config
from dagster_project.ml.models import model_paths
from dagster_project.pipeline import run_pipeline
from dagster_project.warehouse import connect
from tests.conftest import make_workspace

PEOPLE = 240
FIRST_NAMES = ["oliver", "amelia", "george", "isla", "harry", "ava", "noah", "mia", "jack", "ivy", "leo", "grace",
               "oscar", "freya", "charlie", "lily", "arthur", "emily", "henry", "sophia", "thomas", "ella"]
LAST_NAMES = ["smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel", "wright",
              "robinson", "thompson", "evans", "walker", "white", "roberts", "green", "hall", "wood", "jackson"]
STREETS = ["high street", "station road", "church lane", "park avenue", "mill road", "victoria street", "green lane"]
CITIES = ["leeds", "york", "bristol", "norwich", "exeter", "durham", "bath", "derby"]
FACT_TABLES = ["fct_orders", "fct_events", "fct_service_tickets", "fct_survey_responses", "fct_campaign_responses",
               "fct_loyalty_memberships", "customer_activity_snapshots", "demand_signals",
               "customer_product_recommendations"]


def typo(rng: random.Random, value: str) -> str:
    """One swapped, dropped or doubled letter."""
    i = rng.randrange(1, len(value) - 1)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap":
        return value[:i] + value[i + 1] + value[i] + value[i + 2:]
    if kind == "drop":
        return value[:i] + value[i + 1:]
    return value[:i] + value[i] + value[i:]


def write_people(path, seed: int = 3) -> int:
    """PEOPLE people, a third of them with a second record carrying a typo."""
    rng = random.Random(seed)
    updated = datetime(2024, 6, 1, 9, 0, 0)
    rows = []
    for n in range(PEOPLE):
        person = {
            "given_name": rng.choice(FIRST_NAMES),
            "surname": rng.choice(LAST_NAMES),
            "dob": (date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))).isoformat(),
            "street": f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
            "postcode": f"LS{rng.randrange(1, 30)} {rng.randrange(1, 10)}{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}",
            "city": rng.choice(CITIES),
        }
        rows.append({"rec_id": f"rec-{n}-org", **person, "updated": updated.isoformat(sep=" ")})
        if n % 3 == 0:
            duplicate = dict(person)
            field = rng.choice(["given_name", "surname", "street"])
            duplicate[field] = typo(rng, duplicate[field])
            rows.append({"rec_id": f"rec-{n}-dup", **duplicate,
                         "updated": (updated + timedelta(days=rng.randrange(1, 30))).isoformat(sep=" ")})
    rng.shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def person_only(raw: dict) -> None:
    """Keep the default cdp.yml's paths and identity settings; replace the rest."""
    for key in list(raw):
        if key not in ("warehouse", "landing", "exports", "truth", "identity"):
            del raw[key]
    raw["audiences"] = []
    raw["destinations"] = []
    raw["sources"] = [{
        "name": "people",
        "kind": "identity",
        "glob": "people/*.csv",
        "format": "csv",
        "contract": {
            "rec_id": {"type": "string", "required": True},
            "given_name": {"type": "string"},
            "surname": {"type": "string"},
            "dob": {"type": "date", "formats": ["%Y-%m-%d"]},
            "street": {"type": "string"},
            "postcode": {"type": "string"},
            "city": {"type": "string"},
            "updated": {"type": "timestamp", "formats": ["%Y-%m-%d %H:%M:%S"], "required": True},
        },
        "mapping": {
            "source_record_id": "rec_id",
            "first_name": "given_name",
            "last_name": "surname",
            "date_of_birth": "dob",
            "address_line": "street",
            "postcode": "postcode",
            "city": "city",
            "updated_at": "updated",
        },
    }]


@pytest.fixture(scope="module")
def person_run(tmp_path_factory):
    config = load_config(make_workspace(tmp_path_factory.mktemp("person_only"), person_only))
    records = write_people(config.landing / "people" / "people_1.csv")
    result = run_pipeline(config)
    return config, result, records


def query(config, sql: str):
    with connect(config.warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_person_only_workspace_runs_end_to_end(person_run):
    config, result, records = person_run
    assert result.success, result.summary.render()
    assert result.summary.failures == []
    assert query(config, "select count(*) from identity.person_map") == [(records,)]


def test_golden_record_has_one_row_per_person(person_run):
    config, _, _ = person_run
    rows, distinct_ids, persons, unmatched = query(config, """
        select count(*), count(distinct person_id),
               (select count(distinct person_id) from identity.person_map),
               (select count(*) from identity.person_map m
                 where not exists (select 1 from marts.dim_customer c where c.person_id = m.person_id))
        from marts.dim_customer""")[0]
    assert rows == distinct_ids == persons > 0
    assert unmatched == 0
    assert query(config, "select count(*) from marts.dim_customer where last_name is null or last_name_source <> 'people'") == [(0,)]


def test_fact_tables_exist_empty_and_typed(person_run):
    config, _, _ = person_run
    for table in FACT_TABLES:
        assert query(config, f"select count(*) from marts.{table}") == [(0,)], table
    types = dict(query(config, """
        select column_name, data_type from information_schema.columns
        where table_schema = 'marts' and table_name = 'fct_orders'"""))
    assert types["ordered_at"] == "TIMESTAMP"
    assert types["quantity"] == "INTEGER"
    assert types["amount_reporting"] in ("DOUBLE", "FLOAT")
    survey = dict(query(config, """
        select column_name, data_type from information_schema.columns
        where table_schema = 'marts' and table_name = 'fct_survey_responses'"""))
    assert survey["score"] == "INTEGER" and survey["answered_at"] == "TIMESTAMP"


def test_traits_and_scores_are_null_without_behaviour(person_run):
    config, _, _ = person_run
    persons = query(config, "select count(*) from marts.dim_customer")[0][0]
    assert query(config, """
        select count(*), count(order_count), count(lifetime_value), count(churn_risk), count(purchase_propensity),
               count(*) filter (where has_unresolved_ticket)
        from marts.customer_traits""") == [(persons, 0, 0, 0, 0, 0)]
    assert query(config, "select next_best_action, count(*) from marts.customer_next_best_action group by 1") == [("nurture", persons)]
    assert query(config, "select count(distinct person_id), count(*) from marts.customer_consent") == [(persons, persons * 5)]
    # too little history to train on: the models are skipped with a warning, not a failure
    for name in ("churn", "propensity"):
        assert not model_paths(config, name)[0].exists()
