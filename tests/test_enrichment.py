"""Third-party enrichment: the generator's file by postcode, and exports that carry
enrichment columns only to destinations whose purpose allows enrichment."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
import yaml

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


LARGE_HOUSEHOLDS = {"name": "large_households", "model": "seg_large_households", "suite": "audience_segment"}


def with_large_households_for(destination_name: str):
    def mutate(raw):
        raw["audiences"].append(LARGE_HOUSEHOLDS)
        next(d for d in raw["destinations"] if d["name"] == destination_name)["audiences"].append("large_households")
    return mutate


def test_an_audience_on_an_enrichment_segment_goes_only_to_a_purpose_allowed_enrichment(tmp_path):
    allowed = load_config(make_workspace(tmp_path / "email", with_large_households_for("email_platform")))
    assert "email_marketing" in allowed.enrichment_purposes
    assert "large_households" in next(d for d in allowed.destinations if d.name == "email_platform").audiences
    with pytest.raises(ConfigError, match="large_households is a segment on enrichment.*ad_personalisation"):
        load_config(make_workspace(tmp_path / "ads", with_large_households_for("ad_platform")))


def test_a_segment_using_enrichment_must_declare_it(tmp_path):
    segments = yaml.safe_load(load_config().segments_path.read_text())
    segments["segments"].append({"name": "rich", "where": "income_band = 'over_100k'"})
    (tmp_path / "segments.yml").write_text(yaml.safe_dump(segments))
    with pytest.raises(ConfigError, match="enrichment: true"):
        load_config(make_workspace(tmp_path))


def test_generator_writes_one_row_per_postcode_some_of_them_stale():
    rows = enrichment.enrichment_rows(pl.Series(["SW1A 1AA", "M1 1AE", "SW1A 1AA", *(f"E{i} 1AA" for i in range(40))]), 3)
    assert rows["postcode"].is_unique().all() and rows.height == 42
    assert set(rows["as_of"]) == {enrichment.RECENT, enrichment.OLD}
    assert rows.select("provider", "purpose").unique().rows() == [(enrichment.PROVIDER, "enrichment")]
