"""Quality gates: Great Expectations suites run in place on the DuckDB warehouse.

Importing this package is cheap; Great Expectations (slow to import) is loaded
on the first ``load_suite``/``run_suite``/``run_suites``/``write_data_docs`` call.
"""

from .docs import write_data_docs
from .gates import ExpectationOutcome, GateError, GateResult, SuiteRun, run_suite, run_suites
from .params import NO_SUPPRESSION, audience_gate_params, audience_gate_run, warehouse_gate_runs
from .suites import SuiteError, load_suite

__all__ = [
    "NO_SUPPRESSION",
    "ExpectationOutcome",
    "GateError",
    "GateResult",
    "SuiteError",
    "SuiteRun",
    "audience_gate_params",
    "audience_gate_run",
    "load_suite",
    "run_suite",
    "run_suites",
    "warehouse_gate_runs",
    "write_data_docs",
]
