"""Image-quality metrics against closed forms and independent NumPy references."""

import math

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import metrics as m

FUNCTIONS = {
    "psnr": m.psnr,
    "psnr_per_band_8bit": m.psnr_per_band_8bit,
    "ssim": m.ssim,
    "sam": m.sam,
    "ergas": m.ergas,
}
METRICS = {
    "psnr": m.PSNR,
    "psnr_per_band_8bit": m.PSNRPerBand8bit,
    "ssim": m.SSIM,
    "sam": m.SAM,
    "ergas": m.ERGAS,
}


def _pair(rng, shape=(16, 16, 4), noise=0.05, dtype=np.float64):
    """A reference in [0.2, 0.8] and a noisy estimate of it."""
    x = rng.uniform(0.2, 0.8, shape)
    y = x + rng.normal(0.0, noise, shape)
    return x.astype(dtype), y.astype(dtype)


# --- PSNR -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [0.01, 0.05, 0.2])
def test_psnr_of_constant_offset(rng, dtype, d):
    x = rng.uniform(0.0, 0.7, (12, 12, 5)).astype(dtype)
    value = m.psnr(x, x + dtype(d))
    assert value.shape == ()
    assert value.dtype == tf.as_dtype(dtype)
    np.testing.assert_allclose(value.numpy(), 20 * math.log10(1 / d), rtol=1e-4 if dtype == np.float32 else 1e-9)


def test_psnr_max_val_and_per_image_batch(rng):
    x = rng.uniform(0.0, 2.0, (2, 8, 8, 3))
    offsets = np.array([0.1, 0.4]).reshape(2, 1, 1, 1)
    values = m.psnr(x, x - offsets, max_val=2.0).numpy()
    assert values.shape == (2,)  # one value per image, not averaged
    np.testing.assert_allclose(values, [20 * math.log10(2 / 0.1), 20 * math.log10(2 / 0.4)], rtol=1e-9)


def test_psnr_matches_numpy_reference(rng):
    x, y = _pair(rng, (3, 10, 9, 6))
    expected = [10 * np.log10(1.0 / np.mean((x[i] - y[i]) ** 2)) for i in range(3)]
    np.testing.assert_allclose(m.psnr(x, y).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(m.psnr(tf.constant(x), tf.constant(y)).numpy(), expected, rtol=1e-12)


def test_psnr_of_identical_images_is_inf(rng):
    x = rng.uniform(size=(2, 8, 8, 3)).astype(np.float32)
    assert np.all(np.isposinf(m.psnr(x, x).numpy()))


# --- 8-bit per-band PSNR ----------------------------------------------------


def _reference_8bit(x, y, scale=255.0):
    """The reference scripts' torch_psnr for one (H, W, C) cube, in NumPy."""
    a, b = np.round(x * scale), np.round(y * scale)
    total = 0.0
    for band in range(x.shape[-1]):
        mse = np.mean((a[..., band] - b[..., band]) ** 2)
        total += 10 * np.log10(255.0 * 255.0 / mse)
    return total / x.shape[-1]


def test_8bit_psnr_offset_below_half_a_level_rounds_away(rng):
    levels = rng.integers(0, 255, (10, 10, 4))
    x = levels / 255.0
    y = x + 0.4 / 255.0
    assert np.isposinf(m.psnr_per_band_8bit(x, y).numpy())
    assert np.isfinite(m.psnr(x, y).numpy())  # the unrounded PSNR sees the offset


def test_8bit_psnr_offset_above_half_a_level_is_one_level(rng):
    levels = rng.integers(0, 255, (10, 10, 4))  # at most 254, so +1 level stays in range
    x = levels / 255.0
    y = x + 0.6 / 255.0
    np.testing.assert_allclose(m.psnr_per_band_8bit(x, y).numpy(), 20 * math.log10(255.0), rtol=1e-12)
    # The unrounded PSNR of the same pair is that of an offset of 0.6 levels.
    np.testing.assert_allclose(m.psnr(x, y).numpy(), 20 * math.log10(255.0 / 0.6), rtol=1e-9)


def test_8bit_psnr_averages_bands_not_pixels(rng):
    levels = rng.integers(0, 200, (10, 10, 2))
    x = levels / 255.0
    y = (levels + np.array([1, 2])) / 255.0  # band 0 off by 1 level, band 1 by 2
    expected = 20 * math.log10(255.0) - 10 * math.log10(2.0)  # mean of the two band PSNRs
    whole_cube = 10 * math.log10(255.0**2 / 2.5)  # PSNR of the pooled MSE, which differs
    value = m.psnr_per_band_8bit(x, y).numpy()
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    assert abs(value - whole_cube) > 0.1


@pytest.mark.parametrize("scale", [255.0, 256.0])
def test_8bit_psnr_matches_reference_script(rng, scale):
    x, y = _pair(rng, (2, 12, 12, 5), noise=0.02)
    expected = [_reference_8bit(x[i], y[i], scale) for i in range(2)]
    np.testing.assert_allclose(m.psnr_per_band_8bit(x, y, scale=scale).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(m.psnr_per_band_8bit(x[1], y[1], scale=scale).numpy(), expected[1], rtol=1e-12)


def test_8bit_psnr_scale_changes_the_quantization(rng):
    x, y = _pair(rng, (12, 12, 3), noise=0.02)
    assert m.psnr_per_band_8bit(x, y, scale=255).numpy() != m.psnr_per_band_8bit(x, y, scale=256).numpy()


# --- SSIM -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ssim_of_image_with_itself_is_one(rng, dtype):
    x = rng.uniform(size=(2, 16, 16, 5)).astype(dtype)
    values = m.ssim(x, x)
    assert values.dtype == tf.as_dtype(dtype)
    np.testing.assert_allclose(values.numpy(), 1.0, atol=1e-6)


def test_ssim_is_mean_of_single_band_tf_ssim(rng):
    x, y = _pair(rng, (3, 20, 18, 6), noise=0.1, dtype=np.float32)
    per_band = np.stack(
        [tf.image.ssim(x[..., b : b + 1], y[..., b : b + 1], max_val=1.0).numpy() for b in range(6)],
        axis=-1,
    )
    np.testing.assert_allclose(m.ssim(x, y).numpy(), per_band.mean(axis=-1), atol=1e-6)
    np.testing.assert_allclose(m.ssim(x[2], y[2]).numpy(), per_band[2].mean(), atol=1e-6)
    assert np.all(per_band < 0.99)  # the noise is visible, so the comparison is not 1 == 1


def test_ssim_band_identical_band_counts_one(rng):
    x, y = _pair(rng, (16, 16, 2), noise=0.1, dtype=np.float32)
    y[..., 0] = x[..., 0]
    noisy_band = tf.image.ssim(x[..., 1:], y[..., 1:], max_val=1.0).numpy()
    np.testing.assert_allclose(m.ssim(x, y).numpy(), (1.0 + noisy_band) / 2, atol=1e-6)


def test_ssim_max_val_is_passed_to_tf(rng):
    x, y = _pair(rng, (16, 16, 3), noise=0.1, dtype=np.float32)
    np.testing.assert_allclose(m.ssim(4 * x, 4 * y, max_val=4.0).numpy(), m.ssim(x, y).numpy(), atol=1e-5)


def test_ssim_rejects_images_smaller_than_the_filter(rng):
    x = rng.uniform(size=(8, 16, 3))
    with pytest.raises(ValueError, match="filter_size=11.*8x16"):
        m.ssim(x, x)


# --- SAM --------------------------------------------------------------------


def test_sam_orthogonal_spectra_are_90_degrees():
    x = np.zeros((4, 4, 6))
    y = np.zeros((4, 4, 6))
    x[..., :3] = 0.5
    y[..., 3:] = 0.2
    np.testing.assert_allclose(m.sam(x, y).numpy(), 90.0, rtol=1e-12)
    np.testing.assert_allclose(m.sam(x, y, degrees=False).numpy(), math.pi / 2, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sam_of_scaled_spectrum_is_zero(rng, dtype):
    x = rng.uniform(0.1, 1.0, (2, 6, 6, 8)).astype(dtype)
    value = m.sam(x, dtype(3.7) * x)
    assert value.dtype == tf.as_dtype(dtype)
    np.testing.assert_allclose(value.numpy(), 0.0, atol=1e-4)
    assert np.all(m.sam(x, x).numpy() == 0.0)


def test_sam_known_angles_are_averaged_over_pixels():
    x = np.zeros((2, 2, 2))
    y = np.zeros((2, 2, 2))
    x[..., 0] = 1.0
    y[0, :] = [1.0, 1.0]  # 45 degrees
    y[1, :] = [0.0, 2.0]  # 90 degrees
    np.testing.assert_allclose(m.sam(x, y).numpy(), (45.0 + 90.0) / 2, rtol=1e-12)


def test_sam_skips_pixels_with_a_zero_spectrum():
    x = np.zeros((2, 3, 2))
    y = np.zeros((2, 3, 2))
    x[...] = [1.0, 0.0]
    y[...] = [0.5, 0.5 * math.sqrt(3.0)]  # 60 degrees
    y[0, 0] = 0.0  # undefined angle: left out, not counted as 0 or 90
    x[1, 2] = 0.0
    np.testing.assert_allclose(m.sam(x, y).numpy(), 60.0, rtol=1e-12)


def test_sam_with_no_valid_pixel_is_zero():
    zeros = np.zeros((3, 3, 4))
    ones = np.ones((3, 3, 4))
    assert m.sam(zeros, zeros).numpy() == 0.0
    assert m.sam(zeros, ones).numpy() == 0.0


def test_sam_matches_arccos_reference(rng):
    x, y = _pair(rng, (2, 7, 5, 9), noise=0.2)
    cos = np.sum(x * y, -1) / (np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1))
    expected = np.degrees(np.arccos(np.clip(cos, -1, 1))).mean(axis=(1, 2))
    np.testing.assert_allclose(m.sam(x, y).numpy(), expected, rtol=1e-9)
    np.testing.assert_allclose(m.sam(x.astype(np.float32), y.astype(np.float32)).numpy(), expected, rtol=1e-4)


# --- ERGAS ------------------------------------------------------------------


def test_ergas_of_constant_relative_error():
    band_values = np.array([0.2, 0.5, 0.9])
    x = np.broadcast_to(band_values, (6, 6, 3)).copy()
    r = 0.03
    np.testing.assert_allclose(m.ergas(x, x * (1 + r)).numpy(), 100 / 4 * r, rtol=1e-9)
    np.testing.assert_allclose(m.ergas(x, x * (1 - r), ratio=2).numpy(), 100 / 2 * r, rtol=1e-9)


def test_ergas_of_constant_offset_on_bands_of_different_means():
    x = np.broadcast_to([0.5, 0.25], (5, 5, 2)).copy()
    d = 0.05  # relative errors 0.1 and 0.2
    expected = 25 * math.sqrt((0.1**2 + 0.2**2) / 2)
    np.testing.assert_allclose(m.ergas(x, x + d).numpy(), expected, rtol=1e-9)


def test_ergas_matches_numpy_reference(rng):
    x, y = _pair(rng, (3, 9, 8, 5))
    rmse = np.sqrt(np.mean((x - y) ** 2, axis=(1, 2)))
    mean = np.mean(x, axis=(1, 2))
    expected = 100 / 4 * np.sqrt(np.mean((rmse / mean) ** 2, axis=-1))
    np.testing.assert_allclose(m.ergas(x, y).numpy(), expected, rtol=1e-12)


def test_ergas_zero_mean_band():
    x = np.zeros((4, 4, 2))
    x[..., 1] = 0.5
    assert m.ergas(x, x).numpy() == 0.0  # no error anywhere: 0, not 0/0
    y = x.copy()
    y[..., 0] = 0.1
    assert np.isposinf(m.ergas(x, y).numpy())


# --- properties shared by all functions -------------------------------------


@pytest.mark.parametrize("name", FUNCTIONS)
def test_identical_inputs(rng, name):
    x = rng.uniform(0.1, 1.0, (2, 16, 16, 4))
    expected = {"psnr": np.inf, "psnr_per_band_8bit": np.inf, "ssim": 1.0, "sam": 0.0, "ergas": 0.0}[name]
    np.testing.assert_allclose(FUNCTIONS[name](x, x).numpy(), [expected, expected], atol=1e-6)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float32_and_float64_agree_and_keep_dtype(rng, name):
    x, y = _pair(rng, (2, 16, 16, 4), noise=0.03)
    v64 = FUNCTIONS[name](x, y)
    v32 = FUNCTIONS[name](x.astype(np.float32), y.astype(np.float32))
    assert v64.dtype == tf.float64 and v32.dtype == tf.float32
    np.testing.assert_allclose(v32.numpy(), v64.numpy(), rtol=1e-4)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_works_in_a_graph_with_unknown_shapes(rng, name):
    x, y = _pair(rng, (2, 16, 16, 4), noise=0.03, dtype=np.float32)
    spec = tf.TensorSpec([None, None, None, None], tf.float32)
    graph_fn = tf.function(FUNCTIONS[name], input_signature=[spec, spec])
    np.testing.assert_allclose(graph_fn(x, y).numpy(), FUNCTIONS[name](x, y).numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_mismatched_shapes_raise_naming_both(rng, name):
    x = rng.uniform(size=(2, 16, 16, 4))
    y = rng.uniform(size=(2, 16, 16, 5))
    with pytest.raises(ValueError, match=r"same shape.*\(2, 16, 16, 4\).*\(2, 16, 16, 5\)"):
        FUNCTIONS[name](x, y)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("shape", [(16, 16), (1, 2, 16, 16, 3)])
def test_wrong_rank_raises(rng, name, shape):
    x = rng.uniform(size=shape)
    with pytest.raises(ValueError, match=r"\(H, W, C\).*got shape"):
        FUNCTIONS[name](x, x)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_raise(rng, name, bad):
    x = rng.uniform(size=(16, 16, 3))
    y = x.copy()
    y[3, 4, 1] = bad
    with pytest.raises(ValueError, match=r"y_pred must be finite.*\(3, 4, 1\)"):
        FUNCTIONS[name](x, y)
    with pytest.raises(ValueError, match="y_true must be finite"):
        FUNCTIONS[name](y, x)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: m.psnr(x, x, max_val=0),
        lambda x: m.psnr_per_band_8bit(x, x, scale=-1),
        lambda x: m.ssim(x, x, max_val=-1.0),
        lambda x: m.ergas(x, x, ratio=0),
    ],
)
def test_non_positive_parameters_raise(call):
    with pytest.raises(ValueError, match="must be a number > 0"):
        call(np.ones((16, 16, 2)))


# --- streaming Keras metrics ------------------------------------------------


@pytest.mark.parametrize("name", METRICS)
def test_streaming_mean_over_images_of_two_batches(rng, name):
    x, y = _pair(rng, (5, 16, 16, 4), noise=0.05)
    x[3:] *= 0.5  # images of different quality, so batch means are not image means
    y[3:] *= 0.5
    per_image = FUNCTIONS[name](x, y).numpy()
    metric = METRICS[name](dtype="float64")
    metric.update_state(x[:2], y[:2])
    metric.update_state(x[2:], y[2:])
    np.testing.assert_allclose(metric.result().numpy(), per_image.mean(), rtol=1e-12)
    mean_of_batch_means = (per_image[:2].mean() + per_image[2:].mean()) / 2
    assert abs(per_image.mean() - mean_of_batch_means) > 1e-9 * abs(per_image.mean())
    metric.reset_state()
    assert metric.result().numpy() == 0.0
    metric.update_state(x[4], y[4])  # a single cube counts as one image
    np.testing.assert_allclose(metric.result().numpy(), per_image[4], rtol=1e-12)


def test_streaming_sample_weight_is_per_image(rng):
    x, y = _pair(rng, (3, 16, 16, 2))
    per_image = m.psnr(x, y).numpy()
    metric = m.PSNR(dtype="float64")
    metric.update_state(x, y, sample_weight=[1.0, 0.0, 3.0])
    np.testing.assert_allclose(metric.result().numpy(), (per_image[0] + 3 * per_image[2]) / 4, rtol=1e-12)


def test_streaming_zero_weight_drops_infinite_value(rng):
    x, y = _pair(rng, (2, 8, 8, 2))
    y[1] = x[1]  # infinite PSNR
    metric = m.PSNR(dtype="float64")
    metric.update_state(x, y, sample_weight=[1.0, 0.0])
    np.testing.assert_allclose(metric.result().numpy(), m.psnr(x[0], y[0]).numpy(), rtol=1e-12)


def test_streaming_metric_default_dtype_is_float32(rng):
    x, y = _pair(rng, (2, 16, 16, 3))
    metric = m.SSIM()
    metric.update_state(x, y)
    assert metric.result().dtype == tf.float32
    np.testing.assert_allclose(metric.result().numpy(), m.ssim(x, y).numpy().mean(), rtol=1e-5)


CONFIGURED = [
    m.PSNR(max_val=2.0, name="p"),
    m.PSNRPerBand8bit(scale=256.0),
    m.SSIM(max_val=2.0, filter_size=7, filter_sigma=1.0, k1=0.02, k2=0.04),
    m.SAM(degrees=False, dtype="float64"),
    m.ERGAS(ratio=2),
]


@pytest.mark.parametrize("metric", CONFIGURED, ids=lambda metric: type(metric).__name__)
def test_config_round_trip(rng, metric):
    config = metric.get_config()
    clone = type(metric).from_config(config)
    assert clone.get_config() == config
    restored = tf.keras.metrics.deserialize(tf.keras.metrics.serialize(metric))
    assert type(restored) is type(metric) and restored.get_config() == config
    assert tf.keras.utils.get_registered_name(type(metric)) == f"larq_hsi>{type(metric).__name__}"
    x, y = _pair(rng, (2, 16, 16, 3), noise=0.05)
    metric.reset_state()
    for each in (metric, clone, restored):
        each.update_state(2 * x, 2 * y)
    assert clone.result().numpy() == metric.result().numpy() == restored.result().numpy()
    default = type(metric)()
    default.update_state(2 * x, 2 * y)
    assert default.result().numpy() != metric.result().numpy()  # the config carried a difference


def _tiny_model():
    inputs = tf.keras.Input((16, 16, 3))
    outputs = tf.keras.layers.Conv2D(3, 1, kernel_initializer=tf.keras.initializers.Constant(0.3))(inputs)
    return tf.keras.Model(inputs, outputs)


def _all_metrics():
    return [m.PSNR(), m.PSNRPerBand8bit(), m.SSIM(), m.SAM(), m.ERGAS()]


def test_model_evaluate_with_the_metrics(rng):
    model = _tiny_model()
    model.compile(loss="mse", metrics=_all_metrics())
    x = rng.uniform(0.1, 1.0, (5, 16, 16, 3)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
    results = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)  # batches of 2, 2, 1
    pred = model.predict(x, verbose=0)
    for name, fn in FUNCTIONS.items():
        np.testing.assert_allclose(results[name], fn(y, pred).numpy().mean(), rtol=1e-5, err_msg=name)


def test_model_with_metrics_saves_and_loads(rng, tmp_path):
    model = _tiny_model()
    model.compile(loss="mse", metrics=_all_metrics())
    x = rng.uniform(0.1, 1.0, (2, 16, 16, 3)).astype(np.float32)
    y = (x * 0.9).astype(np.float32)
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    after = loaded.evaluate(x, y, verbose=0, return_dict=True)
    for name in FUNCTIONS:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-6, err_msg=name)
