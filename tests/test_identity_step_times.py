"""The identity stage's timing line: seconds per sub-step, in the order they ran."""

import time

from dagster_project.identity.step_times import StepTimes, timing_line


def test_steps_keep_their_order_and_a_repeated_step_adds_up():
    times = StepTimes()
    for name in ("splink scoring", "conflicts", "splink scoring"):
        with times.step(name):
            time.sleep(0.01)
    assert list(times.seconds) == ["splink scoring", "conflicts"]
    assert times.seconds["splink scoring"] >= 0.02 and times.seconds["conflicts"] >= 0.01
    assert timing_line({"splink scoring": 8.14, "conflicts": 2.0}) == "total 10.1 s: splink scoring 8.1 s, conflicts 2.0 s"
