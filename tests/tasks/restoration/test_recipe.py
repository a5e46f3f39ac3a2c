"""BBCU's training recipe: the halving learning-rate schedule."""

import pytest

from larq_hsi.tasks.restoration.recipe import halving_schedule

# ----------------------------------------------------------------------------- schedule


def test_halving_schedule():
    schedule = halving_schedule(1e-4, 200_000)
    for step, lr in [(0, 1e-4), (199_999, 1e-4), (200_000, 5e-5), (400_005, 2.5e-5)]:
        assert float(schedule(step)) == pytest.approx(lr, rel=1e-6)
    copy = type(schedule).from_config(schedule.get_config())
    assert float(copy(600_000)) == pytest.approx(1.25e-5, rel=1e-6)
    with pytest.raises(ValueError, match="halve_every"):
        halving_schedule(1e-4, 0)
