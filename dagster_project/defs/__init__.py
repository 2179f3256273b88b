"""Dagster definitions, one module per pipeline stage."""
