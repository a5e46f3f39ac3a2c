"""Band grids and the per-pixel linear resampling between them."""

import numpy as np
import pytest

from larq_hsi.spectra import CASSI_WAVELENGTHS, CAVE_WAVELENGTHS, resample_bands


def test_cave_grid():
    assert CAVE_WAVELENGTHS.shape == (31,) and CAVE_WAVELENGTHS[0] == 400 and CAVE_WAVELENGTHS[-1] == 700
    assert np.all(np.diff(CAVE_WAVELENGTHS) == 10)


def test_resampling_is_the_linear_interpolation_between_the_two_neighbouring_bands(rng):
    cube = rng.uniform(size=(3, 4, 31))
    out = resample_bands(cube, CAVE_WAVELENGTHS, CASSI_WAVELENGTHS)
    assert out.shape == (3, 4, 28)
    # 453.5 nm lies between 450 (band 5) and 460 (band 6): 35% of the way.
    np.testing.assert_allclose(out[..., 0], 0.65 * cube[..., 5] + 0.35 * cube[..., 6], rtol=1e-12)
    # 648 nm: 80% of the way from 640 (band 24) to 650 (band 25).
    np.testing.assert_allclose(out[..., -1], 0.2 * cube[..., 24] + 0.8 * cube[..., 25], rtol=1e-12)
    for band in range(28):  # every band against np.interp at one pixel
        np.testing.assert_allclose(out[1, 2, band], np.interp(CASSI_WAVELENGTHS[band], CAVE_WAVELENGTHS, cube[1, 2]))


def test_a_target_on_a_source_band_copies_it_and_a_linear_spectrum_stays_linear(rng):
    cube = rng.uniform(size=(2, 2, 31))
    np.testing.assert_array_equal(resample_bands(cube, CAVE_WAVELENGTHS, [400.0, 550.0, 700.0]),
                                  cube[..., [0, 15, 30]])
    linear = 0.3 + 0.001 * CAVE_WAVELENGTHS
    np.testing.assert_allclose(resample_bands(linear, CAVE_WAVELENGTHS, CASSI_WAVELENGTHS),
                               0.3 + 0.001 * CASSI_WAVELENGTHS, rtol=1e-12)
    assert resample_bands(cube.astype(np.float32), CAVE_WAVELENGTHS, CASSI_WAVELENGTHS).dtype == np.float32


def test_bad_grids_are_refused():
    cube = np.zeros((2, 2, 31))
    with pytest.raises(ValueError, match="must increase strictly, got 410 then 405 nm"):
        resample_bands(cube, np.r_[400, 410, 405, 420 + 10 * np.arange(28)], CASSI_WAVELENGTHS)
    with pytest.raises(ValueError, match="outside the source range"):
        resample_bands(cube, CAVE_WAVELENGTHS, [390.0, 500.0])
    with pytest.raises(ValueError, match="31 bands but 28 source wavelengths"):
        resample_bands(cube, CASSI_WAVELENGTHS, CASSI_WAVELENGTHS)
