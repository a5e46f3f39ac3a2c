"""Wald's-protocol simulation: the MTF-matched blur, decimation, the PAN, the spectral response."""

import math

import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf

from larq_hsi.tasks.pansharpening import simulate as S

# --------------------------------------------------------------------------- simulation


def test_mtf_sigma_gives_the_nyquist_gain():
    for ratio, gain in ((4, 0.3), (6, 0.25)):
        sigma = S.mtf_sigma(ratio, gain)
        # Frequency response of a Gaussian of std sigma at the LR Nyquist 1/(2 ratio).
        assert math.exp(-2 * math.pi**2 * sigma**2 / (2 * ratio) ** 2) == pytest.approx(gain)


def test_simulate_blurs_decimates_and_builds_the_pan(rng):
    ref = rng.uniform(size=(2, 18, 17, 3)).astype("float32")
    srf = np.array([1.0, 2.0, 1.0])
    out = S.simulate(ref, ratio=4, sigma=1.5, kernel_size=7, srf=srf, phase=1)
    gt = ref[:, :16, :16]  # cropped to a multiple of the ratio
    np.testing.assert_array_equal(out["gt"], gt)
    # Independent blur: scipy's Gaussian, 'mirror' = tf.pad REFLECT, radius 3.
    blurred = scipy.ndimage.gaussian_filter(gt.astype("float64"), sigma=(0, 1.5, 1.5, 0), mode="mirror", truncate=2.0)
    np.testing.assert_allclose(out["ms"], blurred[:, 1::4, 1::4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["pan"][..., 0], (gt[..., 0] + 2 * gt[..., 1] + gt[..., 2]) / 4, rtol=1e-6)
    assert out["lms"].shape == gt.shape and out["pan"].shape == (2, 16, 16, 1)
    np.testing.assert_allclose(out["lms"], tf.image.resize(out["ms"], (16, 16), method="bicubic").numpy())


def test_simulate_keeps_constants_and_single_images():
    ref = np.ones((8, 8, 2), "float32") * np.array([0.2, 0.6], "float32")
    out = S.simulate(ref, ratio=2)
    assert out["ms"].shape == (4, 4, 2)
    np.testing.assert_allclose(out["ms"], np.broadcast_to([0.2, 0.6], (4, 4, 2)), rtol=1e-6)
    np.testing.assert_allclose(out["pan"], 0.4, rtol=1e-6)  # default flat response: the band mean
    with pytest.raises(ValueError, match="one response per band"):
        S.simulate(ref, srf=[1, 2, 3])
    with pytest.raises(ValueError, match="ratio must be an integer"):
        S.simulate(ref, ratio=0)


def test_default_spectral_response():
    np.testing.assert_allclose(S.default_spectral_response(4), 0.25)
    lam = np.array([400.0, 500.0, 800.0, 1000.0])
    np.testing.assert_allclose(S.default_spectral_response(4, lam), [0, 0.5, 0.5, 0])


def test_simulate_from_raw_cube_file(tmp_path, rng):
    path = tmp_path / "cube.npy"
    np.save(path, rng.uniform(size=(20, 20, 3)).astype("float32"))
    out = S.simulate_from_file(path, ratio=4)
    assert out["gt"].shape == (20, 20, 3) and out["ms"].shape == (5, 5, 3)
