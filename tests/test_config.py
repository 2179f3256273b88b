"""cdp.yml loading: paths relative to the file, and errors that name the key."""

import pytest

from dagster_project.config import DEFAULT_CONFIG, ConfigError, load_config
from tests.conftest import make_workspace as write_config


def test_default_config_declares_every_sample_source():
    config = load_config(DEFAULT_CONFIG)
    assert {s.name for s in config.sources} == {
        "crm", "ecommerce_accounts", "ecommerce_orders", "pos", "web_events",
        "service_tickets", "loyalty", "consent", "survey", "campaign_responses", "benefits", "airline_partner", "postcode_enrichment",
    }


def test_paths_are_relative_to_the_config_file_not_the_working_directory(tmp_path, monkeypatch):
    path = write_config(tmp_path)
    monkeypatch.chdir("/")
    config = load_config(path)
    assert config.warehouse == tmp_path / "data" / "warehouse.duckdb"
    assert config.landing == tmp_path / "data" / "landing"
    assert config.truth == tmp_path / "truth.csv"
    assert config.state_dir == tmp_path / ".cdp"


def test_unknown_key_is_named(tmp_path):
    path = write_config(tmp_path, lambda raw: raw.update(warehose="x.duckdb"))
    with pytest.raises(ConfigError, match=r"warehose: unknown key"):
        load_config(path)


def test_unknown_key_inside_a_source_is_named(tmp_path):
    path = write_config(tmp_path, lambda raw: raw["sources"][0].update(globb="*.csv"))
    with pytest.raises(ConfigError, match=r"sources\[0\]\.globb: unknown key"):
        load_config(path)


def test_bad_mapping_expression_names_the_field_and_the_reason(tmp_path):
    def break_mapping(raw):
        raw["sources"][0]["mapping"]["first_name"] = "upper(no_such_column)"
    with pytest.raises(ConfigError, match=r"sources\.crm\.mapping\.first_name: bad expression .*no_such_column"):
        load_config(write_config(tmp_path, break_mapping))


def test_mapping_to_an_unknown_canonical_field_is_rejected(tmp_path):
    def add_field(raw):
        raw["sources"][0]["mapping"]["shoe_size"] = "zip"
    with pytest.raises(ConfigError, match=r"sources\.crm\.mapping\.shoe_size: not a canonical field"):
        load_config(write_config(tmp_path, add_field))


def test_required_mapping_of_a_kind_is_enforced(tmp_path):
    def drop(raw):
        del next(s for s in raw["sources"] if s["name"] == "pos")["mapping"]["ordered_at"]
    with pytest.raises(ConfigError, match=r"sources\.pos\.mapping\.ordered_at: is required"):
        load_config(write_config(tmp_path, drop))


def test_missing_landing_folder_is_reported_before_a_run(tmp_path):
    config = load_config(write_config(tmp_path))
    with pytest.raises(ConfigError, match=r"landing: folder .* does not exist"):
        config.check_ready_to_run()


def test_destination_naming_an_unknown_audience_is_rejected(tmp_path):
    path = write_config(tmp_path, lambda raw: raw["destinations"][0].update(audiences=["nobody"]))
    with pytest.raises(ConfigError, match=r"destinations\[0\]\.audiences: names no declared audience"):
        load_config(path)


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")


def _set(section: str, index: int, key: str, value: str):
    return lambda raw: raw[section][index].update({key: value})


@pytest.mark.parametrize("mutate, key", [
    (_set("destinations", 0, "name", "../../../escape_dest"), r"destinations\[0\]\.name"),
    (_set("audiences", 1, "name", "vip/../../x"), r"audiences\[1\]\.name"),
    (_set("audiences", 0, "model", "aud_email_newsletter; drop table raw.crm"), r"audiences\[0\]\.model"),
    (_set("audiences", 0, "suite", "../../secrets"), r"audiences\[0\]\.suite"),
    (_set("sources", 0, "name", "../crm"), r"sources\[0\]\.name"),
    (_set("sources", 0, "name", "Crm"), r"sources\[0\]\.name"),
])
def test_names_that_become_paths_or_sql_must_be_plain_identifiers(tmp_path, mutate, key):
    with pytest.raises(ConfigError, match=key + ": must be a lower-case identifier"):
        load_config(write_config(tmp_path, mutate))


def test_an_exports_folder_outside_the_workspace_is_allowed_and_the_summary_names_it(tmp_path):
    from dagster_project.run_summary import summarise_run

    elsewhere = tmp_path / "shared" / "exports"
    config = load_config(write_config(tmp_path / "w", lambda raw: raw.update(exports=str(elsewhere))))
    assert config.exports == elsewhere
    summary = summarise_run(config, "run-1", [])
    summary.exports.append({"destination": "email_platform", "audience": "email_newsletter", "row_count": 3, "files": ["a.csv"]})
    assert f"Exports written under {elsewhere}" in summary.render().splitlines()


def test_one_record_per_person_is_true_false_or_left_out(tmp_path):
    def declare(value):
        return lambda raw: next(s for s in raw["sources"] if s["name"] == "benefits").update(one_record_per_person=value)
    config = load_config(write_config(tmp_path / "yes", declare(True)))
    assert {s.name: s.one_record_per_person for s in config.sources}["benefits"] is True
    assert {s.one_record_per_person for s in config.sources if s.name != "benefits"} == {None}
    with pytest.raises(ConfigError, match=r"sources\.benefits\.one_record_per_person: must be true or false"):
        load_config(write_config(tmp_path / "bad", declare("yes")))


def test_a_minimum_age_is_a_whole_number_of_years_on_a_source_of_dated_identity_records(tmp_path):
    def declare(name, value, drop_updated_at=False):
        def mutate(raw):
            source = next(s for s in raw["sources"] if s["name"] == name)
            source["min_age"] = value
            if drop_updated_at:
                source["mapping"].pop("updated_at")
        return mutate
    config = load_config(write_config(tmp_path / "yes", declare("benefits", 18)))
    assert {s.name: s.min_age for s in config.sources if s.min_age} == {"benefits": 18}
    # 0: people of any age, which needs no date (left out, the age is read from the records).
    config = load_config(write_config(tmp_path / "any", declare("benefits", 0, drop_updated_at=True)))
    assert {s.name: s.min_age for s in config.sources if s.min_age is not None} == {"benefits": 0}
    for folder, mutate, message in [
        ("negative", declare("benefits", -1), r"sources\.benefits\.min_age: must be greater than or equal to 0"),
        ("text", declare("benefits", "adult"), r"sources\.benefits\.min_age: must be a valid integer"),
        ("undated", declare("benefits", 18, drop_updated_at=True), r"sources\.benefits\.min_age: needs mapping\.updated_at"),
        ("orders", declare("ecommerce_orders", 18), r"sources\.ecommerce_orders\.min_age: applies to sources with identity records"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_config(write_config(tmp_path / folder, mutate))


@pytest.mark.parametrize("mutate, message", [
    (lambda raw: raw["sample"].update(people="many"), r"sample\.people: must be a valid integer"),
    (lambda raw: raw["identity"].update(match_threshold=1.5), r"identity\.match_threshold: must be less than 1"),
    (lambda raw: raw["identity"].update(deterministic_keys=["email", "ssn"]), r"identity\.deterministic_keys\[1\]: must be 'email'"),
    (lambda raw: raw["traits"]["abandoned_cart"].update(after_days=0), r"traits\.abandoned_cart\.after_days: must be greater than 0"),
    (lambda raw: raw["sources"][0]["contract"]["zip"].update(scale=30), r"sources\.crm\.contract\.zip\.scale: must be less than or equal to 18"),
    (lambda raw: raw["golden_record"]["attributes"]["name"].update(colour="red"), r"golden_record\.attributes\.name\.colour: unknown key"),
])
def test_wrong_types_and_ranges_are_reported_with_their_key(tmp_path, mutate, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, mutate))


def test_an_unknown_key_in_segments_yml_is_named(tmp_path):
    segments = tmp_path / "segments.yml"
    segments.write_text("segments:\n  - {name: everyone, where: 'true'}\n")
    config = load_config(write_config(tmp_path))
    segments.write_text("segments:\n  - {name: everyone, where: 'true', colour: red}\n")  # edited between runs
    with pytest.raises(ConfigError, match=r"segments\.yml: segments\[0\]\.colour: unknown key"):
        config.segments
