"""The evaluation conventions of BBCU's tables: Y channel, PSNR/SSIM on Y, RGB and luma, border cropping."""

import math

import numpy as np
import pytest
import tensorflow as tf

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


# ----------------------------------------------------------------------------- the standard protocols


@pytest.mark.parametrize("folder, published", [
    ("CSet5", {2: 33.68, 3: 30.40, 4: 28.43}),    # an independent implementation of the protocol
    ("CSet14", {2: 30.33, 3: 27.63, 4: 26.09}),
])
def test_bicubic_baseline_reproduces_the_protocols_figures(shared_dir, folder, published):
    from larq_hsi.tasks.restoration.dataset import load_images

    images = load_images(shared_dir / "data" / "restoration" / folder, "sr")
    tolerance = 0.05 if folder == "CSet5" else 0.1
    for scale, psnr in published.items():
        result = E.evaluate_model("bicubic", images, "sr", scale)
        assert abs(result["mean"]["psnr"] - psnr) < tolerance, (folder, scale, result["mean"])


def test_noisy_baseline_is_seeded_and_scores_the_noise_level(photos):
    first = E.evaluate_model("noisy", photos[:1], "denoise", 25, seed=3)
    assert first == E.evaluate_model("noisy", photos[:1], "denoise", 25, seed=3)
    assert first != E.evaluate_model("noisy", photos[:1], "denoise", 25, seed=4)
    # sigma 25 of 255 is 20.2 dB; clipping to [0, 1] and 8-bit rounding move it a little up
    assert 20.0 < first["mean"]["psnr"] < 21.5


def test_a_baseline_of_another_task_and_a_model_of_other_channels_are_refused(photos):
    with pytest.raises(ValueError, match="the denoise task's baseline is 'noisy', not 'bicubic'"):
        E.evaluate_model("bicubic", photos, "denoise", 25)
    grey_input = tf.keras.Model(inp := tf.keras.Input((None, None, 1)), inp)
    with pytest.raises(ValueError, match="takes 1-channel images, got images with \\[3\\]"):
        E.evaluate_model(grey_input, photos, "denoise", 25)


def test_bad_image_folders(tmp_path):
    from PIL import Image

    from larq_hsi.tasks.restoration.dataset import load_images

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match=r"b\.png: a grey image among colour ones"):
        load_images(tmp_path, "denoise")
    assert [im.shape[-1] for im in load_images(tmp_path, "sr")] == [3, 3]  # SR repeats grey, as the protocol
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .png/.jpg/.jpeg files"):
        load_images(tmp_path / "empty", "sr")
    tiny = np.zeros((3, 3, 3), np.float32)
    with pytest.raises(ValueError, match="a 3x3 image is smaller than the scale 4"):
        E.evaluate_model("bicubic", [tiny], "sr", 4)
