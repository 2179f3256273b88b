"""A step that meets a busy warehouse lock runs again; any other failure fails at once."""

import dagster as dg
import duckdb

from dagster_project.defs.retry import is_lock_error, retried_when_locked

LOCK_ERROR = 'IO Error: Could not set lock on file "warehouse.duckdb": Conflicting lock is held in python (PID 4242)'


class Attempts(dg.ConfigurableResource):
    """Counts the attempts of a step (a resource, so the decorated function keeps Dagster's injection)."""

    failing_attempts: int
    error: str

    def attempt(self, counter: list) -> None:
        counter.append(1)
        if len(counter) <= self.failing_attempts:
            raise duckdb.IOException(self.error)


def run(failing_attempts: int, error: str = LOCK_ERROR, generator: bool = False):
    counter: list = []

    if generator:  # like the dbt assets, which yield dbt's events
        @dg.asset
        @retried_when_locked
        def warehouse_step(context: dg.AssetExecutionContext, attempts: Attempts):
            attempts.attempt(counter)
            yield dg.MaterializeResult()
    else:
        @dg.asset
        @retried_when_locked
        def warehouse_step(context: dg.AssetExecutionContext, attempts: Attempts) -> dg.MaterializeResult:
            attempts.attempt(counter)
            return dg.MaterializeResult()

    result = dg.materialize([warehouse_step], raise_on_error=False,
                            resources={"attempts": Attempts(failing_attempts=failing_attempts, error=error)})
    return result, len(counter)


def test_a_step_meeting_a_lock_once_succeeds_on_its_retry():
    result, attempts = run(failing_attempts=1)
    assert result.success
    assert attempts == 2
    assert any(event.is_step_up_for_retry for event in result.all_events)


def test_a_generator_step_is_retried_too():
    result, attempts = run(failing_attempts=1, generator=True)
    assert result.success and attempts == 2


def test_other_failures_are_not_retried():
    result, attempts = run(failing_attempts=1, error="IO Error: No files found that match the pattern")
    assert not result.success
    assert attempts == 1
    assert not any(event.is_step_up_for_retry for event in result.all_events)


def test_lock_errors_are_recognised_through_wrapping_errors():
    try:
        try:
            raise duckdb.IOException(LOCK_ERROR)
        except duckdb.IOException as error:
            raise RuntimeError("dbt build failed") from error
    except RuntimeError as wrapped:
        assert is_lock_error(wrapped)
    assert not is_lock_error(ValueError("Conflicting values"))
