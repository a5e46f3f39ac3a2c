"""Restoration degradations on known cases: bicubic downscaling (MATLAB imresize), noise, JPEG, `degrade`."""

import math

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import metrics
from larq_hsi.io import to_grayscale
from larq_hsi.tasks.restoration import degrade as D
from larq_hsi.tasks.restoration.dataset import evaluation_pairs

# ----------------------------------------------------------------------------- degradations


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_shapes_and_constants(scale, rng):
    image = rng.uniform(size=(25, 31, 3)).astype("float32")
    lq = D.bicubic_downscale(image, scale)
    assert lq.shape == (25 // scale, 31 // scale, 3) and lq.dtype == tf.float32
    assert D.modcrop(image, scale).shape == (25 // scale * scale, 31 // scale * scale, 3)
    batch = D.bicubic_downscale(np.stack([image, image]), scale)
    assert batch.shape == (2, 25 // scale, 31 // scale, 3)
    flat = D.bicubic_downscale(np.full((24, 24, 1), 0.3, np.float32), scale)
    np.testing.assert_allclose(flat.numpy(), 0.3, atol=1e-6)  # weights sum to 1, borders included


def _keys_cubic(t):
    t = np.abs(t)
    return np.where(t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1, np.where(t <= 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0))


def _imresize_weights(n, s):
    """MATLAB imresize(1/s, 'bicubic') with antialiasing: Keys a=-0.5 stretched by s, normalised."""
    centers = (np.arange(n // s) + 0.5) * s - 0.5
    w = _keys_cubic((np.arange(n)[None, :] - centers[:, None]) / s) / s
    return w / w.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_matches_matlab_imresize_away_from_borders(scale, rng):
    image = rng.uniform(size=(12 * scale, 12 * scale, 1))
    wh = _imresize_weights(image.shape[0], scale)
    expected = np.einsum("ih,jw,hwc->ijc", wh, wh, image)
    out = D.bicubic_downscale(image.astype("float32"), scale).numpy()
    inner = slice(2, -2)  # the kernel reaches 2 LQ pixels: borders follow different conventions
    np.testing.assert_allclose(out[inner, inner], expected[inner, inner], atol=2e-5)
    # and it reproduces a linear ramp at the LQ pixel centres
    yy, xx = np.mgrid[: 12 * scale, : 12 * scale]
    ramp = (0.01 * yy + 0.02 * xx)[..., None].astype("float32")
    c = (np.arange(12) + 0.5) * scale - 0.5
    np.testing.assert_allclose(
        D.bicubic_downscale(ramp, scale).numpy()[inner, inner, 0],
        (0.01 * c[:, None] + 0.02 * c[None, :])[inner, inner], atol=2e-5,
    )


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_gaussian_noise_has_the_requested_variance(sigma, photos):
    clean = photos[0]
    noisy = D.add_gaussian_noise(clean, sigma, seed=3).numpy()
    noise = (noisy - clean).ravel().astype(np.float64)
    n, std = noise.size, sigma / 255.0
    assert abs(noise.mean()) < 5 * std / math.sqrt(n)
    assert noise.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n))  # 5 standard errors
    np.testing.assert_array_equal(D.add_gaussian_noise(clean, sigma, seed=3).numpy(), noisy)
    assert not np.array_equal(D.add_gaussian_noise(clean, sigma, seed=4).numpy(), noisy)
    if sigma == 50:
        assert noisy.min() < 0 and noisy.max() > 1  # not clipped (the DnCNN convention)


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_quality_is_monotone(channels, photos):
    clean = photos[1] if channels == 3 else to_grayscale(photos[1])
    clean = D.quantize_8bit(clean).numpy()
    values = []
    for q in D.JPEG_QUALITIES:
        out = D.jpeg_compress(clean, q).numpy()
        assert out.shape == clean.shape and out.dtype == np.float32
        assert np.allclose(out * 255, np.round(out * 255), atol=1e-4)  # decoded 8-bit levels
        values.append(float(metrics.psnr(clean, out)))
    assert values == sorted(values) and values[0] < values[-1] - 2.0
    assert float(metrics.psnr(clean, D.jpeg_compress(clean, 100))) > values[-1] + 5.0
    batch = D.jpeg_compress(np.stack([clean, clean]), 10).numpy()
    np.testing.assert_array_equal(batch[1], D.jpeg_compress(clean, 10).numpy())
    with pytest.raises(ValueError, match="quality must be an integer"):
        D.jpeg_compress(clean, 0)


def test_degrade_and_evaluation_pairs(photos):
    lq, hq = D.degrade(photos[2], "sr", 4)
    assert hq.shape == (300, 448, 3) and lq.shape == (75, 112, 3)
    pairs = evaluation_pairs(photos[:2], "denoise", 25)
    assert [p[0].shape for p in pairs] == [(512, 512, 3), (400, 600, 3)]
    with pytest.raises(ValueError, match="scale must be one of"):
        D.degrade(photos[0], "sr", 5)
    with pytest.raises(ValueError, match="task must be one of"):
        D.degrade(photos[0], "deblur", 1)
    with pytest.raises(ValueError, match="one denoise level"):
        D.degrade(photos[0], "denoise", [15, 25])
