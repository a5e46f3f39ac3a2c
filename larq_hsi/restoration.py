r"""Image restoration data for the BBCU tasks: readers, degradations, training pairs, evaluation.

The three tasks of BBCU (Sec. 4) and their degradations, on images with
values in `[0, 1]`, channels last (`(H, W, C)` or batches `(B, H, W, C)`):

| task | degradation | levels | evaluation |
| --- | --- | --- | --- |
| `"sr"` | `bicubic_downscale`: bicubic x1/s with antialiasing (MATLAB `imresize`) | s = 2, 3, 4 | PSNR/SSIM on the Y channel, `s` border pixels cropped |
| `"denoise"` | `add_gaussian_noise`: \(y = x + n\), \(n \sim \mathcal N(0, (\sigma/255)^2)\), not clipped | sigma = 15, 25, 50 | PSNR on RGB |
| `"jpeg"` | `jpeg_compress`: 8-bit rounding, `tf.io.encode_jpeg` at quality q, decode | q = 10, 20, 30, 40 | PSNR/SSIM on grayscale |

The paper compresses with MATLAB's JPEG encoder and downsamples with
MATLAB's `imresize`; `tf.io.encode_jpeg` (libjpeg) and
`tf.image.resize(..., "bicubic", antialias=True)` (the same Keys a = -0.5
kernel, widened by s) agree with them away from the borders; near the
borders `imresize` mirrors the image while TensorFlow renormalises the
kernel, so a few edge pixels differ.

`training_dataset` turns a list of images into an endless, seeded `tf.data`
stream of `(degraded, clean)` patch pairs: a random image, a random window,
a random rotation/flip, then the degradation (for SR the LQ image is computed
once from the whole image and the windows are cut aligned, as SR training
sets store LR images). Real photographs for demos and tests come from
scikit-image (`sample_images`), folders of PNG/JPEG files from
`read_image_folder`.

`halving_schedule` is the paper's learning rate (1e-4, halved every 200,000
iterations); `y_channel`, `psnr_y`, `ssim_y` and `task_psnr`/`task_ssim` are
the evaluation conventions of Tables 1-3.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from larq_hsi import metrics

__all__ = [
    "IMAGE_EXTENSIONS",
    "JPEG_QUALITIES",
    "NOISE_SIGMAS",
    "SR_SCALES",
    "TASKS",
    "add_gaussian_noise",
    "bicubic_downscale",
    "degrade",
    "evaluation_pairs",
    "halving_schedule",
    "jpeg_compress",
    "modcrop",
    "psnr_y",
    "quantize_8bit",
    "read_image",
    "read_image_folder",
    "sample_images",
    "ssim_y",
    "task_psnr",
    "task_ssim",
    "to_grayscale",
    "training_dataset",
    "y_channel",
]

TASKS = ("sr", "denoise", "jpeg")
SR_SCALES = (2, 3, 4)
NOISE_SIGMAS = (15, 25, 50)
JPEG_QUALITIES = (10, 20, 30, 40)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
SAMPLE_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "camera")
_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ITU-R BT.601 luma, as tf.image.rgb_to_grayscale
_Y_WEIGHTS = (65.481, 128.553, 24.966)  # MATLAB rgb2ycbcr, for RGB in [0, 1] and Y in [0, 255]


# ----------------------------------------------------------------------------- images


def _as_channels(image: np.ndarray, channels: int, what: str) -> np.ndarray:
    """Drops alpha and converts between grayscale and RGB to get `channels` channels."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"{what}: expected an image (H, W) or (H, W, C), got shape {image.shape}")
    if image.shape[-1] in (2, 4):  # grey + alpha, RGB + alpha
        image = image[..., :-1]
    if image.shape[-1] not in (1, 3):
        raise ValueError(f"{what}: expected 1 or 3 colour channels, got {image.shape[-1]}")
    if channels == image.shape[-1]:
        return image
    if channels == 1:
        return to_grayscale(image)
    if channels == 3:
        return np.repeat(image, 3, axis=-1)
    raise ValueError(f"{what}: channels must be 1 or 3, got {channels!r}")


def _check_channels(channels):
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")


def to_grayscale(image):
    r"""Luma \(0.2989 R + 0.5870 G + 0.1140 B\) (ITU-R BT.601, `tf.image.rgb_to_grayscale`), keeping a channel axis."""
    image = np.asarray(image)
    if image.shape[-1] != 3:
        raise ValueError(f"to_grayscale: expected 3 channels (RGB), got shape {image.shape}")
    weights = np.asarray(_GRAY_WEIGHTS, dtype=np.float64)
    return (image @ weights)[..., None].astype(image.dtype if image.dtype.kind == "f" else np.float32)


def read_image(path, channels: int = 3) -> np.ndarray:
    """One PNG or JPEG file as a float32 array `(H, W, channels)` in `[0, 1]`.

    8- and 16-bit files are scaled by their maximum level; alpha is dropped;
    RGB files become grayscale with `to_grayscale` for `channels=1` and
    grayscale files are repeated for `channels=3`. Raises `FileNotFoundError`
    for a missing file and `ValueError` naming the file for one that cannot be
    decoded.
    """
    _check_channels(channels)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_image: no such file: {path}")
    try:
        data = tf.io.read_file(str(path))
        image = tf.io.decode_image(data, channels=0, dtype=tf.float32, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(f"read_image: cannot decode {path} as PNG/JPEG/BMP/GIF ({error.message})") from None
    return _as_channels(image.numpy(), channels, f"read_image({path})").astype(np.float32)


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def read_image_folder(folder, channels: int = 3, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[np.ndarray]:
    """Every PNG/JPEG image of `folder` (not recursive), in natural name order, via `read_image`.

    Raises `FileNotFoundError` if the folder does not exist, `ValueError` if it
    holds no file with one of `extensions` (case-insensitive) or if a file
    cannot be decoded (the message names it).
    """
    _check_channels(channels)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"read_image_folder: no such folder: {folder}")
    wanted = tuple(e.lower() for e in extensions)
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in wanted), key=_natural_key)
    if not files:
        raise ValueError(f"read_image_folder: no {'/'.join(wanted)} files in {folder}")
    return [read_image(p, channels) for p in files]


def sample_images(names: Sequence[str] = ("astronaut", "coffee", "chelsea"), channels: int = 3) -> list[np.ndarray]:
    """Photographs shipped with scikit-image (`skimage.data`), float32 in `[0, 1]`.

    `names` among astronaut (512x512), coffee (400x600), chelsea (300x451),
    rocket (427x640), camera (512x512, grayscale). No download is involved.
    """
    _check_channels(channels)
    if isinstance(names, str):
        names = (names,)
    unknown = [n for n in names if n not in SAMPLE_IMAGES]
    if unknown:
        raise ValueError(f"sample_images: unknown image(s) {unknown}, expected names among {SAMPLE_IMAGES}")
    try:
        from skimage import data as skdata
    except ImportError:
        raise ImportError(
            "sample_images needs scikit-image for its bundled photographs: pip install scikit-image"
        ) from None
    return [
        _as_channels(getattr(skdata, n)().astype(np.float32) / 255.0, channels, f"skimage.data.{n}")
        for n in names
    ]


# ----------------------------------------------------------------------------- degradations


def _image_tensor(image, what):
    image = tf.convert_to_tensor(image)
    if not image.dtype.is_floating:
        raise ValueError(f"{what}: expected a float image in [0, 1], got dtype {image.dtype.name}")
    if image.shape.rank not in (3, 4):
        raise ValueError(f"{what}: expected (H, W, C) or (B, H, W, C), got shape {image.shape}")
    return image


def _check_scale(scale):
    if scale not in SR_SCALES:
        raise ValueError(f"scale must be one of {SR_SCALES}, got {scale!r}")
    return int(scale)


def modcrop(image, scale: int):
    """Crops height and width (bottom/right) down to multiples of `scale`, as SR test sets do."""
    if not isinstance(scale, numbers.Integral) or scale < 1:
        raise ValueError(f"modcrop: scale must be a positive integer, got {scale!r}")
    image = _image_tensor(image, "modcrop")
    shape = tf.shape(image)
    h = shape[-3] - shape[-3] % scale
    w = shape[-2] - shape[-2] % scale
    return image[..., :h, :w, :]


def bicubic_downscale(image, scale: int):
    r"""Bicubic downscaling by `scale` (2, 3 or 4), the SR degradation.

    The image is first cropped to a multiple of `scale` (`modcrop`), then
    resized to exactly `(H // scale, W // scale)` with
    `tf.image.resize(method="bicubic", antialias=True)`: Keys' cubic
    (a = -0.5) widened by `scale`, as MATLAB's `imresize`; it reproduces
    linear ramps exactly away from the borders. Values are not clipped or rounded.
    """
    scale = _check_scale(scale)
    image = modcrop(image, scale)
    shape = tf.shape(image)
    size = tf.stack([shape[-3] // scale, shape[-2] // scale])
    out = tf.image.resize(image, size, method="bicubic", antialias=True)
    return tf.cast(out, image.dtype)


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
    image = _image_tensor(image, "add_gaussian_noise")
    std = tf.cast(sigma / 255.0, image.dtype)
    if seed is None:
        noise = tf.random.normal(tf.shape(image), dtype=image.dtype)
    else:
        noise = tf.random.stateless_normal(tf.shape(image), _as_seed(seed), dtype=image.dtype)
    return image + std * noise


def quantize_8bit(image):
    """Rounds to the 256 levels of an 8-bit image (clipped to [0, 1]), keeping the float dtype."""
    image = _image_tensor(image, "quantize_8bit")
    return tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0) / 255.0


def _check_quality(quality):
    if not isinstance(quality, numbers.Integral) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer in [1, 100] (10, 20, 30, 40), got {quality!r}")
    return int(quality)


def _jpeg_single(image, quality):
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
    image = _image_tensor(image, "jpeg_compress")
    if image.shape[-1] not in (1, 3):
        raise ValueError(f"jpeg_compress: expected 1 or 3 channels, got shape {image.shape}")
    if image.shape.rank == 4:
        return tf.map_fn(lambda im: _jpeg_single(im, quality), image)
    return _jpeg_single(image, quality)


def _check_task(task):
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return task


def _check_level(task, level):
    """The degradation level(s) of a task as a tuple: scale, sigma(s) or quality(ies)."""
    if task == "sr":
        return (_check_scale(level),)
    levels = tuple(level) if isinstance(level, (list, tuple)) else (level,)
    if not levels:
        raise ValueError(f"{task}: needs at least one degradation level, got {level!r}")
    check = _check_sigma if task == "denoise" else _check_quality
    return tuple(check(v) for v in levels)


def degrade(image, task: str, level, seed=None):
    """`(degraded, clean)` for a whole image: the task's degradation at `level`.

    "sr": `level` is the scale; clean is the `modcrop`ped image, degraded its
    `bicubic_downscale`. "denoise": sigma (noise drawn with `seed`).
    "jpeg": quality. Clean is returned as a tensor of the input's dtype.
    """
    task = _check_task(task)
    levels = _check_level(task, level)
    if len(levels) != 1:
        raise ValueError(f"degrade: give one {task} level, got {level!r}")
    value = levels[0]
    image = _image_tensor(image, "degrade")
    if task == "sr":
        clean = modcrop(image, value)
        return bicubic_downscale(clean, value), clean
    if task == "denoise":
        return add_gaussian_noise(image, value, seed), image
    return jpeg_compress(image, value), image


def evaluation_pairs(images, task: str, level, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """`(degraded, clean)` NumPy pairs of whole images (noise seeded per image from `seed`)."""
    return [
        tuple(t.numpy() for t in degrade(np.asarray(im, np.float32), task, level, seed=(seed, i)))
        for i, im in enumerate(images)
    ]


# ----------------------------------------------------------------------------- training pairs


def _as_seed(seed) -> tf.Tensor:
    if isinstance(seed, numbers.Integral):
        return tf.constant([int(seed), 0], tf.int64)
    return tf.cast(seed, tf.int64)


def _fold(seed, *salt) -> tf.Tensor:
    seed = _as_seed(seed)
    for value in salt:
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(value, tf.int64))
    return seed


def _uniform_int(seed, maxval) -> tf.Tensor:
    return tf.random.stateless_uniform((), seed, 0, tf.cast(maxval, tf.int32), dtype=tf.int32)


class _ImageBank:
    """Images of any sizes in one flat buffer; `window(k, top, left, size)` cuts a square of image k."""

    def __init__(self, images: list[np.ndarray], dtype):
        self.channels = images[0].shape[-1]
        self.flat = tf.constant(np.concatenate([im.ravel() for im in images]), dtype)
        self.offsets = tf.constant(np.cumsum([0] + [im.size for im in images[:-1]]), tf.int64)
        self.heights = tf.constant([im.shape[0] for im in images], tf.int32)
        self.widths = tf.constant([im.shape[1] for im in images], tf.int32)

    def window(self, k, top, left, size: int) -> tf.Tensor:
        width = tf.cast(self.widths[k], tf.int64)
        rows = tf.range(size, dtype=tf.int64)[:, None]
        run = tf.range(size * self.channels, dtype=tf.int64)[None, :]
        start = (tf.cast(top, tf.int64) + rows) * width + tf.cast(left, tf.int64)
        index = self.offsets[k] + start * self.channels + run
        return tf.reshape(tf.gather(self.flat, index), [size, size, self.channels])


def _augment(image, seed):
    """Rotation by k * 90 degrees (k uniform in 0..3), then a left-right flip with probability 1/2."""
    image = tf.image.rot90(image, _uniform_int(_fold(seed, 0), 4))
    return tf.cond(_uniform_int(_fold(seed, 1), 2) > 0, lambda: tf.reverse(image, [1]), lambda: image)


def _prepare_images(images, channels, min_size, what):
    if isinstance(images, np.ndarray) and images.ndim in (2, 3):
        images = [images]
    images = [np.asarray(im) for im in images]
    if not images:
        raise ValueError(f"{what}: needs at least one image")
    out = []
    for i, im in enumerate(images):
        if im.dtype.kind not in "f":
            raise ValueError(f"{what}: image {i} must hold floats in [0, 1], got dtype {im.dtype}")
        target = channels or (1 if im.ndim == 2 or im.shape[-1] in (1, 2) else 3)
        im = _as_channels(im, target, f"{what}: image {i}")
        if im.shape[0] < min_size or im.shape[1] < min_size:
            raise ValueError(
                f"{what}: image {i} is {im.shape[0]}x{im.shape[1]}, smaller than the "
                f"{min_size}x{min_size} patch"
            )
        out.append(np.ascontiguousarray(im, np.float32))
    if len({im.shape[-1] for im in out}) != 1:
        raise ValueError(f"{what}: images must all have the same channel count, pass channels=1 or 3")
    return out


def training_dataset(
    images,
    task: str,
    level,
    patch_size: int = 64,
    batch_size: int = 32,
    seed: int = 0,
    channels: int | None = None,
    augment: bool = True,
    samples: int | None = None,
    dtype="float32",
) -> tf.data.Dataset:
    """A seeded `tf.data` stream of `(degraded, clean)` training patches, batched.

    Every sample: an image chosen uniformly, a `patch_size` x `patch_size`
    window of it (the clean, HQ patch) at a uniform position, a random
    90-degree rotation and flip (`augment`), and the degradation:

    - "sr" (`level` = scale s): the LQ image is `bicubic_downscale`d once from
      the whole image; the LQ window of size `patch_size // s` and the HQ
      window are cut aligned (`patch_size` must be a multiple of s).
    - "denoise" (`level` = sigma or a list of sigmas, one chosen per sample):
      `add_gaussian_noise` with fresh, seeded noise for every sample.
    - "jpeg" (`level` = quality or a list, one chosen per sample, as DnCNN-3
      trains on several): `jpeg_compress` of the patch.

    `channels` converts the images (1 for the grayscale JPEG task, 3 for RGB);
    None keeps them. Batches have `batch_size` pairs (`drop_remainder`); the
    stream is endless unless `samples` is given. The same seed gives the same
    batches. The paper's settings: SR 16 patches of 192 x 192 (HQ); denoising
    and deblocking 32 patches of 64 x 64.
    """
    task = _check_task(task)
    levels = _check_level(task, level)
    if channels is not None:
        _check_channels(channels)
    if not isinstance(patch_size, numbers.Integral) or patch_size < 1:
        raise ValueError(f"training_dataset: patch_size must be a positive integer, got {patch_size!r}")
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"training_dataset: batch_size must be a positive integer, got {batch_size!r}")
    if task == "sr" and patch_size % levels[0]:
        raise ValueError(
            f"training_dataset: the SR patch_size ({patch_size}) must be a multiple of the scale ({levels[0]})"
        )
    clean_images = _prepare_images(images, channels, patch_size, "training_dataset")
    if task == "jpeg" and clean_images[0].shape[-1] not in (1, 3):
        raise ValueError("training_dataset: JPEG needs 1 or 3 channels")
    dtype = tf.as_dtype(dtype)
    base = _fold(tf.constant([seed, 0xB8C0], tf.int64))
    count = len(clean_images)

    if task == "sr":
        scale = levels[0]
        clean_images = [np.asarray(modcrop(im, scale)) for im in clean_images]
        lq_images = [np.asarray(bicubic_downscale(im, scale)) for im in clean_images]
        hq_bank, lq_bank = _ImageBank(clean_images, dtype), _ImageBank(lq_images, dtype)
        lq_size = patch_size // scale

        def sample(i):
            k = _uniform_int(_fold(base, 1, i), count)
            top = _uniform_int(_fold(base, 2, i), lq_bank.heights[k] - lq_size + 1)
            left = _uniform_int(_fold(base, 3, i), lq_bank.widths[k] - lq_size + 1)
            lq = lq_bank.window(k, top, left, lq_size)
            hq = hq_bank.window(k, top * scale, left * scale, patch_size)
            if augment:
                lq, hq = _augment(lq, _fold(base, 4, i)), _augment(hq, _fold(base, 4, i))
            return lq, hq

    else:
        bank = _ImageBank(clean_images, dtype)

        def sample(i):
            k = _uniform_int(_fold(base, 1, i), count)
            top = _uniform_int(_fold(base, 2, i), bank.heights[k] - patch_size + 1)
            left = _uniform_int(_fold(base, 3, i), bank.widths[k] - patch_size + 1)
            hq = bank.window(k, top, left, patch_size)
            if augment:
                hq = _augment(hq, _fold(base, 4, i))
            which = _uniform_int(_fold(base, 5, i), len(levels))
            if task == "denoise":
                sigma = tf.gather(tf.constant(levels, dtype), which)
                noise = tf.random.stateless_normal(tf.shape(hq), _fold(base, 6, i), dtype=dtype)
                return hq + sigma / 255.0 * noise, hq
            branches = [lambda q=q: _jpeg_single(hq, q) for q in levels]
            lq = tf.switch_case(which, branches)
            return tf.ensure_shape(lq, hq.shape), hq

    indices = tf.data.Dataset.counter()
    if samples is not None:
        indices = indices.take(int(samples))
    dataset = indices.map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(int(batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------- training schedule


def halving_schedule(initial_learning_rate: float = 1e-4, halve_every: int = 200_000):
    r"""The paper's learning rate (Sec. 4.1): \(\eta_t = \eta_0 \cdot 2^{-\lfloor t / N \rfloor}\).

    A Keras `LearningRateSchedule` (`ExponentialDecay` with rate 1/2 and
    `staircase=True`, so it saves with the optimizer). Denoising and
    deblocking: \(\eta_0 = 10^{-4}\), N = 200,000 iterations; SR halves every
    200 epochs (pass N = 200 x steps per epoch).
    """
    if not isinstance(initial_learning_rate, numbers.Real) or not initial_learning_rate > 0:
        raise ValueError(f"initial_learning_rate must be a number > 0, got {initial_learning_rate!r}")
    if not isinstance(halve_every, numbers.Integral) or halve_every < 1:
        raise ValueError(f"halve_every must be a positive number of iterations, got {halve_every!r}")
    return tf.keras.optimizers.schedules.ExponentialDecay(
        float(initial_learning_rate), int(halve_every), 0.5, staircase=True
    )


# ----------------------------------------------------------------------------- evaluation


def y_channel(image):
    r"""The Y channel of YCbCr (ITU-R BT.601, MATLAB's `rgb2ycbcr`), in `[16/255, 235/255]`.

    \(Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255\) for RGB in `[0, 1]`;
    keeps a channel axis of 1. Grayscale input (one channel) is returned as is.
    """
    image = _image_tensor(image, "y_channel")
    if image.shape[-1] == 1:
        return image
    if image.shape[-1] != 3:
        raise ValueError(f"y_channel: expected 1 or 3 channels, got shape {image.shape}")
    weights = tf.constant(_Y_WEIGHTS, image.dtype)
    y = tf.tensordot(image, weights, axes=[[-1], [0]])
    return ((y + 16.0) / 255.0)[..., None]


def _crop_border(image, border):
    if not isinstance(border, numbers.Integral) or border < 0:
        raise ValueError(f"crop_border must be an integer >= 0, got {border!r}")
    if border == 0:
        return image
    return image[..., border:-border, border:-border, :]


def _evaluation_inputs(y_true, y_pred, crop_border, quantize, space):
    y_true = _image_tensor(y_true, "evaluation: y_true")
    y_pred = _image_tensor(y_pred, "evaluation: y_pred")
    dtype = tf.float64
    y_true, y_pred = tf.cast(y_true, dtype), tf.cast(y_pred, dtype)
    if quantize:
        y_true, y_pred = quantize_8bit(y_true), quantize_8bit(y_pred)
    if space == "y":
        y_true, y_pred = y_channel(y_true), y_channel(y_pred)
    elif space == "gray" and y_true.shape[-1] == 3:
        weights = tf.constant(_GRAY_WEIGHTS, dtype)
        y_true, y_pred = (tf.tensordot(t, weights, axes=[[-1], [0]])[..., None] for t in (y_true, y_pred))
    return _crop_border(y_true, crop_border), _crop_border(y_pred, crop_border)


def psnr_y(y_true, y_pred, crop_border: int = 0, quantize: bool = True):
    """PSNR (dB, peak 1) on the Y channel after cropping `crop_border` pixels (SR: the scale).

    With `quantize` both images are first rounded to 8 bits, as saved
    results are (BasicSR's `calculate_psnr(..., test_y_channel=True)`).
    One value per image (a scalar for `(H, W, C)`, `(B,)` for a batch).
    """
    t, p = _evaluation_inputs(y_true, y_pred, crop_border, quantize, "y")
    return metrics.psnr(t, p, max_val=1.0)


def ssim_y(y_true, y_pred, crop_border: int = 0, quantize: bool = True):
    """SSIM (`larq_hsi.metrics.ssim`, Gaussian 11x11) on the Y channel after cropping `crop_border` pixels."""
    t, p = _evaluation_inputs(y_true, y_pred, crop_border, quantize, "y")
    return metrics.ssim(t, p, max_val=1.0)


def _task_space(task, scale):
    task = _check_task(task)
    if task == "sr":
        return "y", _check_scale(scale)
    return ("rgb" if task == "denoise" else "gray"), 0


def task_psnr(task: str, y_true, y_pred, scale: int | None = None, quantize: bool = True):
    """The PSNR of the paper's tables: Y channel with `scale` border cropped for "sr",
    RGB for "denoise", grayscale (luma) for "jpeg"."""
    space, border = _task_space(task, scale)
    t, p = _evaluation_inputs(y_true, y_pred, border, quantize, space)
    return metrics.psnr(t, p, max_val=1.0)


def task_ssim(task: str, y_true, y_pred, scale: int | None = None, quantize: bool = True):
    """The SSIM counterpart of `task_psnr` (mean over channels for RGB)."""
    space, border = _task_space(task, scale)
    t, p = _evaluation_inputs(y_true, y_pred, border, quantize, space)
    return metrics.ssim(t, p, max_val=1.0)
