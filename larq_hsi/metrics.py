r"""Image-quality metrics for hyperspectral cubes: PSNR, SSIM, SAM and ERGAS.

Every metric takes a reference `y_true` and an estimate `y_pred`, channels-last
cubes of shape `(H, W, C)` or batches `(B, H, W, C)` with values nominally in
`[0, max_val]`, and returns one value per image: a scalar for a single cube, a
vector of `B` values for a batch (a batch is never averaged by the functions;
the streaming metrics average over images). With \(x\) the reference,
\(y\) the estimate, \(b\) a band, \(p\) a pixel and \(N = HWC\):

| function | formula | identical inputs | better |
| --- | --- | --- | --- |
| `psnr` | \(10\log_{10}\big(M^2 / \tfrac{1}{N}\sum (x-y)^2\big)\) dB, over the whole cube | \(+\infty\) | higher |
| `psnr_per_band_8bit` | \(\tfrac{1}{C}\sum_b 10\log_{10}\big(255^2 / \mathrm{MSE}_b(\mathrm{round}(s x), \mathrm{round}(s y))\big)\), \(s = 255\) | \(+\infty\) | higher |
| `ssim` | \(\tfrac{1}{C}\sum_b \mathrm{SSIM}(x_b, y_b)\) with `tf.image.ssim` | 1 | higher |
| `sam` | \(\mathrm{mean}_p \arccos\big(\langle x_p, y_p\rangle / (\lVert x_p\rVert \lVert y_p\rVert)\big)\), degrees | 0 | lower |
| `ergas` | \(\tfrac{100}{r}\sqrt{\tfrac{1}{C}\sum_b (\mathrm{RMSE}_b / \mu_b)^2}\), \(\mu_b\) the mean of \(x_b\) | 0 | lower |

`psnr_per_band_8bit` is the evaluation of the CASSI papers: both cubes are
quantized to integer levels before a per-band PSNR with the 8-bit peak 255.
The scripts differ in the quantization scale: BiSRNet, MST and their
descendants (`torch_psnr`, "close to DGSMP's") use `round(x * 256)` with peak
255, which is `psnr_per_band_8bit(..., scale=256)` (use it to compare with
the papers' tables); the default `scale=255` maps `[0, 1]` onto the 8-bit
levels 0..255 exactly. TSA-Net's own `torch_psnr`
does not round (peak = the reference's maximum); that is not this function.

`ssim` calls `tf.image.ssim` (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03,
no padding: only windows fully inside the image count). `tf.image.ssim`
computes SSIM per channel and averages the channels, which is exactly the mean
over bands of single-band SSIM. The pytorch-ssim code the CASSI repositories
use zero-pads the image instead (padding 5), so its values differ slightly near
the borders; compare numbers within one implementation.

The streaming Keras metrics `PSNR`, `PSNRPerBand8bit`, `SSIM`, `SAM` and
`ERGAS` keep a (weighted) sum of the per-image values and a count of images,
so their `result()` is the mean over all images seen, however they were split
into batches. They are registered as `"larq_hsi>PSNR"` etc.

Inputs may be NumPy arrays or tensors of any float dtype (integers are read as
float32; mixed inputs are computed in the wider dtype) and must have the same
shape, rank 3 or 4. When called eagerly, the functions raise `ValueError` for
NaN or infinite values; inside a `tf.function` (including `model.fit` and
`model.evaluate`) that check is skipped and NaN propagates into the result, as
with Keras's own metrics.
"""

from __future__ import annotations

import math
import numbers

import tensorflow as tf

from larq_hsi.checks import check_finite

__all__ = [
    "ERGAS",
    "PSNR",
    "PSNRPerBand8bit",
    "SAM",
    "SSIM",
    "ergas",
    "psnr",
    "psnr_per_band_8bit",
    "sam",
    "ssim",
]

_LN10 = math.log(10.0)


def _positive(value, what: str) -> float:
    if not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{what} must be a number > 0, got {value!r}")
    return float(value)


def _common_dtype(a: tf.DType, b: tf.DType) -> tf.DType:
    floats = [d for d in (a, b) if d.is_floating]
    if not floats:
        return tf.float32
    return max(floats, key=lambda d: d.size)


def _prepare(y_true, y_pred, what: str):
    """Both inputs as `(B, H, W, C)` tensors of one float dtype, checked.

    Returns `(y_true, y_pred, batched)`, `batched` telling whether the inputs
    had a batch axis (if not, one of size 1 was added).
    """
    y_true = tf.convert_to_tensor(y_true)
    y_pred = tf.convert_to_tensor(y_pred)
    dtype = _common_dtype(y_true.dtype, y_pred.dtype)
    y_true = tf.cast(y_true, dtype)
    y_pred = tf.cast(y_pred, dtype)
    # In a graph, a target without a static rank takes the prediction's shape.
    if y_true.shape.rank is None and y_pred.shape.rank is not None:
        y_true = tf.ensure_shape(y_true, y_pred.shape)
    elif y_pred.shape.rank is None and y_true.shape.rank is not None:
        y_pred = tf.ensure_shape(y_pred, y_true.shape)
    for name, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        if tensor.shape.rank not in (3, 4):
            raise ValueError(
                f"{what}: {name} must be a cube (H, W, C) or a batch (B, H, W, C), "
                f"got shape {tensor.shape}"
            )
    if not y_true.shape.is_compatible_with(y_pred.shape):
        raise ValueError(
            f"{what}: y_true and y_pred must have the same shape, "
            f"got y_true {tuple(y_true.shape)} and y_pred {tuple(y_pred.shape)}"
        )
    if tf.executing_eagerly():
        check_finite(y_true.numpy(), f"{what}: y_true")
        check_finite(y_pred.numpy(), f"{what}: y_pred")
    elif not (y_true.shape.is_fully_defined() and y_pred.shape.is_fully_defined()):
        check = tf.debugging.assert_equal(
            tf.shape(y_true),
            tf.shape(y_pred),
            message=f"{what}: y_true and y_pred must have the same shape",
        )
        with tf.control_dependencies([check]):
            y_true = tf.identity(y_true)
    batched = y_true.shape.rank == 4
    if not batched:
        y_true, y_pred = y_true[None], y_pred[None]
    return y_true, y_pred, batched


def _finish(values: tf.Tensor, batched: bool) -> tf.Tensor:
    return values if batched else values[0]


def _log10(x: tf.Tensor) -> tf.Tensor:
    return tf.math.log(x) / tf.constant(_LN10, x.dtype)


def psnr(y_true, y_pred, max_val: float = 1.0) -> tf.Tensor:
    r"""Peak signal-to-noise ratio over the whole cube, in dB.

    \(\mathrm{PSNR} = 10\log_{10}(M^2/\mathrm{MSE})\) with \(M\) = `max_val` and
    the MSE taken over all pixels and bands of one image. Returns a scalar for a
    cube `(H, W, C)` and one value per image, shape `(B,)`, for a batch (not
    averaged). Identical images give `+inf`.

    Raises `ValueError` for shapes that differ or are not of rank 3 or 4, for
    `max_val <= 0`, and (eagerly) for NaN or infinite values.
    """
    max_val = _positive(max_val, "psnr: max_val")
    y_true, y_pred, batched = _prepare(y_true, y_pred, "psnr")
    mse = tf.reduce_mean(tf.math.squared_difference(y_true, y_pred), axis=[1, 2, 3])
    values = 10.0 * _log10(tf.constant(max_val**2, mse.dtype) / mse)
    return _finish(values, batched)


def psnr_per_band_8bit(y_true, y_pred, scale: float = 255.0) -> tf.Tensor:
    r"""The CASSI papers' PSNR: quantize to 8-bit levels, PSNR per band, mean over bands.

    Both cubes are multiplied by `scale` and rounded to the nearest integer
    (half to even, as `torch.round` and `np.round`; values are not clipped),
    then for every band \(b\)
    \(\mathrm{PSNR}_b = 10\log_{10}(255^2/\mathrm{MSE}_b)\), the MSE over the
    band's \(H W\) pixels, and the result is \(\frac{1}{C}\sum_b\mathrm{PSNR}_b\).
    The peak is 255 whatever `scale` is. The default `scale=255` maps `[0, 1]`
    onto the levels 0..255; `scale=256` reproduces BiSRNet's and MST's
    `torch_psnr` (`round(x * 256)`, peak 255).

    Returns a scalar for a cube and one value per image, shape `(B,)`, for a
    batch. A band that is identical after rounding has infinite PSNR, so the
    mean is `+inf` as soon as one band is (as in the reference scripts).

    Raises `ValueError` for mismatched shapes or ranks other than 3 or 4, for
    `scale <= 0`, and (eagerly) for NaN or infinite values.
    """
    scale = _positive(scale, "psnr_per_band_8bit: scale")
    y_true, y_pred, batched = _prepare(y_true, y_pred, "psnr_per_band_8bit")
    s = tf.constant(scale, y_true.dtype)
    levels_true = tf.round(y_true * s)
    levels_pred = tf.round(y_pred * s)
    mse = tf.reduce_mean(tf.math.squared_difference(levels_true, levels_pred), axis=[1, 2])
    per_band = 10.0 * _log10(tf.constant(255.0**2, mse.dtype) / mse)
    return _finish(tf.reduce_mean(per_band, axis=-1), batched)


def ssim(
    y_true,
    y_pred,
    max_val: float = 1.0,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> tf.Tensor:
    r"""Structural similarity, the mean over bands of single-band SSIM (`tf.image.ssim`).

    Each band is compared as a grey image by `tf.image.ssim` (Gaussian window
    `filter_size` x `filter_size` of width `filter_sigma`, constants
    \(C_1 = (k_1 M)^2\), \(C_2 = (k_2 M)^2\), \(M\) = `max_val`, valid windows
    only) and the band values are averaged. `tf.image.ssim` computes in float32
    whatever the input dtype; the result is cast back to the input dtype.

    Returns a scalar for a cube and one value per image, shape `(B,)`, for a
    batch. An image compared with itself gives 1.

    Raises `ValueError` for mismatched shapes, ranks other than 3 or 4, images
    smaller than `filter_size` in height or width, `max_val <= 0`, and (eagerly)
    for NaN or infinite values.
    """
    max_val = _positive(max_val, "ssim: max_val")
    y_true, y_pred, batched = _prepare(y_true, y_pred, "ssim")
    height, width = y_true.shape[1], y_true.shape[2]
    if (height is not None and height < filter_size) or (width is not None and width < filter_size):
        raise ValueError(
            f"ssim: images must be at least filter_size={filter_size} pixels high and wide, "
            f"got {height}x{width}"
        )
    # tf.image.ssim treats the last axis as channels, computes SSIM for each
    # channel separately and averages them: the mean over bands of band SSIM.
    values = tf.image.ssim(
        y_true,
        y_pred,
        max_val=max_val,
        filter_size=filter_size,
        filter_sigma=filter_sigma,
        k1=k1,
        k2=k2,
    )
    return _finish(tf.cast(values, y_true.dtype), batched)


def sam(y_true, y_pred, degrees: bool = True) -> tf.Tensor:
    r"""Spectral angle mapper: the mean over pixels of the angle between the two spectra.

    For each pixel \(p\) the angle between the spectra \(x_p, y_p \in R^C\) is
    \(\theta_p = \arccos(\langle x_p, y_p\rangle / (\lVert x_p\rVert\lVert y_p\rVert))\),
    evaluated in the equal but rounding-free form
    \(2\,\mathrm{atan2}(\lVert u - v\rVert, \lVert u + v\rVert)\) with
    \(u = x_p/\lVert x_p\rVert\), \(v = y_p/\lVert y_p\rVert\) (arccos loses
    about 4e-4 rad to float32 rounding near 0, so identical spectra would not
    give exactly 0). The result is in degrees (radians with `degrees=False`).

    Zero vectors: a pixel where either spectrum is all zero has no angle and is
    left out of the mean; an image with no pixel left has SAM 0.

    Returns a scalar for a cube and one value per image, shape `(B,)`, for a
    batch. Raises `ValueError` for mismatched shapes, ranks other than 3 or 4,
    and (eagerly) for NaN or infinite values.
    """
    y_true, y_pred, batched = _prepare(y_true, y_pred, "sam")
    norm_true = tf.norm(y_true, axis=-1, keepdims=True)
    norm_pred = tf.norm(y_pred, axis=-1, keepdims=True)
    valid = tf.logical_and(norm_true > 0, norm_pred > 0)
    one = tf.ones_like(norm_true)
    u = y_true / tf.where(norm_true > 0, norm_true, one)
    v = y_pred / tf.where(norm_pred > 0, norm_pred, one)
    angle = 2.0 * tf.math.atan2(tf.norm(u - v, axis=-1), tf.norm(u + v, axis=-1))
    valid = valid[..., 0]
    total = tf.reduce_sum(tf.where(valid, angle, tf.zeros_like(angle)), axis=[1, 2])
    count = tf.reduce_sum(tf.cast(valid, angle.dtype), axis=[1, 2])
    values = tf.math.divide_no_nan(total, count)
    if degrees:
        values = values * tf.constant(180.0 / math.pi, values.dtype)
    return _finish(values, batched)


def ergas(y_true, y_pred, ratio: float = 4) -> tf.Tensor:
    r"""ERGAS, Wald's relative dimensionless global error in synthesis.

    \(\mathrm{ERGAS} = \frac{100}{r}\sqrt{\frac{1}{C}\sum_b(\mathrm{RMSE}_b/\mu_b)^2}\),
    with \(\mathrm{RMSE}_b\) the root-mean-square error of band \(b\) over its
    pixels, \(\mu_b\) the mean of the reference band, and \(r\) = `ratio` the
    ratio of the low to the high resolution (pixel size of the low-resolution
    input over that of the output; 4 in HS-BiNet), so \(100/r = 100\,h/l\).

    A band with no error contributes 0 whatever its mean; a band with an error
    whose reference mean is 0 makes ERGAS `+inf`.

    Returns a scalar for a cube and one value per image, shape `(B,)`, for a
    batch. Raises `ValueError` for mismatched shapes, ranks other than 3 or 4,
    `ratio <= 0`, and (eagerly) for NaN or infinite values.
    """
    ratio = _positive(ratio, "ergas: ratio")
    y_true, y_pred, batched = _prepare(y_true, y_pred, "ergas")
    rmse = tf.sqrt(tf.reduce_mean(tf.math.squared_difference(y_true, y_pred), axis=[1, 2]))
    mean = tf.reduce_mean(y_true, axis=[1, 2])
    relative = tf.where(rmse == 0, tf.zeros_like(rmse), rmse / mean)
    values = tf.constant(100.0 / ratio, rmse.dtype) * tf.sqrt(tf.reduce_mean(tf.square(relative), axis=-1))
    return _finish(values, batched)


class _MeanOverImages(tf.keras.metrics.Metric):
    """Streaming mean over images of a per-image metric (`_per_image`).

    `update_state` accepts a cube or a batch; `sample_weight`, if given, is one
    weight per image (a scalar or shape `(B,)`). Inputs are cast to the
    metric's `dtype` (float32 unless given), so pass `dtype="float64"` to
    measure float64 models at full precision.
    """

    def __init__(self, name: str, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.total = self.add_weight(name="total", initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def _per_image(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        # dtype_hint: a Python list must not round-trip through float32.
        y_true = tf.cast(tf.convert_to_tensor(y_true, dtype_hint=self.dtype), self.dtype)
        y_pred = tf.cast(tf.convert_to_tensor(y_pred, dtype_hint=self.dtype), self.dtype)
        values = tf.reshape(self._per_image(y_true, y_pred), [-1])
        if sample_weight is None:
            weights = tf.ones_like(values)
        else:
            weights = tf.cast(tf.convert_to_tensor(sample_weight, dtype_hint=self.dtype), self.dtype)
            if weights.shape.rank != 0:
                weights = tf.reshape(weights, [-1])
            weights = tf.broadcast_to(weights, tf.shape(values))
        # A zero weight drops the image even when its value is infinite.
        weighted = tf.where(weights == 0, tf.zeros_like(values), values * weights)
        self.total.assign_add(tf.reduce_sum(weighted))
        self.count.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)


@tf.keras.utils.register_keras_serializable(package="larq_hsi")
class PSNR(_MeanOverImages):
    """Streaming `psnr`: the mean over all images seen of the whole-cube PSNR (dB)."""

    def __init__(self, max_val: float = 1.0, name: str = "psnr", dtype=None, **kwargs):
        self.max_val = _positive(max_val, "PSNR: max_val")
        super().__init__(name=name, dtype=dtype, **kwargs)

    def _per_image(self, y_true, y_pred):
        return psnr(y_true, y_pred, max_val=self.max_val)

    def get_config(self):
        return {**super().get_config(), "max_val": self.max_val}


@tf.keras.utils.register_keras_serializable(package="larq_hsi")
class PSNRPerBand8bit(_MeanOverImages):
    """Streaming `psnr_per_band_8bit`: the mean over all images seen (dB)."""

    def __init__(self, scale: float = 255.0, name: str = "psnr_per_band_8bit", dtype=None, **kwargs):
        self.scale = _positive(scale, "PSNRPerBand8bit: scale")
        super().__init__(name=name, dtype=dtype, **kwargs)

    def _per_image(self, y_true, y_pred):
        return psnr_per_band_8bit(y_true, y_pred, scale=self.scale)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@tf.keras.utils.register_keras_serializable(package="larq_hsi")
class SSIM(_MeanOverImages):
    """Streaming `ssim`: the mean over all images seen of the band-mean SSIM."""

    def __init__(
        self,
        max_val: float = 1.0,
        filter_size: int = 11,
        filter_sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        name: str = "ssim",
        dtype=None,
        **kwargs,
    ):
        self.max_val = _positive(max_val, "SSIM: max_val")
        self.filter_size = int(filter_size)
        self.filter_sigma = float(filter_sigma)
        self.k1 = float(k1)
        self.k2 = float(k2)
        super().__init__(name=name, dtype=dtype, **kwargs)

    def _per_image(self, y_true, y_pred):
        return ssim(
            y_true,
            y_pred,
            max_val=self.max_val,
            filter_size=self.filter_size,
            filter_sigma=self.filter_sigma,
            k1=self.k1,
            k2=self.k2,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_val": self.max_val,
            "filter_size": self.filter_size,
            "filter_sigma": self.filter_sigma,
            "k1": self.k1,
            "k2": self.k2,
        }


@tf.keras.utils.register_keras_serializable(package="larq_hsi")
class SAM(_MeanOverImages):
    """Streaming `sam`: the mean over all images seen of the per-image SAM (degrees by default)."""

    def __init__(self, degrees: bool = True, name: str = "sam", dtype=None, **kwargs):
        self.degrees = bool(degrees)
        super().__init__(name=name, dtype=dtype, **kwargs)

    def _per_image(self, y_true, y_pred):
        return sam(y_true, y_pred, degrees=self.degrees)

    def get_config(self):
        return {**super().get_config(), "degrees": self.degrees}


@tf.keras.utils.register_keras_serializable(package="larq_hsi")
class ERGAS(_MeanOverImages):
    """Streaming `ergas`: the mean over all images seen of the per-image ERGAS."""

    def __init__(self, ratio: float = 4, name: str = "ergas", dtype=None, **kwargs):
        self.ratio = _positive(ratio, "ERGAS: ratio")
        super().__init__(name=name, dtype=dtype, **kwargs)

    def _per_image(self, y_true, y_pred):
        return ergas(y_true, y_pred, ratio=self.ratio)

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


# --------------------------------------------------------------------------- pan-sharpening
#
# CC (reduced resolution) and the no-reference full-resolution indices D_lambda,
# D_s and QNR of Alparone et al. (2008), as in the pan-sharpening toolbox of
# Vivone et al.: both build on the universal image quality index Q (Wang & Bovik
# 2002) averaged over sliding windows.


def cc(y_true, y_pred) -> tf.Tensor:
    r"""Cross-correlation: the mean over bands of the Pearson correlation of each band.

    \(\mathrm{CC} = \frac{1}{C}\sum_b \frac{\sum_p (x_{bp}-\bar x_b)(y_{bp}-\bar y_b)}
    {\sqrt{\sum_p (x_{bp}-\bar x_b)^2}\sqrt{\sum_p (y_{bp}-\bar y_b)^2}}\), the
    sums over the \(HW\) pixels of band \(b\). Identical images give 1 (ideal
    value); a band that is constant in either image has no correlation and
    counts 1 if the two bands are identical, else 0.

    Returns a scalar for a cube and one value per image, shape `(B,)`, for a
    batch. Raises `ValueError` like `psnr` for bad shapes and non-finite values.
    """
    y_true, y_pred, batched = _prepare(y_true, y_pred, "cc")
    xt = y_true - tf.reduce_mean(y_true, axis=[1, 2], keepdims=True)
    xp = y_pred - tf.reduce_mean(y_pred, axis=[1, 2], keepdims=True)
    cov = tf.reduce_sum(xt * xp, axis=[1, 2])
    norm = tf.sqrt(tf.reduce_sum(tf.square(xt), axis=[1, 2]) * tf.reduce_sum(tf.square(xp), axis=[1, 2]))
    identical = tf.reduce_all(tf.equal(y_true, y_pred), axis=[1, 2])
    degenerate = tf.where(identical, tf.ones_like(cov), tf.zeros_like(cov))
    per_band = tf.where(norm > 0, cov / tf.where(norm > 0, norm, tf.ones_like(norm)), degenerate)
    return _finish(tf.reduce_mean(per_band, axis=-1), batched)


def _as_batch(x, what: str, dtype=None) -> tuple[tf.Tensor, bool]:
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    if dtype is not None:
        x = tf.cast(x, dtype)
    if x.shape.rank not in (3, 4):
        raise ValueError(f"{what} must be a cube (H, W, C) or a batch (B, H, W, C), got shape {x.shape}")
    if tf.executing_eagerly():
        check_finite(x.numpy(), what)
    return (x, True) if x.shape.rank == 4 else (x[None], False)


def _window(size: int, height, width) -> int:
    """The Q-index window: `size`, clamped to the image (a single window for small images)."""
    return int(min(size, height, width))


def q_index_map(x, y, block_size: int = 32) -> tf.Tensor:
    r"""Wang & Bovik's universal image quality index Q over sliding windows.

    `x`, `y`: `(B, H, W, C)`, compared channel by channel. In every
    `block_size` x `block_size` window (stride 1, windows inside the image only;
    the window shrinks to the image if that is smaller):
    \[ Q = \frac{4\,\sigma_{xy}\,\mu_x\mu_y}{(\sigma_x^2+\sigma_y^2)(\mu_x^2+\mu_y^2)} \]
    (population moments), with the reference implementation's special cases:
    \(2\mu_x\mu_y/(\mu_x^2+\mu_y^2)\) where \(\sigma_x^2+\sigma_y^2 = 0\), and 1
    where \(\mu_x^2+\mu_y^2 = 0\). Returns the mean over windows, `(B, C)`.
    """
    window = _window(block_size, x.shape[1], x.shape[2])
    pool = lambda t: tf.nn.avg_pool2d(t, window, 1, "VALID")  # noqa: E731
    mx, my = pool(x), pool(y)
    vx = pool(x * x) - mx * mx
    vy = pool(y * y) - my * my
    cxy = pool(x * y) - mx * my
    spread = vx + vy
    level = mx * mx + my * my
    one = tf.ones_like(spread)
    full = 4.0 * cxy * mx * my / (tf.where(spread != 0, spread, one) * tf.where(level != 0, level, one))
    luminance = 2.0 * mx * my / tf.where(level != 0, level, one)
    q = tf.where(level == 0, one, tf.where(spread == 0, luminance, full))
    return tf.reduce_mean(q, axis=[1, 2])


def d_lambda(fused, ms, block_size: int = 32, p: float = 1.0) -> tf.Tensor:
    r"""Spectral distortion \(D_\lambda\) of a full-resolution fusion (QNR, Alparone et al. 2008).

    \[ D_\lambda = \Big(\frac{1}{L(L-1)}\sum_{l}\sum_{r\ne l}
       \big|Q(F_l, F_r) - Q(M_l, M_r)\big|^p\Big)^{1/p} \]
    with \(F\) the fused image `(H, W, L)`, \(M\) the low-resolution
    multi/hyperspectral input `(h, w, L)` (batches `(B, ...)` too) and \(Q\) the
    sliding-window index of `q_index_map` (window `block_size`, clamped to each
    image). 0 is ideal: the fusion keeps the inter-band relations of the input.
    Returns a scalar per image.
    """
    fused, batched = _as_batch(fused, "d_lambda: fused")
    ms, _ = _as_batch(ms, "d_lambda: ms", fused.dtype)
    bands = fused.shape[-1]
    if ms.shape[-1] != bands or ms.shape[0] != fused.shape[0]:
        raise ValueError(
            f"d_lambda: fused and ms must have the same batch and band count, got fused "
            f"{tuple(fused.shape)} and ms {tuple(ms.shape)}"
        )
    if bands < 2:
        raise ValueError(f"d_lambda needs at least 2 bands, got {bands}")
    p = _positive(p, "d_lambda: p")
    total = tf.zeros([fused.shape[0]], fused.dtype)
    for l in range(bands - 1):
        rest = slice(l + 1, bands)
        q_f = q_index_map(tf.repeat(fused[..., l : l + 1], bands - l - 1, axis=-1), fused[..., rest], block_size)
        q_m = q_index_map(tf.repeat(ms[..., l : l + 1], bands - l - 1, axis=-1), ms[..., rest], block_size)
        total += tf.reduce_sum(tf.abs(q_f - q_m) ** p, axis=-1)
    values = (total / (bands * (bands - 1) / 2)) ** (1.0 / p)
    return _finish(values, batched)


def _degrade_pan(pan: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """PAN at the low resolution: bicubic with antialiasing (MATLAB's `imresize(P, 1/ratio)`)."""
    out = tf.image.resize(pan, [height, width], method="bicubic", antialias=True)
    return tf.cast(out, pan.dtype)


def d_s(fused, ms, pan, block_size: int = 32, q: float = 1.0, pan_lr=None) -> tf.Tensor:
    r"""Spatial distortion \(D_s\) of a full-resolution fusion (QNR, Alparone et al. 2008).

    \[ D_s = \Big(\frac{1}{L}\sum_l \big|Q(F_l, P) - Q(M_l, P_{LR})\big|^q\Big)^{1/q} \]
    with \(P\) the PAN image `(H, W, 1)`, \(P_{LR}\) the PAN at the resolution
    of \(M\) (by default bicubic with antialiasing, as the toolbox's
    `imresize(P, 1/ratio)`; pass `pan_lr` to use your own degradation) and
    \(Q\) as in `d_lambda`. 0 is ideal. Returns a scalar per image.
    """
    fused, batched = _as_batch(fused, "d_s: fused")
    ms, _ = _as_batch(ms, "d_s: ms", fused.dtype)
    pan, _ = _as_batch(pan, "d_s: pan", fused.dtype)
    if pan.shape[-1] != 1 or tuple(pan.shape[:3]) != tuple(fused.shape[:3]):
        raise ValueError(
            f"d_s: pan must be one band at the size of fused, got pan {tuple(pan.shape)} and fused "
            f"{tuple(fused.shape)}"
        )
    if ms.shape[-1] != fused.shape[-1] or ms.shape[0] != fused.shape[0]:
        raise ValueError(
            f"d_s: fused and ms must have the same batch and band count, got fused "
            f"{tuple(fused.shape)} and ms {tuple(ms.shape)}"
        )
    if pan_lr is None:
        pan_lr = _degrade_pan(pan, ms.shape[1], ms.shape[2])
    else:
        pan_lr, _ = _as_batch(pan_lr, "d_s: pan_lr", fused.dtype)
        if tuple(pan_lr.shape[:3]) != tuple(ms.shape[:3]) or pan_lr.shape[-1] != 1:
            raise ValueError(
                f"d_s: pan_lr must be one band at the size of ms, got {tuple(pan_lr.shape)} and ms "
                f"{tuple(ms.shape)}"
            )
    q = _positive(q, "d_s: q")
    bands = fused.shape[-1]
    q_high = q_index_map(fused, tf.repeat(pan, bands, axis=-1), block_size)
    q_low = q_index_map(ms, tf.repeat(pan_lr, bands, axis=-1), block_size)
    values = tf.reduce_mean(tf.abs(q_high - q_low) ** q, axis=-1) ** (1.0 / q)
    return _finish(values, batched)


def qnr(fused, ms, pan, block_size: int = 32, alpha: float = 1.0, beta: float = 1.0,
        p: float = 1.0, q: float = 1.0, pan_lr=None) -> dict:
    r"""Quality with no reference: \(\mathrm{QNR} = (1-D_\lambda)^\alpha (1-D_s)^\beta\) (ideal 1).

    Returns `{"D_lambda": ..., "D_s": ..., "QNR": ...}`, each a scalar per image
    (Table 2 of HS-BiNet), from `d_lambda` and `d_s` with the same arguments.
    """
    dl = d_lambda(fused, ms, block_size=block_size, p=p)
    ds = d_s(fused, ms, pan, block_size=block_size, q=q, pan_lr=pan_lr)
    return {"D_lambda": dl, "D_s": ds, "QNR": (1.0 - dl) ** alpha * (1.0 - ds) ** beta}


@tf.keras.utils.register_keras_serializable(package="larq_hsi")
class CC(_MeanOverImages):
    """Streaming `cc`: the mean over all images seen of the band-mean correlation."""

    def __init__(self, name: str = "cc", dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)

    def _per_image(self, y_true, y_pred):
        return cc(y_true, y_pred)


__all__ += ["CC", "cc", "d_lambda", "d_s", "q_index_map", "qnr"]
