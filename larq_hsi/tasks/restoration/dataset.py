"""Images for the restoration tasks: bundled photographs, evaluation pairs and training patches.

`restoration_training_data` turns a list of images into an endless, seeded
`tf.data` stream of `(degraded, clean)` patch pairs: a random image, a random
window, a random rotation/flip, then the degradation (for SR the LQ image is
computed once from the whole image and the windows are cut aligned, as SR
training sets store LR images). `sample_images` gives scikit-image's
bundled photographs (no download); folders of PNG/JPEG files come from
`larq_hsi.io.read_image_folder`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from larq_hsi import io
from larq_hsi.io import as_channels, check_channels
from larq_hsi.tasks.restoration.degrade import (
    bicubic_downscale,
    check_level,
    check_task,
    degrade,
    jpeg_single,
    modcrop,
    stateless_seed,
)

__all__ = ["SAMPLE_IMAGES", "evaluation_pairs", "load_images", "restoration_training_data", "sample_images"]

SAMPLE_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def sample_images(names: Sequence[str] = ("astronaut", "coffee", "chelsea"), channels: int = 3) -> list[np.ndarray]:
    """Photographs shipped with scikit-image (`skimage.data`), float32 in `[0, 1]`.

    `names` among astronaut (512x512), coffee (400x600), chelsea (300x451),
    rocket (427x640), camera (512x512, grayscale). No download is involved.
    """
    check_channels(channels)
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
        as_channels(getattr(skdata, n)().astype(np.float32) / 255.0, channels, f"skimage.data.{n}")
        for n in names
    ]


def load_images(folder, task: str) -> list[np.ndarray]:
    """The images of a folder for `task`, in the channels its protocol scores them in.

    - "sr": RGB; a grey image (Set14's `bridge.png`) is repeated to three equal
      channels, as the published SR protocol does (its Y is then the grey level
      mapped to 16-235).
    - "denoise": as stored, all colour (CBSD68, the colour DnCNN's) or all grey
      (BSD68, the grey DnCNN's); a folder mixing both is refused, naming a grey file.
    - "jpeg": grayscale (luma of colour images), as DnCNN-3's deblocking is.
    """
    check_task(task)
    if task == "sr":
        return io.read_image_folder(folder, channels=3)
    if task == "jpeg":
        return io.read_image_folder(folder, channels=1)
    files = io.image_files(folder)
    images = [io.read_image(f, channels=None) for f in files]
    grey = [f for f, im in zip(files, images) if im.shape[-1] == 1]
    if grey and len(grey) < len(files):
        raise ValueError(f"{grey[0]}: a grey image among colour ones; denoising scores colour (CBSD68) or grey "
                         "(BSD68) images, not a mix")
    return images


def evaluation_pairs(images, task: str, level, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """`(degraded, clean)` NumPy pairs of whole images (noise seeded per image from `seed`)."""
    return [
        tuple(t.numpy() for t in degrade(np.asarray(im, np.float32), task, level, seed=(seed, i)))
        for i, im in enumerate(images)
    ]


def _fold(seed, *salt) -> tf.Tensor:
    seed = stateless_seed(seed)
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
        im = as_channels(im, target, f"{what}: image {i}")
        if im.shape[0] < min_size or im.shape[1] < min_size:
            raise ValueError(
                f"{what}: image {i} is {im.shape[0]}x{im.shape[1]}, smaller than the "
                f"{min_size}x{min_size} patch"
            )
        out.append(np.ascontiguousarray(im, np.float32))
    if len({im.shape[-1] for im in out}) != 1:
        raise ValueError(f"{what}: images must all have the same channel count, pass channels=1 or 3")
    return out


def restoration_training_data(
    images,
    task: str,
    level,
    crop_size: int = 64,
    batch_size: int = 32,
    seed: int = 0,
    channels: int | None = None,
    augment: bool = True,
    samples: int | None = None,
    dtype="float32",
) -> tf.data.Dataset:
    """A seeded `tf.data` stream of `(degraded, clean)` training patches, batched.

    Every sample: an image chosen uniformly, a `crop_size` x `crop_size`
    window of it (the clean, HQ patch) at a uniform position, a random
    90-degree rotation and flip (`augment`), and the degradation:

    - "sr" (`level` = scale s): the LQ image is `bicubic_downscale`d once from
      the whole image; the LQ window of size `crop_size // s` and the HQ
      window are cut aligned (`crop_size` must be a multiple of s).
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
    task = check_task(task)
    levels = check_level(task, level)
    if channels is not None:
        check_channels(channels)
    if not isinstance(crop_size, numbers.Integral) or crop_size < 1:
        raise ValueError(f"restoration_training_data: crop_size must be a positive integer, got {crop_size!r}")
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"restoration_training_data: batch_size must be a positive integer, got {batch_size!r}")
    if task == "sr" and crop_size % levels[0]:
        raise ValueError(
            f"restoration_training_data: the SR crop_size ({crop_size}) must be a multiple of the scale ({levels[0]})"
        )
    clean_images = _prepare_images(images, channels, crop_size, "restoration_training_data")
    if task == "jpeg" and clean_images[0].shape[-1] not in (1, 3):
        raise ValueError("restoration_training_data: JPEG needs 1 or 3 channels")
    dtype = tf.as_dtype(dtype)
    base = _fold(tf.constant([seed, 0xB8C0], tf.int64))
    count = len(clean_images)

    if task == "sr":
        scale = levels[0]
        clean_images = [np.asarray(modcrop(im, scale)) for im in clean_images]
        lq_images = [np.asarray(bicubic_downscale(im, scale)) for im in clean_images]
        hq_bank, lq_bank = _ImageBank(clean_images, dtype), _ImageBank(lq_images, dtype)
        lq_size = crop_size // scale

        def sample(i):
            k = _uniform_int(_fold(base, 1, i), count)
            top = _uniform_int(_fold(base, 2, i), lq_bank.heights[k] - lq_size + 1)
            left = _uniform_int(_fold(base, 3, i), lq_bank.widths[k] - lq_size + 1)
            lq = lq_bank.window(k, top, left, lq_size)
            hq = hq_bank.window(k, top * scale, left * scale, crop_size)
            if augment:
                lq, hq = _augment(lq, _fold(base, 4, i)), _augment(hq, _fold(base, 4, i))
            return lq, hq

    else:
        bank = _ImageBank(clean_images, dtype)

        def sample(i):
            k = _uniform_int(_fold(base, 1, i), count)
            top = _uniform_int(_fold(base, 2, i), bank.heights[k] - crop_size + 1)
            left = _uniform_int(_fold(base, 3, i), bank.widths[k] - crop_size + 1)
            hq = bank.window(k, top, left, crop_size)
            if augment:
                hq = _augment(hq, _fold(base, 4, i))
            which = _uniform_int(_fold(base, 5, i), len(levels))
            if task == "denoise":
                sigma = tf.gather(tf.constant(levels, dtype), which)
                noise = tf.random.stateless_normal(tf.shape(hq), _fold(base, 6, i), dtype=dtype)
                return hq + sigma / 255.0 * noise, hq
            branches = [lambda q=q: jpeg_single(hq, q) for q in levels]
            lq = tf.switch_case(which, branches)
            return tf.ensure_shape(lq, hq.shape), hq

    indices = tf.data.Dataset.counter()
    if samples is not None:
        indices = indices.take(int(samples))
    dataset = indices.map(sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(int(batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE)
