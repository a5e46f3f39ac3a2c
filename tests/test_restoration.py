"""Restoration data: readers, degradations on known cases, training pairs, schedule, Y-channel metrics."""

import math

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import metrics
from larq_hsi import restoration as R


@pytest.fixture(scope="module")
def photos():
    pytest.importorskip("skimage", reason="scikit-image provides the bundled photographs")
    return R.sample_images(("astronaut", "coffee", "chelsea"))


# ----------------------------------------------------------------------------- readers


def test_sample_images_are_real_photographs(photos):
    assert [p.shape for p in photos] == [(512, 512, 3), (400, 600, 3), (300, 451, 3)]
    for p in photos:
        assert p.dtype == np.float32 and 0.0 <= p.min() and p.max() <= 1.0
        assert np.all(np.abs(p * 255 - np.round(p * 255)) < 1e-4)  # 8-bit levels
        assert p.std() > 0.1  # not flat
    (gray,) = R.sample_images(("camera",), channels=1)
    assert gray.shape == (512, 512, 1)
    with pytest.raises(ValueError, match="unknown image"):
        R.sample_images(("lena",))


def _write(path, levels, fmt="png"):
    tensor = tf.constant(levels)
    data = tf.io.encode_png(tensor) if fmt == "png" else tf.io.encode_jpeg(tensor, quality=95)
    path.write_bytes(data.numpy())


def test_read_image_png_8_and_16_bit_and_channels(tmp_path, rng):
    levels = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    _write(tmp_path / "a.png", levels)
    np.testing.assert_allclose(R.read_image(tmp_path / "a.png"), levels / 255.0, atol=1e-7)
    deep = rng.integers(0, 65536, size=(4, 4, 1), dtype=np.uint16)
    _write(tmp_path / "deep.png", deep)
    np.testing.assert_allclose(R.read_image(tmp_path / "deep.png", channels=1), deep / 65535.0, atol=1e-6)
    np.testing.assert_allclose(R.read_image(tmp_path / "deep.png"), np.repeat(deep / 65535.0, 3, -1), atol=1e-6)
    gray = R.read_image(tmp_path / "a.png", channels=1)
    expected = (levels / 255.0) @ np.array([0.2989, 0.5870, 0.1140])
    np.testing.assert_allclose(gray[..., 0], expected, atol=1e-6)
    rgba = np.concatenate([levels, np.full((5, 7, 1), 7, np.uint8)], -1)
    _write(tmp_path / "rgba.png", rgba)
    np.testing.assert_allclose(R.read_image(tmp_path / "rgba.png"), levels / 255.0, atol=1e-7)


def test_read_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="broken.png"):
        R.read_image(bad)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        R.read_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="channels must be 1"):
        R.read_image(bad, channels=2)


def test_read_image_folder(tmp_path, rng):
    for n in (10, 2, 1):
        _write(tmp_path / f"img{n}.png", np.full((4, 4, 3), n, np.uint8))
    _write(tmp_path / "photo.JPG", np.full((8, 8, 3), 128, np.uint8), fmt="jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    images = R.read_image_folder(tmp_path)
    assert [round(float(im[0, 0, 0]) * 255) for im in images[:3]] == [1, 2, 10]  # natural order
    assert images[3].shape == (8, 8, 3) and abs(float(images[3].mean()) - 128 / 255) < 2 / 255
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .png/.jpg/.jpeg files in .*empty"):
        R.read_image_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        R.read_image_folder(tmp_path / "nowhere")
    (tmp_path / "zz_bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="zz_bad.png"):
        R.read_image_folder(tmp_path)


# ----------------------------------------------------------------------------- degradations


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_shapes_and_constants(scale, rng):
    image = rng.uniform(size=(25, 31, 3)).astype("float32")
    lq = R.bicubic_downscale(image, scale)
    assert lq.shape == (25 // scale, 31 // scale, 3) and lq.dtype == tf.float32
    assert R.modcrop(image, scale).shape == (25 // scale * scale, 31 // scale * scale, 3)
    batch = R.bicubic_downscale(np.stack([image, image]), scale)
    assert batch.shape == (2, 25 // scale, 31 // scale, 3)
    flat = R.bicubic_downscale(np.full((24, 24, 1), 0.3, np.float32), scale)
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
    out = R.bicubic_downscale(image.astype("float32"), scale).numpy()
    inner = slice(2, -2)  # the kernel reaches 2 LQ pixels: borders follow different conventions
    np.testing.assert_allclose(out[inner, inner], expected[inner, inner], atol=2e-5)
    # and it reproduces a linear ramp at the LQ pixel centres
    yy, xx = np.mgrid[: 12 * scale, : 12 * scale]
    ramp = (0.01 * yy + 0.02 * xx)[..., None].astype("float32")
    c = (np.arange(12) + 0.5) * scale - 0.5
    np.testing.assert_allclose(
        R.bicubic_downscale(ramp, scale).numpy()[inner, inner, 0],
        (0.01 * c[:, None] + 0.02 * c[None, :])[inner, inner], atol=2e-5,
    )


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_gaussian_noise_has_the_requested_variance(sigma, photos):
    clean = photos[0]
    noisy = R.add_gaussian_noise(clean, sigma, seed=3).numpy()
    noise = (noisy - clean).ravel().astype(np.float64)
    n, std = noise.size, sigma / 255.0
    assert abs(noise.mean()) < 5 * std / math.sqrt(n)
    assert noise.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n))  # 5 standard errors
    np.testing.assert_array_equal(R.add_gaussian_noise(clean, sigma, seed=3).numpy(), noisy)
    assert not np.array_equal(R.add_gaussian_noise(clean, sigma, seed=4).numpy(), noisy)
    if sigma == 50:
        assert noisy.min() < 0 and noisy.max() > 1  # not clipped (the DnCNN convention)


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_quality_is_monotone(channels, photos):
    clean = photos[1] if channels == 3 else R.to_grayscale(photos[1])
    clean = R.quantize_8bit(clean).numpy()
    values = []
    for q in R.JPEG_QUALITIES:
        out = R.jpeg_compress(clean, q).numpy()
        assert out.shape == clean.shape and out.dtype == np.float32
        assert np.allclose(out * 255, np.round(out * 255), atol=1e-4)  # decoded 8-bit levels
        values.append(float(metrics.psnr(clean, out)))
    assert values == sorted(values) and values[0] < values[-1] - 2.0
    assert float(metrics.psnr(clean, R.jpeg_compress(clean, 100))) > values[-1] + 5.0
    batch = R.jpeg_compress(np.stack([clean, clean]), 10).numpy()
    np.testing.assert_array_equal(batch[1], R.jpeg_compress(clean, 10).numpy())
    with pytest.raises(ValueError, match="quality must be an integer"):
        R.jpeg_compress(clean, 0)


def test_degrade_and_evaluation_pairs(photos):
    lq, hq = R.degrade(photos[2], "sr", 4)
    assert hq.shape == (300, 448, 3) and lq.shape == (75, 112, 3)
    pairs = R.evaluation_pairs(photos[:2], "denoise", 25)
    assert [p[0].shape for p in pairs] == [(512, 512, 3), (400, 600, 3)]
    with pytest.raises(ValueError, match="scale must be one of"):
        R.degrade(photos[0], "sr", 5)
    with pytest.raises(ValueError, match="task must be one of"):
        R.degrade(photos[0], "deblur", 1)
    with pytest.raises(ValueError, match="one denoise level"):
        R.degrade(photos[0], "denoise", [15, 25])


# ----------------------------------------------------------------------------- training pairs


def _dihedral(a):
    """The 8 rotations/flips of an (H, W, C) array, as the pipeline draws them."""
    for k in range(4):
        r = np.rot90(a, k)
        yield r
        yield r[:, ::-1]


def _find(window, image):
    """Positions (top, left) where `window` occurs exactly in `image`."""
    p, q = window.shape[:2]
    return [
        (t, l)
        for t in range(image.shape[0] - p + 1)
        for l in range(image.shape[1] - q + 1)
        if np.array_equal(image[t : t + p, l : l + q], window)
    ]


def test_sr_pairs_are_aligned_crops_of_the_downscaled_image(rng):
    images = [rng.uniform(size=(24, 30, 3)).astype("float32"), rng.uniform(size=(27, 21, 3)).astype("float32")]
    ds = R.training_dataset(images, "sr", 3, patch_size=12, batch_size=4, seed=1, samples=8)
    hr_full = [R.modcrop(im, 3).numpy() for im in images]
    lr_full = [R.bicubic_downscale(im, 3).numpy() for im in hr_full]
    count = 0
    for lq, hq in ds:
        assert lq.shape == (4, 4, 4, 3) and hq.shape == (4, 12, 12, 3)
        for a, b in zip(lq.numpy(), hq.numpy()):
            # undo the (shared) rotation/flip and find the LQ window; the HQ window sits at 3x its position
            found = False
            for inv_a, inv_b in zip(_dihedral(a), _dihedral(b)):
                for k in range(2):
                    for t, l in _find(inv_a, lr_full[k]):
                        found |= np.array_equal(hr_full[k][3 * t : 3 * t + 12, 3 * l : 3 * l + 12], inv_b)
            assert found
            count += 1
    assert count == 8


@pytest.mark.parametrize("sigmas", [25, (15, 50)])
def test_denoise_pairs(sigmas, photos):
    ds = R.training_dataset(photos, "denoise", sigmas, patch_size=32, batch_size=8, seed=0, samples=16)
    stds = []
    for noisy, clean in ds:
        assert noisy.shape == clean.shape == (8, 32, 32, 3)
        stds += list(np.std((noisy - clean).numpy(), axis=(1, 2, 3)) * 255)
    levels = (sigmas,) if isinstance(sigmas, int) else sigmas
    for s in stds:  # each patch carries one of the levels (3072 samples: ~1.3 % standard error)
        assert min(abs(s / level - 1) for level in levels) < 0.06
    if len(levels) > 1:
        assert {min(levels, key=lambda v: abs(s - v)) for s in stds} == set(levels)


def test_jpeg_pairs_match_jpeg_compress(photos):
    gray = [R.to_grayscale(p) for p in photos]
    ds = R.training_dataset(gray, "jpeg", (10, 40), patch_size=24, batch_size=4, seed=5, samples=8)
    used = set()
    for lq, hq in ds:
        assert lq.shape == hq.shape == (4, 24, 24, 1)
        for a, b in zip(lq.numpy(), hq.numpy()):
            matches = [q for q in (10, 40) if np.array_equal(a, R.jpeg_compress(b, q).numpy())]
            assert len(matches) == 1
            used.add(matches[0])
    assert used == {10, 40}


def test_training_dataset_is_seeded_and_checks_its_arguments(photos):
    def first(seed):
        lq, hq = next(iter(R.training_dataset(photos, "denoise", 15, patch_size=16, batch_size=2, seed=seed)))
        return lq.numpy(), hq.numpy()

    a, b, c = first(7), first(7), first(8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    with pytest.raises(ValueError, match=r"300x451, smaller than the 400x400 patch"):
        R.training_dataset(photos, "denoise", 15, patch_size=400)
    with pytest.raises(ValueError, match="multiple of the scale"):
        R.training_dataset(photos, "sr", 3, patch_size=32)
    with pytest.raises(ValueError, match="sigma must be a number >= 0"):
        R.training_dataset(photos, "denoise", -1)


# ----------------------------------------------------------------------------- schedule


def test_halving_schedule():
    schedule = R.halving_schedule(1e-4, 200_000)
    for step, lr in [(0, 1e-4), (199_999, 1e-4), (200_000, 5e-5), (400_005, 2.5e-5)]:
        assert float(schedule(step)) == pytest.approx(lr, rel=1e-6)
    copy = type(schedule).from_config(schedule.get_config())
    assert float(copy(600_000)) == pytest.approx(1.25e-5, rel=1e-6)
    with pytest.raises(ValueError, match="halve_every"):
        R.halving_schedule(1e-4, 0)


# ----------------------------------------------------------------------------- evaluation


def test_y_channel_known_values():
    rgb = np.array([[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    y = R.y_channel(rgb).numpy()[0, :, 0]
    np.testing.assert_allclose(y * 255, [235.0, 16.0, 16 + 65.481, 16 + 24.966], rtol=1e-12)


def test_psnr_y_closed_form_and_border(rng):
    clean = rng.uniform(0.2, 0.8, size=(16, 18, 3))
    d = 0.01
    value = float(R.psnr_y(clean, clean + d, quantize=False))
    assert value == pytest.approx(-20 * math.log10(d * 219 / 255), rel=1e-9)  # Y moves by d 219/255
    spoiled = clean.copy()
    spoiled[:2] += 0.3  # only the first two rows differ
    assert math.isinf(float(R.psnr_y(clean, spoiled, crop_border=2, quantize=False)))
    assert float(R.psnr_y(clean, spoiled, crop_border=1, quantize=False)) < 40
    # the task conventions: SR on Y with the scale cropped, denoising on RGB, JPEG on luma
    assert float(R.task_psnr("sr", clean, spoiled, scale=2, quantize=False)) == math.inf
    rgb = float(R.task_psnr("denoise", clean, clean + d, quantize=False))
    assert rgb == pytest.approx(-20 * math.log10(d), rel=1e-9)
    gray = float(R.task_psnr("jpeg", clean, clean + d, quantize=False))
    assert gray == pytest.approx(-20 * math.log10(d * (0.2989 + 0.5870 + 0.1140)), rel=1e-9)
    assert float(R.ssim_y(clean, clean)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="scale must be one of"):
        R.task_psnr("sr", clean, clean)
