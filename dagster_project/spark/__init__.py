"""Apache Spark as the engine (issue 18): `engine: spark` in cdp.yml (settings.py).

The Spark session is a Dagster resource (resource.py: local mode on the
workspace's spark warehouse, or a cluster's master URL); ingest writes the raw
and quarantine tables there (ingest.py); dbt builds the rendered project
through dbt-spark (the profile's `spark` target). `local.py` copies a DuckDB
run's source tables into a local Spark warehouse and builds the dbt project
there in one process (the first phase, and its test). Needs the optional
extra: `pip install -e .[spark]`.
"""
