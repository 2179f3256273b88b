"""Focused tests of identity decisions (identity/decisions.py) and of the resolution's collector pause."""

import gc

import polars as pl
import pytest

from dagster_project.identity.decisions import record_decision, resolve_decisions
from dagster_project.identity.resolve import _cyclic_gc_paused


def test_a_decision_applies_only_when_both_of_its_records_are_identity_records(tmp_path):
    path = tmp_path / "identity_decisions.csv"
    record_decision(path, "must_link", "crm:1", "pos:7", "same card")
    record_decision(path, "cannot_link", "crm:2", "crm:3", "twins")
    record_decision(path, "cannot_link", "crm:1", "web:gone", "erased since")
    record_decision(path, "must_link", "crm:3", "crm:2", "changed my mind")  # the last word on crm:2 / crm:3
    records = pl.Series("record_key", [f"crm:{n}" for n in range(1, 10_000)] + ["pos:7"])

    decisions = resolve_decisions(path, records)

    status = {(r["record_key"], r["linked_record_key"]): r["status"] for r in decisions.table.iter_rows(named=True)}
    assert status == {
        ("crm:1", "pos:7"): "applied",
        ("crm:2", "crm:3"): "applied",
        ("crm:1", "web:gone"): "unknown or erased record",
    }
    assert sorted(decisions.must_link.rows()) == [("crm:1", "pos:7"), ("crm:2", "crm:3")]
    assert decisions.cannot_link.is_empty()
    assert decisions.unknown["linked_record_key"].to_list() == ["web:gone"]


def test_the_collector_is_paused_inside_and_restored_after_even_when_the_step_fails():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with _cyclic_gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("a failing step")
    assert gc.isenabled()

    gc.disable()  # a caller that paused it itself keeps it paused
    try:
        with _cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
