"""Synthetic scenes (seeded; mosaics and objects) and the band grids they are drawn on."""

import numpy as np
import pytest

from larq_hsi import spectra, synthetic

# --------------------------------------------------------------------------- synthetic scenes


@pytest.mark.parametrize("layout", synthetic.LAYOUTS)
def test_synthetic_scene_basics(layout):
    scene = synthetic.synthetic_scene(256, seed=7, layout=layout)
    assert scene.shape == (256, 256, 28) and scene.dtype == np.float32
    assert scene.min() >= 0 and scene.max() <= 1 and scene.max() > 0.3
    np.testing.assert_array_equal(scene, synthetic.synthetic_scene(256, seed=7, layout=layout))
    assert np.abs(scene - synthetic.synthetic_scene(256, seed=8, layout=layout)).mean() > 0.05
    assert synthetic.synthetic_scene((40, 60), bands=31, seed=0, layout=layout).shape == (40, 60, 31)
    a, b = synthetic.synthetic_scenes(2, 32, seed=1, layout=layout)
    assert a.shape == (32, 32, 28) and not np.array_equal(a, b)


def test_an_unknown_layout_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"layout must be one of \('mosaic', 'objects'\), got 'cave'"):
        synthetic.synthetic_scene(32, layout="cave")


def test_objects_stand_in_front_of_a_dark_backdrop_like_the_cave_scenes():
    """The "objects" layout: a dark backdrop (CAVE's centre crops have means 0.03-0.21 in the training
    scenes) around brighter shaded objects with smooth spectra and fewer edges than a mosaic.

    Every scene has a visible dark backdrop and smooth spectra; contrast and edges are properties of
    the distribution, so they are checked over ten seeds (an object may cover a corner).
    """
    contrast, edges, mosaic_edges = [], [], []
    for seed in range(10):
        scene = synthetic.synthetic_scene(128, seed=seed, layout="objects").astype(np.float64)
        brightness = scene.mean(-1)
        assert 0.02 < scene.mean() < 0.35
        assert np.quantile(brightness, 0.1) < 0.15  # some backdrop is always visible
        assert np.abs(np.diff(scene, n=2, axis=-1)).mean() < 0.05 * scene.mean()  # smooth spectra
        assert np.abs(np.diff(brightness, axis=1)).max() > 0.05  # object outlines
        corners = np.concatenate([brightness[:8, :8].ravel(), brightness[-8:, -8:].ravel(),
                                  brightness[:8, -8:].ravel(), brightness[-8:, :8].ravel()])
        contrast.append(brightness.max() / np.median(corners))
        edges.append(np.mean(np.abs(np.diff(brightness, axis=1)) > 0.02))
        mosaic = synthetic.synthetic_scene(128, seed=seed, layout="mosaic").mean(-1)
        mosaic_edges.append(np.mean(np.abs(np.diff(mosaic, axis=1)) > 0.02))
    assert np.median(contrast) > 3  # the objects stand out from the backdrop
    assert np.mean(edges) < 0.5 * np.mean(mosaic_edges)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_scene_is_piecewise_smooth_with_distinct_smooth_spectra(seed):
    scene = synthetic.synthetic_scene(128, seed=seed, layout="mosaic").astype(np.float64)
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
