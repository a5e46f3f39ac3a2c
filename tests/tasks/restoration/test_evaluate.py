"""The evaluation conventions of BBCU's tables: Y channel, PSNR/SSIM on Y, RGB and luma, border cropping."""

import math

import numpy as np
import pytest

from larq_hsi.tasks.restoration import evaluate as E

# ----------------------------------------------------------------------------- evaluation


def test_y_channel_known_values():
    rgb = np.array([[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    y = E.y_channel(rgb).numpy()[0, :, 0]
    np.testing.assert_allclose(y * 255, [235.0, 16.0, 16 + 65.481, 16 + 24.966], rtol=1e-12)


def test_psnr_y_closed_form_and_border(rng):
    clean = rng.uniform(0.2, 0.8, size=(16, 18, 3))
    d = 0.01
    value = float(E.psnr_y(clean, clean + d, quantize=False))
    assert value == pytest.approx(-20 * math.log10(d * 219 / 255), rel=1e-9)  # Y moves by d 219/255
    spoiled = clean.copy()
    spoiled[:2] += 0.3  # only the first two rows differ
    assert math.isinf(float(E.psnr_y(clean, spoiled, crop_border=2, quantize=False)))
    assert float(E.psnr_y(clean, spoiled, crop_border=1, quantize=False)) < 40
    # the task conventions: SR on Y with the scale cropped, denoising on RGB, JPEG on luma
    assert float(E.task_psnr("sr", clean, spoiled, scale=2, quantize=False)) == math.inf
    rgb = float(E.task_psnr("denoise", clean, clean + d, quantize=False))
    assert rgb == pytest.approx(-20 * math.log10(d), rel=1e-9)
    gray = float(E.task_psnr("jpeg", clean, clean + d, quantize=False))
    assert gray == pytest.approx(-20 * math.log10(d * (0.2989 + 0.5870 + 0.1140)), rel=1e-9)
    assert float(E.ssim_y(clean, clean)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="scale must be one of"):
        E.task_psnr("sr", clean, clean)
