"""`optim.cosine_decay` against its closed form, with and without the warm-up."""

import math

import numpy as np
import pytest

from larq_hsi.training.optim import cosine_decay


def _closed_form(t, peak, final, steps, warmup):
    if t < warmup:
        return peak * t / warmup
    span = steps - warmup
    return final + (peak - final) * (1 + math.cos(math.pi * min(t - warmup, span) / span)) / 2


@pytest.mark.parametrize("warmup", [0, 1, 25])
def test_cosine_decay_is_the_closed_form(warmup):
    peak, final, steps = 2e-3, 1e-6, 100
    schedule = cosine_decay(peak, steps, final, warmup)
    for t in [0, 1, 12, 24, 25, 26, 50, 99, 100, 150]:
        np.testing.assert_allclose(float(schedule(t)), _closed_form(t, peak, final, steps, warmup),
                                   rtol=1e-5, atol=1e-9)  # float32 rounding of cos near pi
    assert float(schedule(warmup)) == pytest.approx(peak, rel=1e-6)  # the peak is reached after the warm-up


def test_cosine_decay_rejects_a_warmup_that_leaves_no_decay():
    with pytest.raises(ValueError, match=r"warmup_steps must be in \[0, steps=10\), got 10"):
        cosine_decay(1e-3, 10, 0.0, 10)
    with pytest.raises(ValueError, match="final_learning_rate <= learning_rate"):
        cosine_decay(1e-3, 10, 1e-2)
