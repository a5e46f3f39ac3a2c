r"""The degradations of BBCU's three restoration tasks, on images in `[0, 1]`, channels last.

| task | degradation | levels | evaluation |
| --- | --- | --- | --- |
| `"sr"` | `bicubic_downscale`: MATLAB's bicubic `imresize(x, 1/s)` (`imresize.py`), rounded to 8 bits | s = 2, 3, 4 | PSNR/SSIM on the Y channel (BT.601), `s` border pixels shaved |
| `"denoise"` | `add_gaussian_noise`: \(y = x + n\), \(n \sim \mathcal N(0, (\sigma/255)^2)\), not clipped | sigma = 15, 25, 50 | PSNR on RGB |
| `"jpeg"` | `jpeg_compress`: 8-bit rounding, `tf.io.encode_jpeg` at quality q, decode | q = 10, 20, 30, 40 | PSNR/SSIM on grayscale |

The paper downsamples with MATLAB's `imresize`, which `imresize.py`
reproduces (its bicubic baseline matches the published Set5/Set14 figures),
and compresses with MATLAB's JPEG encoder; `tf.io.encode_jpeg` is libjpeg,
which MATLAB also uses, at the same quality scale.
"""

from __future__ import annotations

import numbers

import tensorflow as tf

from larq_hsi.tasks.restoration.imresize import imresize

__all__ = [
    "JPEG_QUALITIES",
    "NOISE_SIGMAS",
    "SR_SCALES",
    "TASKS",
    "add_gaussian_noise",
    "check_scale",
    "bicubic_downscale",
    "check_level",
    "check_task",
    "degrade",
    "image_tensor",
    "jpeg_compress",
    "jpeg_single",
    "modcrop",
    "quantize_8bit",
    "stateless_seed",
]

TASKS = ("sr", "denoise", "jpeg")
SR_SCALES = (2, 3, 4)
NOISE_SIGMAS = (15, 25, 50)
JPEG_QUALITIES = (10, 20, 30, 40)



def stateless_seed(seed) -> tf.Tensor:
    if isinstance(seed, numbers.Integral):
        return tf.constant([int(seed), 0], tf.int64)
    return tf.cast(seed, tf.int64)


def image_tensor(image, what):
    image = tf.convert_to_tensor(image)
    if not image.dtype.is_floating:
        raise ValueError(f"{what}: expected a float image in [0, 1], got dtype {image.dtype.name}")
    if image.shape.rank not in (3, 4):
        raise ValueError(f"{what}: expected (H, W, C) or (B, H, W, C), got shape {image.shape}")
    return image


def check_scale(scale):
    if scale not in SR_SCALES:
        raise ValueError(f"scale must be one of {SR_SCALES}, got {scale!r}")
    return int(scale)


def modcrop(image, scale: int):
    """Crops height and width (bottom/right) down to multiples of `scale`, as SR test sets do."""
    if not isinstance(scale, numbers.Integral) or scale < 1:
        raise ValueError(f"modcrop: scale must be a positive integer, got {scale!r}")
    image = image_tensor(image, "modcrop")
    height, width = image.shape[-3], image.shape[-2]
    if height is not None and width is not None:  # static sizes stay static
        if height < scale or width < scale:
            raise ValueError(f"modcrop: a {height}x{width} image is smaller than the scale {scale}")
        return image[..., : height - height % scale, : width - width % scale, :]
    shape = tf.shape(image)
    return image[..., : shape[-3] - shape[-3] % scale, : shape[-2] - shape[-2] % scale, :]


def bicubic_downscale(image, scale: int):
    r"""Bicubic downscaling by `scale` (2, 3 or 4), the SR degradation: MATLAB's `imresize(x, 1/s)`.

    The image is first cropped to a multiple of `scale` (`modcrop`), then
    resized to `(H / s, W / s)` by `larq_hsi.tasks.restoration.imresize.imresize`
    (Keys cubic widened by s, symmetric borders). Values are not clipped or
    rounded (`degrade` rounds the LR image to 8 bits, as saved LR images are).
    """
    scale = check_scale(scale)
    return imresize(modcrop(image, scale), scale=1.0 / scale)


def _check_sigma(sigma):
    if not isinstance(sigma, numbers.Real) or sigma < 0:
        raise ValueError(f"sigma must be a number >= 0 on the 0-255 scale (15, 25, 50), got {sigma!r}")
    return float(sigma)


def add_gaussian_noise(image, sigma: float, seed=None):
    r"""Additive white Gaussian noise of standard deviation `sigma` on the 0-255 scale.

    \(y = x + n,\ n \sim \mathcal N(0, (\sigma / 255)^2)\) i.i.d. per pixel and
    channel, not clipped (the DnCNN convention). `seed`: an int or a shape-(2,)
    stateless seed for reproducible noise; None draws from the global generator.
    """
    sigma = _check_sigma(sigma)
    image = image_tensor(image, "add_gaussian_noise")
    std = tf.cast(sigma / 255.0, image.dtype)
    if seed is None:
        noise = tf.random.normal(tf.shape(image), dtype=image.dtype)
    else:
        noise = tf.random.stateless_normal(tf.shape(image), stateless_seed(seed), dtype=image.dtype)
    return image + std * noise


def quantize_8bit(image):
    """Rounds to the 256 levels of an 8-bit image, keeping the float dtype.

    \(\lfloor 255\,\mathrm{clip}(x, 0, 1) + \tfrac12 \rfloor / 255\): halves round up,
    as MATLAB's `uint8()` and PIL's saving of 8-bit images do (not to even).
    """
    image = image_tensor(image, "quantize_8bit")
    return tf.floor(tf.clip_by_value(image, 0.0, 1.0) * 255.0 + 0.5) / 255.0


def _check_quality(quality):
    if not isinstance(quality, numbers.Integral) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer in [1, 100] (10, 20, 30, 40), got {quality!r}")
    return int(quality)


def jpeg_single(image, quality):
    levels = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)
    encoded = tf.io.encode_jpeg(levels, quality=quality)
    channels = image.shape[-1]
    decoded = tf.io.decode_jpeg(encoded, channels=channels)
    return tf.cast(decoded, image.dtype) / tf.cast(255.0, image.dtype)


def jpeg_compress(image, quality: int):
    """JPEG re-encoding at `quality`: round to 8 bits, `tf.io.encode_jpeg`, `tf.io.decode_jpeg`.

    1 (grayscale) or 3 (RGB, 4:2:0 chroma subsampling) channels; batches are
    compressed image by image. Returns floats in `[0, 1]` in the input's dtype.
    """
    quality = _check_quality(quality)
    image = image_tensor(image, "jpeg_compress")
    if image.shape[-1] not in (1, 3):
        raise ValueError(f"jpeg_compress: expected 1 or 3 channels, got shape {image.shape}")
    if image.shape.rank == 4:
        return tf.map_fn(lambda im: jpeg_single(im, quality), image)
    return jpeg_single(image, quality)


def check_task(task):
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return task


def check_level(task, level):
    """The degradation level(s) of a task as a tuple: scale, sigma(s) or quality(ies)."""
    if task == "sr":
        return (check_scale(level),)
    levels = tuple(level) if isinstance(level, (list, tuple)) else (level,)
    if not levels:
        raise ValueError(f"{task}: needs at least one degradation level, got {level!r}")
    check = _check_sigma if task == "denoise" else _check_quality
    return tuple(check(v) for v in levels)


def degrade(image, task: str, level, seed=None):
    """`(degraded, clean)` for a whole image: the task's degradation at `level`.

    "sr": `level` is the scale; clean is the `modcrop`ped image, degraded its
    `bicubic_downscale` rounded to 8 bits (as the LR images of SR test sets are stored). "denoise": sigma (noise drawn with `seed`).
    "jpeg": quality. Clean is returned as a tensor of the input's dtype.
    """
    task = check_task(task)
    levels = check_level(task, level)
    if len(levels) != 1:
        raise ValueError(f"degrade: give one {task} level, got {level!r}")
    value = levels[0]
    image = image_tensor(image, "degrade")
    if task == "sr":
        clean = modcrop(image, value)
        return quantize_8bit(bicubic_downscale(clean, value)), clean
    if task == "denoise":
        return add_gaussian_noise(image, value, seed), image
    return jpeg_compress(image, value), image
