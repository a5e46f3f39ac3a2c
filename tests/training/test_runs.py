"""The training path's helpers: optimizer slots made before `fit` traces its step."""

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.training.optim import CoupledWeightDecayAdam
from larq_hsi.training.runs import create_optimizer_slots


def _model():
    x = tf.keras.Input((4, 4, 3))
    h = tf.keras.layers.Conv2D(5, 3, padding="same")(x)
    return tf.keras.Model(x, tf.keras.layers.Dense(2)(h))


@pytest.mark.parametrize("optimizer", [
    lambda: tf.keras.optimizers.legacy.Adam(1e-3),
    lambda: tf.keras.optimizers.Adam(1e-3),
    lambda: CoupledWeightDecayAdam(1e-3, weight_decay=1e-5),
])
def test_slots_exist_before_fit_and_fit_adds_none(optimizer, rng):
    model = _model()
    model.compile(optimizer=optimizer(), loss="mse")
    # at most the step counter so far: fit would create the slots while tracing its step
    assert len(model.optimizer.variables()) <= 1
    create_optimizer_slots(model)
    slots = {id(v) for v in model.optimizer.variables()}
    assert len(slots) >= 2 * len(model.trainable_variables)  # Adam's m and v for each
    x, y = rng.normal(size=(4, 4, 4, 3)), rng.normal(size=(4, 4, 4, 2))
    before = [w.numpy().copy() for w in model.trainable_variables]
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert {id(v) for v in model.optimizer.variables()} == slots
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_variables))
