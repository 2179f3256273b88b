# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CDP := $(BIN)/cdp

.PHONY: setup deps sample manifest run test screenshots dev lint bench bench-identity bench-accuracy bench-public bench-town bench-pseudopeople bench-spark clean

setup deps: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The bundled sample: about 5,000 people, fixed seed (sample: in cdp.yml).
sample: $(STAMP)
	$(CDP) generate --if-missing

# dbt manifest for the workspace (rebuilt only when dbt/ or cdp.yml changed).
manifest: $(STAMP)
	$(BIN)/python -c "from dagster_project.config import load_config; from dagster_project.dbt_workspace import workspace_dbt_project; print(workspace_dbt_project(load_config()).manifest_path)"

run: sample manifest
	$(CDP) run

# The dev extra brings the spark one: one Spark end-to-end test runs (Java 17 needed);
# CDP_SPARK_TESTS=all also runs the slow Spark tests (each module minutes on 2 cores).
# The slowest tests are listed at the end: the whole suite must stay under 15 minutes on 2 cores.
test: $(STAMP) manifest
	$(BIN)/python -m pytest -q --durations=15

# The README's pictures (docs/screenshots/), taken by the browser tests.
screenshots: $(STAMP) manifest
	CDP_SCREENSHOTS_TO_DOCS=1 $(BIN)/python -m pytest -q tests/test_run_report.py

# The workspace's Dagster home, its dagster.yaml written with telemetry off and
# one run at a time (dagster_project/pipeline.py: INSTANCE_DEFAULTS).
dev: sample manifest
	DAGSTER_HOME=$$($(BIN)/python -c "from dagster_project.config import load_config; from dagster_project.pipeline import workspace_dagster_home; print(workspace_dagster_home(load_config()))") \
	  $(BIN)/dagster dev -m dagster_project.definitions

lint: $(STAMP)
	$(BIN)/python -m compileall -q dagster_project tests

# Benchmarks (timings live here, never in tests).
bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline_bench.py --people 100000

bench-identity: $(STAMP)
	$(BIN)/python benchmarks/identity_bench.py --records 100000 --records 1000000

# The same landing files through engine: duckdb and engine: spark (local mode): stage times, same outcome.
bench-spark: $(STAMP)
	$(BIN)/python benchmarks/spark_bench.py --people 100000

# Identity accuracy and id stability across a second batch, on generated data.
bench-accuracy: $(STAMP)
	$(BIN)/python benchmarks/identity_accuracy.py --people 100000 --noise 1 --noise 3 --noise 5

# Identity accuracy on the public FEBRL datasets (never tuned on).
bench-public: $(STAMP)
	$(BIN)/python benchmarks/public_datasets.py

# Identity accuracy on an independent town (census, survey, benefit and tax exports; own names and noise).
bench-town: $(STAMP)
	$(BIN)/python benchmarks/town_holdout.py --people 5000 --noise 1 --noise 5

# Identity accuracy on pseudopeople's simulated US town (IHME; installed into its own venv on first use).
bench-pseudopeople: $(STAMP)
	$(BIN)/python benchmarks/pseudopeople_bench.py --noise 1 --noise 5

clean:
	rm -rf .cdp data/landing data/exports data/*.duckdb* reports truth.csv truth_households.csv partner_truth.csv identity_model.json ml_models
