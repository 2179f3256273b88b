"""Steps that open the warehouse are tried again when DuckDB's lock is busy.

`warehouse.connect` already waits LOCK_WAIT_SECONDS for the lock; a lock still
held after that (another process reading or writing the working warehouse, or
dbt, whose connection does not wait) fails the attempt, and the step runs
again after WAREHOUSE_RETRY's exponential backoff. Only lock errors are
retried: a real failure (a failing dbt test, a held export) fails at once,
where a RetryPolicy on the asset would run it four times. Dagster's in-process
executor (`cdp run`, and the runs Dagster launches) honours the RetryRequested
raised here.

Steps are safe to run again: ingest and erasure skip files already processed
(by hash), dbt rebuilds its tables, exports write through temp+rename.
"""

from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager
from typing import Callable, Iterator

import dagster as dg

WAREHOUSE_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL)  # waits 2, 4, 8 s

# DuckDB's messages when another process holds the database file's lock.
LOCK_MESSAGES = ("Could not set lock", "Conflicting lock")


def is_lock_error(error: BaseException | None) -> bool:
    """The error, or one it was raised from, says the warehouse's lock is held elsewhere."""
    while error is not None:
        if any(message in str(error) for message in LOCK_MESSAGES):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def lock_errors_retried(context: dg.OpExecutionContext) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if not is_lock_error(error):
            raise
        delay = WAREHOUSE_RETRY.calculate_delay(context.retry_number + 1)
        context.log.warning(f"the warehouse is locked by another process; trying again in {delay:.0f} s: {error}")
        raise dg.RetryRequested(max_retries=WAREHOUSE_RETRY.max_retries, seconds_to_wait=delay) from error


def retried_when_locked(compute: Callable) -> Callable:
    """Decorates a step's function (its first parameter the context): lock errors retry the step."""
    if inspect.isgeneratorfunction(compute):

        @functools.wraps(compute)
        def generator(context, *args, **kwargs):
            with lock_errors_retried(context):
                yield from compute(context, *args, **kwargs)

        return generator

    @functools.wraps(compute)
    def function(context, *args, **kwargs):
        with lock_errors_retried(context):
            return compute(context, *args, **kwargs)

    return function
