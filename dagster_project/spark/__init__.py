"""The dbt models on Apache Spark in local mode (issue 18, first phase).

Ingest and identity still run on DuckDB: `local.py` copies the tables the dbt
models read (raw.*, identity.person_map, ...) from a workspace's DuckDB
warehouse into a local Spark warehouse, and dbt builds the same rendered
project there through dbt-spark's session method (target `spark` of the
rendered profile). Needs the optional extra: `pip install -e .[spark]`.
"""
