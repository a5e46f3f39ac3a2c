"""The CASSI tf.data training pipeline: crops, augmentation, splicing, mask modes, the real variant, determinism."""

import numpy as np
import pytest

from larq_hsi.synthetic import synthetic_scenes
from larq_hsi.tasks.cassi import physics
from larq_hsi.tasks.cassi.dataset import cassi_training_data
from tests.tasks.cassi import twins

@pytest.fixture(scope="module")
def scenes():
    rng = np.random.default_rng(99)
    # i.i.d. noise: a window matches only where it was cut
    return [rng.uniform(size=s + (28,)).astype(np.float32) for s in [(20, 26), (24, 20), (22, 22)]]


def _windows(big, size):
    for top in range(big.shape[0] - size + 1):
        for left in range(big.shape[1] - size + 1):
            yield big[top : top + size, left : left + size]


def _is_window(small, bigs):
    return any(np.array_equal(small, w) for big in bigs for w in _windows(big, small.shape[0]))


def _dihedral(x):
    for k in range(4):
        yield np.rot90(x, k)
        yield np.rot90(x[::-1], k)


def _take(ds, n):
    return list(ds.take(n).as_numpy_iterator())


def test_simulation_batches_are_crops_and_their_measurement(scenes):
    mask = physics.random_mask(16, seed=5)
    ds = cassi_training_data(scenes, mask, crop_size=16, batch_size=3, seed=1, augment=False)
    assert ds.element_spec[0][0].shape == (3, 16, 16, 28) and ds.element_spec[1].shape == (3, 16, 16, 28)
    for (h, phi), cube in _take(ds, 2):
        for i in range(3):
            assert _is_window(cube[i], scenes)
            np.testing.assert_array_equal(phi[i], np.repeat(mask[..., None], 28, -1))
            y = twins.measure_np(cube[i], mask)
            np.testing.assert_array_equal(h[i], twins.network_input_np(y))  # bit-exact with numpy


def test_augmentation_rotates_and_flips_crops(scenes):
    ds = cassi_training_data(scenes, crop_size=12, batch_size=4, seed=2)
    cubes = np.concatenate([c for _, c in _take(ds, 4)])
    plain = 0
    for cube in cubes:
        variants = [v for v in _dihedral(cube) if _is_window(v, scenes)]
        assert variants, "every sample is a rotated/flipped crop of a scene"
        plain += _is_window(cube, scenes)
    assert plain < len(cubes)  # some were transformed (all 16 untouched: probability 8^-16)


def test_splice_tiles_four_half_crops(scenes):
    ds = cassi_training_data(scenes, crop_size=16, batch_size=2, seed=3, splice=True)
    for _, cube in _take(ds, 3):
        assert any(_is_window(v, scenes) for v in _dihedral(cube[0]))  # plain half of the batch
        spliced = cube[1]
        assert not any(_is_window(v, scenes) for v in _dihedral(spliced))
        for quarter in (spliced[:8, :8], spliced[:8, 8:], spliced[8:, :8], spliced[8:, 8:]):
            assert _is_window(quarter, scenes)


def test_mask_crop_and_roll_modes(scenes):
    big = physics.random_mask((30, 34), seed=1)
    ds = cassi_training_data(scenes, big, crop_size=16, batch_size=4, seed=4, mask_mode="crop")
    masks = np.concatenate([phi[..., 0] for (_, phi), _ in _take(ds, 2)])
    assert all(_is_window(m, [big]) for m in masks)
    assert len({m.tobytes() for m in masks}) > 1
    small = physics.random_mask(16, seed=2)
    ds = cassi_training_data(scenes, small, crop_size=16, batch_size=4, seed=4, mask_mode="roll")
    (h, phi), cube = _take(ds, 1)[0]
    rolls = {(dy, dx) for dy in range(16) for dx in range(16)}
    for i in range(4):
        found = [s for s in rolls if np.array_equal(phi[i, ..., 0], np.roll(small, s, axis=(0, 1)))]
        assert found
        np.testing.assert_array_equal(h[i], twins.network_input_np(twins.measure_np(cube[i], phi[i, ..., 0])))
    assert len({phi[i, ..., 0].tobytes() for i in range(4)}) > 1


def test_real_variant_yields_scaled_measurements(scenes):
    mask = physics.random_mask(16, seed=6)
    clean = cassi_training_data(scenes, mask, crop_size=16, batch_size=2, seed=5, variant="real", shot_noise=False)
    assert clean.element_spec[0].shape == (2, 16, 16 + 54)
    y, cube = _take(clean, 1)[0]
    for i in range(2):
        expected = twins.measure_np(cube[i], mask) / np.float32(28) * np.float32(2) * np.float32(1.2)
        np.testing.assert_array_equal(y[i], expected)  # the reference's meas / 28 * 2 * 1.2
    noisy = cassi_training_data(scenes, mask, crop_size=16, batch_size=2, seed=5, variant="real")
    y_noisy, cube_noisy = _take(noisy, 1)[0]
    np.testing.assert_array_equal(cube_noisy, cube)  # same seed, same crops; only noise added
    np.testing.assert_array_equal(y_noisy * 2048, np.round(y_noisy * 2048))  # 11-bit levels
    # closed form per pixel: n = floor(y 2048 / 0.4) photons, k ~ Binomial(n, 0.4), y~ = k / 2048
    n = np.floor(y.astype(np.float64) * 2048 / 0.4)
    bias = n * 0.4 / 2048 - y
    second_moment = n * 0.4 * 0.6 / 2048**2 + bias**2
    diff = (y_noisy - y).astype(np.float64)
    assert np.mean(diff**2) == pytest.approx(second_moment.mean(), rel=0.15)  # ~2200 pixels: sd ~3%
    assert abs(diff.mean() - bias.mean()) < 5 * np.sqrt(second_moment.mean() / diff.size)


def test_pipeline_is_deterministic_with_a_seed(scenes):
    def batches(seed):
        ds = cassi_training_data(scenes, crop_size=12, batch_size=2, seed=seed, splice=True, mask_mode="roll")
        return [np.concatenate([h.ravel(), c.ravel()]) for (h, _), c in _take(ds, 3)]

    first, again, other = batches(11), batches(11), batches(12)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_one_fit_keeps_one_iterator_and_a_new_fit_starts_the_batches_again(scenes):
    """What `training.train` relies on (one `fit`, blocks as epochs) and what the docstring warns of."""
    import tensorflow as tf

    class Recorder(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.seen = []

        def train_step(self, data):
            self.seen.append(data[1].numpy().sum())
            return {"loss": 0.0}

    ds = cassi_training_data(scenes, crop_size=12, batch_size=2, seed=5)
    one_iterator = [c.sum() for _, c in _take(ds, 6)]
    model = Recorder()
    model.compile(run_eagerly=True)
    model.fit(ds, epochs=2, steps_per_epoch=3, verbose=0)
    np.testing.assert_array_equal(model.seen, one_iterator)
    assert len(set(np.round(one_iterator, 3))) == 6
    model.fit(ds, epochs=1, steps_per_epoch=3, verbose=0)
    np.testing.assert_array_equal(model.seen[6:], one_iterator[:3])


def test_samples_limits_the_dataset_and_dtype(scenes):
    ds = cassi_training_data(scenes, crop_size=8, batch_size=2, samples=5, dtype="float64", prefetch=False)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 2
    assert batches[0][1].dtype == np.float64 and batches[0][0][0].dtype == np.float64


def test_pipeline_errors(scenes):
    with pytest.raises(ValueError, match=r"scene 0: expected 28 bands.*got 27"):
        cassi_training_data([np.zeros((20, 20, 27))], crop_size=8)
    with pytest.raises(ValueError, match=r"scene 1: 10x30 is smaller than the crop 16x16"):
        cassi_training_data([np.zeros((20, 20, 28)), np.zeros((10, 30, 28))], crop_size=16)
    with pytest.raises(ValueError, match=r"needs a 16x16 mask.*\(20, 20\)"):
        cassi_training_data(scenes, np.ones((20, 20)), crop_size=16)
    with pytest.raises(ValueError, match="at least 16x16"):
        cassi_training_data(scenes, np.ones((12, 40)), crop_size=16, mask_mode="crop")
    with pytest.raises(ValueError, match="mask_mode"):
        cassi_training_data(scenes, crop_size=16, mask_mode="shuffle")
    with pytest.raises(ValueError, match="variant"):
        cassi_training_data(scenes, crop_size=16, variant="video")
    nan_scene = np.zeros((20, 20, 28))
    nan_scene[3, 3, 3] = np.nan
    with pytest.raises(ValueError, match="scene 0 must be finite"):
        cassi_training_data([nan_scene], crop_size=16)


def test_batches_fit_the_bisrnet_inputs():
    """The simulation model runs on a pipeline batch; the real one's input is (B, S, S + 54) (see tests/models/test_bisrnet.py)."""
    from larq_hsi.models import BiSRNet

    scenes = synthetic_scenes(2, 24, seed=0)
    sim = cassi_training_data(scenes, crop_size=16, batch_size=2, seed=0)
    model = BiSRNet(input_size=(16, 16))
    assert [tuple(s.shape[1:]) for s in sim.element_spec[0]] == [tuple(i.shape[1:]) for i in model.inputs]
    (h, phi), cube = next(iter(sim))
    out = model([h, phi])
    assert out.shape == cube.shape and np.all(np.isfinite(out.numpy()))
    real = cassi_training_data(scenes, crop_size=16, batch_size=2, seed=0, variant="real")
    assert tuple(real.element_spec[0].shape) == (2, 16, 16 + 2 * 27)
