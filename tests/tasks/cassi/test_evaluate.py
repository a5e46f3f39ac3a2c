"""CASSI scoring: the model beside the input alone, centre crops, the scene names."""

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi.synthetic import synthetic_scenes
from larq_hsi.tasks.cassi import physics
from larq_hsi.tasks.cassi.evaluate import METRICS, centre_crop, evaluate_model


def _input_alone_model():
    """A 'reconstruction' that returns its input clipped: it must score exactly as the input alone."""
    h = tf.keras.Input((None, None, 28), name="H")
    phi = tf.keras.Input((None, None, 28), name="Phi")
    return tf.keras.Model([h, phi], tf.keras.layers.Lambda(lambda t: tf.clip_by_value(t, 0.0, 1.0))(h))


def test_the_input_alone_scores_as_the_input_alone_baseline():
    cubes = synthetic_scenes(2, size=24, seed=3)
    mask = physics.random_mask((32, 32), seed=0)
    result = evaluate_model(_input_alone_model(), cubes, mask, crop=16, names=["a", "b"])
    assert [r["scene"] for r in result["scenes"]] == ["a", "b"]
    for row in result["scenes"]:
        for key in METRICS:
            assert row[key] == pytest.approx(row[f"input_{key}"], abs=1e-9), key
    assert set(result["mean"]) == {*METRICS, *(f"input_{k}" for k in METRICS)}
    assert result["mean"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in result["scenes"]]))


def test_a_perfect_reconstruction_beats_the_input():
    cubes = synthetic_scenes(1, size=16, seed=4)
    truth = tf.constant(cubes[0][None])
    h = tf.keras.Input((16, 16, 28), name="H")
    phi = tf.keras.Input((16, 16, 28), name="Phi")
    oracle = tf.keras.Model([h, phi], tf.keras.layers.Lambda(lambda t: t * 0 + truth)(h))
    row = evaluate_model(oracle, cubes, physics.random_mask((16, 16), seed=1))["scenes"][0]
    assert row["psnr"] == np.inf and row["ssim"] == pytest.approx(1.0)
    assert row["input_psnr"] < 30 and row["input_ssim"] < 1


def test_centre_crop():
    cube = np.arange(6 * 8).reshape(6, 8, 1)
    np.testing.assert_array_equal(centre_crop(cube, 4)[..., 0], cube[1:5, 2:6, 0])
    assert centre_crop(cube, None) is cube
    with pytest.raises(ValueError, match="cannot crop a 6x8 cube to 7x7"):
        centre_crop(cube, 7)
