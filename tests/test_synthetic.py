"""Synthetic scenes (seeded, piecewise smooth) and the band grids they are drawn on."""

import numpy as np
import pytest

from larq_hsi import spectra, synthetic

# --------------------------------------------------------------------------- synthetic scenes


def test_synthetic_scene_basics():
    scene = synthetic.synthetic_scene(256, seed=7)
    assert scene.shape == (256, 256, 28) and scene.dtype == np.float32
    assert scene.min() >= 0 and scene.max() <= 1 and scene.max() > 0.3
    np.testing.assert_array_equal(scene, synthetic.synthetic_scene(256, seed=7))
    assert np.abs(scene - synthetic.synthetic_scene(256, seed=8)).mean() > 0.05
    assert synthetic.synthetic_scene((40, 60), bands=31, seed=0).shape == (40, 60, 31)
    a, b = synthetic.synthetic_scenes(2, 32, seed=1)
    assert a.shape == (32, 32, 28) and not np.array_equal(a, b)


def test_synthetic_scenes_are_redrawn_identically_on_demand():
    """Scenes are regenerated, never stored (demo, CLI, tests): a pure function of (size, bands, seed).

    (Replaces a wall-clock bound on one 256x256x28 scene; timings belong in benchmarks/.)
    """
    saved = np.random.get_state()
    try:
        np.random.seed(0)
        state = np.random.get_state()[1].copy()
        scene = synthetic.synthetic_scene(64, seed=7)
        np.testing.assert_array_equal(np.random.get_state()[1], state)  # the global numpy RNG is not touched
        np.random.seed(1)  # ... nor read
        np.testing.assert_array_equal(synthetic.synthetic_scene(64, seed=7), scene)
    finally:
        np.random.set_state(saved)
    # scene i is drawn on its own from (seed, i): asking for more scenes leaves the first ones unchanged
    three = synthetic.synthetic_scenes(3, 32, seed=1)
    two = synthetic.synthetic_scenes(2, 32, seed=1)
    for i in range(2):
        np.testing.assert_array_equal(three[i], two[i])
    np.testing.assert_array_equal(three[2], synthetic.synthetic_scene(32, seed=np.random.SeedSequence([1, 2])))
    assert not np.array_equal(three[0], synthetic.synthetic_scenes(1, 32, seed=2)[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_scene_is_piecewise_smooth_with_distinct_smooth_spectra(seed):
    scene = synthetic.synthetic_scene(128, seed=seed).astype(np.float64)
    # smooth spectra: the second difference over bands is small next to the values
    curvature = np.abs(np.diff(scene, n=2, axis=-1)).mean()
    assert curvature < 0.05 * scene.mean()
    # sharp edges exist (a jump between neighbours) but most pixels sit in smooth parts
    grad = np.abs(np.diff(scene.mean(-1), axis=1))
    assert grad.max() > 0.1
    assert np.median(grad) < 0.02
    # distinct spectral shapes: spectral angles between pixels reach well beyond noise level
    rng = np.random.default_rng(seed)
    pixels = scene.reshape(-1, 28)[rng.choice(128 * 128, 300, replace=False)]
    unit = pixels / np.linalg.norm(pixels, axis=1, keepdims=True)
    angles = np.arccos(np.clip(unit @ unit.T, -1, 1))
    assert angles.max() > 0.3


# --------------------------------------------------------------------------- band grids


def test_wavelengths_cover_450_to_650():
    lam = spectra.wavelengths_for(28)
    np.testing.assert_array_equal(lam, spectra.CASSI_WAVELENGTHS)
    assert np.all(np.diff(lam) > 0) and 450 <= lam[0] < 460 and 640 < lam[-1] <= 650
    np.testing.assert_allclose(spectra.wavelengths_for(5), [450, 500, 550, 600, 650])
