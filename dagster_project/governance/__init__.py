"""Governance: right to erasure, tombstones and the audit log."""
