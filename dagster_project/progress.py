"""Progress of long steps: a bar on stderr when `cdp run` runs in a terminal,
and a log line per item done for the Dagster UI.

Bars are off when stderr is not a terminal or CI is set (true/1), so captured
output and CI logs stay clean; the log lines are always written.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Callable, Iterable, Iterator, TypeVar

from tqdm import tqdm

Item = TypeVar("Item")


def interactive() -> bool:
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in {"true", "1"}


class Counter:
    """`label i/n`: a bar on a terminal, and `log.info` per step done (log: a Dagster context.log, or None)."""

    def __init__(self, label: str, total: int, log=None):
        self.label, self.total, self.log, self.done = label, total, log, 0
        self.bar = tqdm(total=total, desc=label, file=sys.stderr, disable=not interactive(), leave=False, unit="step")

    def advance(self, detail: str = "") -> None:
        self.done += 1
        self.bar.set_postfix_str(detail, refresh=False)
        self.bar.update()
        if self.log is not None:
            self.log.info(f"{self.label} {self.done}/{self.total}" + (f": {detail}" if detail else ""))

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "Counter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[Item], label: str, log=None, describe: Callable[[Item], str] = str) -> Iterator[Item]:
    """Yield each item, then count it done: `label 2/5: <item>`."""
    items = list(items)
    with Counter(label, len(items), log) as counter:
        for item in items:
            yield item
            counter.advance(describe(item))


def peak_memory_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child (dbt), in MB (Linux: ru_maxrss is in KB)."""
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # macOS reports bytes
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale)
