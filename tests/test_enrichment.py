"""Third-party enrichment: the generator's file by postcode, and exports that carry
enrichment columns only to destinations whose purpose allows enrichment."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from dagster_project.canonical import ENRICHMENT_ATTRIBUTES
from dagster_project.config import AudienceConfig, ConfigError, DestinationConfig, load_config
from dagster_project.export.queries import destination_query
from dagster_project.generate import enrichment
from tests.conftest import make_workspace

AUDIENCE = AudienceConfig(name="everyone", model="aud_everyone", suite="audience_known_customers")


def destination(name: str, purpose: str, channel: str = "email") -> DestinationConfig:
    return DestinationConfig(name=name, purpose=purpose, channel=channel, audiences=("everyone",),
                             identifiers=("email",), enrichment=ENRICHMENT_ATTRIBUTES)


@pytest.fixture()
def warehouse():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.aud_everyone as select unnest(['p1', 'p2']) as person_id")
    con.execute("create table marts.dim_customer as select * from (values ('p1', 'a@example.com'), ('p2', 'b@example.com')) "
                "as t(person_id, email)")
    con.execute("create table marts.customer_consent as select person_id, purpose, 'granted' as status "
                "from marts.aud_everyone, (values ('email_marketing'), ('analytics')) as p(purpose)")
    con.execute("create table marts.customer_enrichment as select 'p1' as person_id, 3 as household_size, "
                "'50k_100k' as income_band, 'semi_detached' as property_type, 'young_family' as life_stage")
    yield con
    con.close()


def test_only_a_destination_whose_purpose_allows_enrichment_gets_its_columns(warehouse):
    allowed = ("email_marketing",)
    enriched = warehouse.sql(destination_query(destination("crm_mailer", "email_marketing"), AUDIENCE, (), allowed)).pl()
    assert set(ENRICHMENT_ATTRIBUTES) <= set(enriched.columns)
    assert enriched.filter(pl.col("person_id") == "p1")["income_band"].to_list() == ["50k_100k"]
    plain = warehouse.sql(destination_query(destination("bi_feed", "analytics"), AUDIENCE, (), allowed)).pl()
    assert plain.columns == ["person_id", "email"] and plain.height == 2


def test_config_refuses_enrichment_columns_for_a_purpose_not_allowed(tmp_path):
    def mutate(raw):
        raw["destinations"][0]["enrichment"] = ["income_band"]
        raw["enrichment"]["purposes"] = ["profiling"]
    with pytest.raises(ConfigError, match="enrichment"):
        load_config(make_workspace(tmp_path, mutate))


def test_generator_writes_one_row_per_postcode_some_of_them_stale():
    rows = enrichment.enrichment_rows(pl.Series(["SW1A 1AA", "M1 1AE", "SW1A 1AA", *(f"E{i} 1AA" for i in range(40))]), 3)
    assert rows["postcode"].is_unique().all() and rows.height == 42
    assert set(rows["as_of"]) == {enrichment.RECENT, enrichment.OLD}
    assert rows.select("provider", "purpose").unique().rows() == [(enrichment.PROVIDER, "enrichment")]
