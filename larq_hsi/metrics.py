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
