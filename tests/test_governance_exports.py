"""Consent-aware exports on generated data: purpose and channel enforced,
hashed identifiers for ad platforms, deltas, and atomic writes."""

from __future__ import annotations

import hashlib
import json

import duckdb
import polars as pl
import pytest

from dagster_project.config import ConfigError, load_config
from dagster_project.export import writer
from dagster_project.warehouse import connect
from tests.conftest import make_workspace


@pytest.fixture(scope="module")
def exported(multi_day):
    """The shared multi-day workspace (tests/conftest.py): batch 1, then a later batch."""
    first, second, third = multi_day["runs"]
    assert first.success and second.success and third.success, second.summary.render()
    return multi_day["config"], first, second


def latest_consent(config, purpose: str) -> pl.DataFrame:
    """Latest consent event per person for a purpose, across all their records, computed from staging."""
    with connect(config.warehouse) as con:
        return con.sql(
            f"""
            select person_id, arg_max(status, (event_at, case when status = 'withdrawn' then 1 else 0 end)) as status
            from staging.stg_consent__consent_events e
            join identity.person_map m on m.source = e.source and m.source_record_id = e.source_record_id
            where purpose = '{purpose}' group by person_id
            """
        ).pl()


@pytest.mark.parametrize("destination, audience, fmt, purpose", [
    ("email_platform", "email_newsletter", "parquet", "email_marketing"),
    ("ad_platform", "known_customers", "csv", "ad_personalisation"),
])
def test_no_export_row_for_a_person_whose_latest_consent_is_withdrawn(exported, destination, audience, fmt, purpose):
    config, _, _ = exported
    path = config.exports / destination / audience / f"{audience}.{fmt}"
    rows = pl.read_parquet(path) if fmt == "parquet" else pl.read_csv(path, infer_schema=False)
    assert rows.height > 0
    consent = latest_consent(config, purpose)
    withdrawn = set(consent.filter(pl.col("status") == "withdrawn")["person_id"])
    granted = set(consent.filter(pl.col("status") == "granted")["person_id"])
    exported_ids = set(rows["person_id"])
    assert not exported_ids & withdrawn
    assert exported_ids <= granted  # both purposes default to withdrawn in cdp.yml


def test_ad_export_holds_only_sha256_of_normalised_identifiers(exported):
    config, _, _ = exported
    path = config.exports / "ad_platform" / "known_customers" / "known_customers.csv"
    text = path.read_text()
    rows = pl.read_csv(path, infer_schema=False)
    assert rows.columns == ["person_id", "email_sha256", "phone_sha256"]
    with connect(config.warehouse) as con:
        raw_values = con.execute(
            "select email from intermediate.int_identity__records where email is not null union "
            "select phone from intermediate.int_identity__records where phone is not null union "
            "select email_original from staging.stg_crm__contacts where email_original is not null"
        ).fetchall()
        golden = dict(con.execute("select person_id, email from marts.dim_customer where email is not null").fetchall())
    assert "@" not in text
    for (value,) in raw_values:
        assert value not in text
        assert value.lstrip("+") not in text
    for row in rows.filter(pl.col("email_sha256").is_not_null()).iter_rows(named=True):
        assert row["email_sha256"] == hashlib.sha256(golden[row["person_id"]].encode()).hexdigest()


def test_manifest_records_delta_and_checksums(exported, multi_day):
    config, first, second = exported
    folder = multi_day["exports_second"] / "email_platform" / "email_newsletter"  # as the second run left it
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_id"] == second.run_id
    assert manifest["delta"]["previous_run_id"] == first.run_id
    delta = pl.read_parquet(folder / "email_newsletter.delta.parquet")
    assert delta.height == manifest["delta"]["added"] + manifest["delta"]["removed"]
    assert manifest["delta"]["added"] > 0  # the later batch brought new consenting people
    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]


def test_an_export_interrupted_mid_write_leaves_the_previous_one_intact(exported, monkeypatch):
    config, _, _ = exported
    folder = config.exports / "email_platform" / "email_newsletter"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "_write_delta", crash)
    with connect(config.warehouse) as con, pytest.raises(OSError, match="disk full"):
        writer.export_audience(
            con, query="select person_id from marts.aud_email_newsletter limit 3", folder=folder,
            destination="email_platform", audience="email_newsletter", purpose="email_marketing",
            channel="email", formats=("parquet", "csv"), run_id="interrupted", gate={},
        )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temporary left, nothing replaced


def test_ad_destinations_may_not_receive_raw_identifiers(tmp_path):
    def raw_email(raw):
        raw["destinations"][1]["identifiers"] = ["email"]
    with pytest.raises(ConfigError, match=r"destinations\[1\]\.identifiers: an ad destination receives only hashed"):
        load_config(make_workspace(tmp_path, raw_email))


def test_size_band_follows_the_previous_export(tmp_path):
    import json as _json

    from dagster_project.config import AudienceConfig
    from dagster_project.defs.export import size_band

    audience = AudienceConfig(name="a", model="aud_a", suite="suite", size_band=0.5)
    assert size_band(tmp_path, audience) == {"min_rows": 0, "max_rows": None}  # first export: no band
    (tmp_path / "manifest.json").write_text(_json.dumps({"row_count": 1000}))
    assert size_band(tmp_path, audience) == {"min_rows": 500, "max_rows": 1501}
    assert size_band(tmp_path, AudienceConfig(name="a", model="aud_a", suite="suite")) == {"min_rows": 0, "max_rows": None}


def test_delta_lists_erased_people_as_removed_with_reason_erasure():
    con = duckdb.connect()
    previous = "select * from (values ('P1'), ('P2'), ('P3')) as t(person_id)"
    new = "select * from (values ('P2'), ('P4'), ('P6')) as t(person_id)"
    # P3: the erasure could not rewrite the previous file; P5: it did (no longer there);
    # P6: an erased id exported again is not reported as removed.
    rows = writer.delta_changes(con, previous, new, ["P3", "P5", "P6"]).fetchall()
    assert rows == [
        ("P4", "added", "joined_audience"), ("P6", "added", "joined_audience"),
        ("P3", "removed", "erasure"), ("P5", "removed", "erasure"),
        ("P1", "removed", "left_audience"),
    ]


def test_pending_erasures_are_cleared_only_once_a_manifest_names_them(tmp_path):
    writer.record_pending_erasures(tmp_path, "erasure-1", "2025-07-01T09:00:00+00:00", ["P2", "P1"])
    writer.record_pending_erasures(tmp_path, "erasure-1", "2025-07-01T09:00:00+00:00", ["P2", "P1"])  # idempotent
    writer.record_pending_erasures(tmp_path, "erasure-2", "2025-07-02T09:00:00+00:00", ["P3"])
    pending = writer.unpublished_erasures(tmp_path, None)
    assert [(r["request_id"], r["person_ids"]) for r in pending] == [("erasure-1", ["P1", "P2"]), ("erasure-2", ["P3"])]
    # A manifest published by a run that crashed before clearing names erasure-1: it is not counted twice.
    manifest = {"erasures": [{"run_id": "r1", "count": 2, "requests": [{"request_id": "erasure-1", "erased_at": "x"}]}]}
    assert [r["request_id"] for r in writer.unpublished_erasures(tmp_path, manifest)] == ["erasure-2"]
    writer.clear_published_erasures(tmp_path, manifest)
    assert [r["request_id"] for r in writer.unpublished_erasures(tmp_path, None)] == ["erasure-2"]
    manifest["erasures"].append({"run_id": "r2", "count": 1, "requests": [{"request_id": "erasure-2", "erased_at": "y"}]})
    writer.clear_published_erasures(tmp_path, manifest)
    assert not (tmp_path / writer.PENDING_ERASURES).exists()
