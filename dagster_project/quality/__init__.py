"""Quality gates: Great Expectations suites run in place on the DuckDB warehouse.

Importing this package is cheap; Great Expectations (slow to import) is loaded
on the first ``load_suite``/``run_suite`` call.
"""

from .gates import ExpectationOutcome, GateError, GateResult, run_suite
from .suites import SuiteError, load_suite

__all__ = ["ExpectationOutcome", "GateError", "GateResult", "SuiteError", "load_suite", "run_suite"]
