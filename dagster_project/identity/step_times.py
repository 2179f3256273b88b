"""Wall-clock time of each sub-step of identity resolution, for the run's log and metadata.

Identity is the longest stage at scale; the line says which part of it (Splink's
scoring, the conflict checks, the household pass, writing the tables) took the time.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class StepTimes:
    """Seconds per named step, in the order the steps first ran (a step run twice adds up)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 2)


def timing_line(seconds: dict[str, float]) -> str:
    """One line: `total 12.3 s: splink scoring 8.1 s, conflicts 2.0 s, ...`."""
    total = sum(seconds.values())
    return f"total {total:.1f} s: " + ", ".join(f"{name} {step:.1f} s" for name, step in seconds.items())
