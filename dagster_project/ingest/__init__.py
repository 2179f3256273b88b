"""Governed ingestion: landing files → contract check → raw tables + quarantine."""
