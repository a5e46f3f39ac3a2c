"""Previews: false colour, cube and comparison files, default spectra pixels."""

import numpy as np
import pytest
import scipy.io
from PIL import Image

from larq_hsi import viz
from larq_hsi.spectra import wavelengths_for


def test_save_preview_colours_follow_wavelength(tmp_path):
    lam = wavelengths_for(28)
    red = np.broadcast_to((lam > 600).astype(np.float32), (8, 9, 28))
    blue = np.broadcast_to((lam < 480).astype(np.float32), (8, 9, 28))
    rgb_red = viz.save_preview(red, tmp_path / "red.png")
    rgb_blue = viz.save_preview(blue, tmp_path / "sub" / "blue.png")
    assert rgb_red[..., 0].mean() > 5 * rgb_red[..., 2].mean()
    assert rgb_blue[..., 2].mean() > 5 * rgb_blue[..., 0].mean()
    with Image.open(tmp_path / "sub" / "blue.png") as image:
        written = np.array(image.convert("RGB"))
    assert written.shape == (8, 9, 3)
    np.testing.assert_array_equal(written, (rgb_blue * 255 + 0.5).astype(np.uint8))
    with pytest.raises(ValueError, match="bands"):
        viz.save_preview(np.zeros((4, 4)), tmp_path / "x.png")


def test_default_spectra_pixels_land_on_the_bright_objects():
    cube = np.zeros((64, 80, 28), np.float32)
    cube[5:15, 60:72] = 0.8    # a bright object in the top-right cell
    cube[40:56, 8:20] = 0.5    # a dimmer one bottom-left
    cube[30, 40] = 5.0         # a single hot pixel: smoothed away
    pixels = viz.default_pixels(cube, count=2)
    assert len(pixels) == 2
    (r1, c1), (r2, c2) = pixels
    assert 5 <= r1 < 15 and 60 <= c1 < 72
    assert 40 <= r2 < 56 and 8 <= c2 < 20


def test_save_cube_writes_the_cube_and_its_previews(tmp_path):
    cube = np.random.default_rng(0).uniform(size=(12, 16, 28)).astype(np.float32)
    paths = viz.save_cube(cube, tmp_path / "out")
    assert [p.name for p in paths] == list(viz.CUBE_FILES)
    assert all(p.stat().st_size > 0 for p in paths)
    np.testing.assert_array_equal(np.load(paths[0]), cube)
    np.testing.assert_array_equal(scipy.io.loadmat(str(paths[1]))["cube"], cube)


def test_save_comparison_writes_truth_and_estimate_previews(tmp_path):
    rng = np.random.default_rng(1)
    truth = rng.uniform(size=(12, 16, 28)).astype(np.float32)
    paths = viz.save_comparison(truth, truth * 0.9, tmp_path / "cmp")
    assert [p.name for p in paths] == list(viz.COMPARISON_FILES)
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="same shape"):
        viz.save_comparison(truth, truth[:6], tmp_path / "bad")


def test_save_panels_draws_each_image_at_its_own_scale(tmp_path):
    small = np.zeros((8, 8, 3))
    small[..., 0] = 1.0  # red
    large = np.ones((32, 48))  # grey, white
    path = viz.save_panels([("LR", small), ("HR", large)], tmp_path / "p.png")
    picture = np.asarray(Image.open(path).convert("RGB"), np.float64) / 255
    red = (picture[..., 0] > 0.9) & (picture[..., 1] < 0.1) & (picture[..., 2] < 0.1)
    assert red.any()
    columns = np.flatnonzero(red.any(axis=0))
    # scaled to a common height, the square 8x8 panel takes less than half the width beside the 3:2 one
    assert columns.max() < picture.shape[1] / 2
    assert np.flatnonzero(red.any(axis=1)).size > 0.5 * picture.shape[0]  # and fills most of the height
