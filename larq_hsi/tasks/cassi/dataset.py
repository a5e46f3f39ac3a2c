r"""The CASSI training pipeline of the reference, as a deterministic `tf.data` pipeline.

`cassi_training_data` yields random crops with flips and 90-degree
rotations, optional splicing of four half-size crops, the CASSI measurement
through a fixed or randomly shifted mask, optional shot noise, batched and
prefetched; everything random derives from one seed through stateless ops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from larq_hsi import io
from larq_hsi.io import scene_entries
from larq_hsi.spectra import CASSI_WAVELENGTHS
from larq_hsi.synthetic import synthetic_scenes
from larq_hsi.tasks.cassi import physics

# scene_entries, now in larq_hsi.io, stays importable from here
__all__ = ["SYNTHETIC_LAYOUT", "cassi_training_data", "load_scenes"]


#: The layout of synthetic CASSI scenes (`larq_hsi.synthetic.LAYOUTS`) unless one is given.
SYNTHETIC_LAYOUT = "objects"


def load_scenes(folder: str | None, count: int, size: int, seed: int, bands: int = 28,
                layout: str = SYNTHETIC_LAYOUT) -> list[np.ndarray]:
    """Cubes from a folder (`larq_hsi.io.scene_entries`), or `count` synthetic ones of `size`.

    Synthetic CASSI scenes default to the "objects" layout
    (`larq_hsi.synthetic.LAYOUTS`): objects in front of a dark backdrop, as
    the CAVE scenes are photographed.

    A folder of CAVE scene folders (as downloaded, 31 bands at 400-700 nm)
    works as well: cubes that know their wavelengths are resampled to the 28
    CASSI bands (`larq_hsi.spectra.CASSI_WAVELENGTHS`) when `bands` is 28;
    others must have `bands` bands.
    """
    if folder is None:
        return synthetic_scenes(count, size=size, bands=bands, seed=seed, layout=layout)
    grid = CASSI_WAVELENGTHS if bands == CASSI_WAVELENGTHS.size else None
    return [io.load_cube(p, expected_bands=bands, wavelengths=grid) for p in scene_entries(folder)]


_MASK_MODES = ("fixed", "crop", "roll")
_VARIANTS = ("simulation", "real")


def _as_scene_list(scenes, bands: int, crop_size: int) -> list[np.ndarray]:
    if isinstance(scenes, np.ndarray) and scenes.ndim == 4:
        scenes = list(scenes)
    elif isinstance(scenes, (np.ndarray, tf.Tensor)) and np.ndim(scenes) == 3:
        scenes = [scenes]
    scenes = [np.asarray(s) for s in scenes]
    if not scenes:
        raise ValueError("cassi_training_data needs at least one scene")
    for i, scene in enumerate(scenes):
        if scene.ndim != 3:
            raise ValueError(f"scene {i}: expected a cube (height, width, bands), got shape {scene.shape}")
        if scene.shape[-1] != bands:
            raise ValueError(f"scene {i}: expected {bands} bands (last axis), got {scene.shape[-1]} in shape {scene.shape}")
        if min(scene.shape[:2]) < crop_size:
            raise ValueError(f"scene {i}: {scene.shape[0]}x{scene.shape[1]} is smaller than the crop {crop_size}x{crop_size}")
        if not np.all(np.isfinite(scene)):
            raise ValueError(f"scene {i} must be finite, got {int((~np.isfinite(scene)).sum())} NaN/inf value(s)")
    return scenes


def _prepare_mask(mask, mode: str, crop_size: int, seed: int) -> np.ndarray:
    if mode not in _MASK_MODES:
        raise ValueError(f"mask_mode must be one of {_MASK_MODES}, got {mode!r}")
    if mask is None:
        mask = physics.random_mask(crop_size, seed=seed)
    elif isinstance(mask, (str, Path)):
        mask = io.load_mask(mask)
    mask = np.asarray(mask, dtype=np.float64)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), got shape {mask.shape}")
    if not np.all(np.isfinite(mask)):
        raise ValueError("mask must be finite")
    if mode in ("fixed", "roll") and mask.shape != (crop_size, crop_size):
        raise ValueError(
            f"mask_mode={mode!r} needs a {crop_size}x{crop_size} mask (the crop size), got {mask.shape}; "
            "use mask_mode='crop' to take random crops of a larger mask"
        )
    if mode == "crop" and min(mask.shape) < crop_size:
        raise ValueError(f"mask_mode='crop' needs a mask of at least {crop_size}x{crop_size}, got {mask.shape}")
    return mask


def _seed(base, *salt) -> tf.Tensor:
    """A stateless seed (shape (2,), int64) derived from `base` and integers `salt` (tensors allowed)."""
    seed = tf.cast(base, tf.int64)
    for value in salt:
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(value, tf.int64))
    return seed


def _uniform_int(seed, maxval) -> tf.Tensor:
    """An integer in [0, maxval) from a stateless seed."""
    return tf.random.stateless_uniform((), seed, minval=0, maxval=tf.cast(maxval, tf.int32), dtype=tf.int32)


def _random_crop(image: tf.Tensor, size: int, seed) -> tf.Tensor:
    """A `size` x `size` window at a uniform position (every position possible)."""
    shape = tf.shape(image)
    top = _uniform_int(_seed(seed, 0), shape[0] - size + 1)
    left = _uniform_int(_seed(seed, 1), shape[1] - size + 1)
    window = image[top : top + size, left : left + size]
    return tf.ensure_shape(window, [size, size] + image.shape.as_list()[2:])


def _augment(cube: tf.Tensor, seed) -> tf.Tensor:
    """Rotate by k*90 degrees (k uniform in 0..3), then flip width and height each with probability 1/2."""
    cube = tf.image.rot90(cube, _uniform_int(_seed(seed, 0), 4))
    cube = tf.cond(_uniform_int(_seed(seed, 1), 2) > 0, lambda: tf.reverse(cube, [1]), lambda: cube)
    return tf.cond(_uniform_int(_seed(seed, 2), 2) > 0, lambda: tf.reverse(cube, [0]), lambda: cube)


def _splice(quarters) -> tf.Tensor:
    """Four `(S/2, S/2, N)` crops -> one `(S, S, N)`: [[0, 1], [2, 3]] (the reference's `arguement_2`)."""
    top = tf.concat([quarters[0], quarters[1]], axis=1)
    bottom = tf.concat([quarters[2], quarters[3]], axis=1)
    return tf.concat([top, bottom], axis=0)


class _SceneBank:
    """Scenes of any sizes in one flat buffer; `crop` cuts a window of a uniformly chosen scene.

    Scene k occupies `flat[offset_k : offset_k + H_k W_k N]` in row-major order,
    so row r of a window at (top, left) is the contiguous run starting at
    `offset_k + ((top + r) W_k + left) N` of length `S N`: one gather, whatever
    the sizes, with no padding.
    """

    def __init__(self, scenes: list[np.ndarray], dtype: tf.DType):
        sizes = [s.size for s in scenes]
        self.bands = scenes[0].shape[-1]
        self.flat = tf.constant(np.concatenate([s.ravel() for s in scenes]), dtype)
        self.offsets = tf.constant(np.cumsum([0] + sizes[:-1]), tf.int64)
        self.heights = tf.constant([s.shape[0] for s in scenes], tf.int64)
        self.widths = tf.constant([s.shape[1] for s in scenes], tf.int64)
        self.count = len(scenes)

    def crop(self, size: int, seed) -> tf.Tensor:
        k = _uniform_int(_seed(seed, 0), self.count)
        height, width = self.heights[k], self.widths[k]
        top = tf.cast(_uniform_int(_seed(seed, 1), height - size + 1), tf.int64)
        left = tf.cast(_uniform_int(_seed(seed, 2), width - size + 1), tf.int64)
        rows = tf.range(size, dtype=tf.int64)[:, None]
        run = tf.range(size * self.bands, dtype=tf.int64)[None, :]
        index = self.offsets[k] + ((top + rows) * width + left) * self.bands + run
        return tf.reshape(tf.gather(self.flat, index), [size, size, self.bands])


def _mask_for_sample(mask: tf.Tensor, mode: str, size: int, seed) -> tf.Tensor:
    if mode == "fixed":
        return mask
    if mode == "crop":
        return _random_crop(mask, size, seed)
    shift = [_uniform_int(_seed(seed, 0), size), _uniform_int(_seed(seed, 1), size)]
    return tf.roll(mask, shift=shift, axis=[0, 1])


def cassi_training_data(
    scenes,
    mask=None,
    *,
    crop_size: int = 256,
    batch_size: int = 2,
    bands: int = 28,
    step: int = 2,
    seed: int = 0,
    augment: bool = True,
    splice: bool = False,
    mask_mode: str = "fixed",
    variant: str = "simulation",
    shot_noise: bool | None = None,
    noise_bits: int = 11,
    quantum_efficiency: float = 0.4,
    real_scale: float = physics.REAL_MEASUREMENT_SCALE,
    samples: int | None = None,
    prefetch: bool = True,
    dtype="float32",
    num_parallel_calls=tf.data.AUTOTUNE,
) -> tf.data.Dataset:
    r"""The CASSI training pipeline of the reference, as a deterministic `tf.data.Dataset`.

    Each sample: a scene chosen uniformly, a `crop_size` window at a uniform
    position, then (with `augment`) a rotation by \(k \cdot 90^\circ\) and
    random flips; with `splice`, every second sample is instead four
    half-size crops of random scenes tiled 2x2 (not augmented, as in the
    reference's `shuffle_crop`), so an even batch is half plain, half spliced.
    The mask for the sample is the fixed mask (`mask_mode="fixed"`), a random
    `crop_size` window of a larger mask (`"crop"`, the reference's real-system
    recipe with the 660x660 mask) or the mask rolled circularly by a random
    offset (`"roll"`). The measurement is \(Y = A X\) (`physics.measure`).

    Yields, batched (`drop_remainder=True`):

    - `variant="simulation"`: `((H, Phi), cube)`, each `(B, S, S, bands)`:
      \(H = \mathrm{shift\_back}(Y \cdot 2/N)\), \(\Phi\) the 3-D mask.
    - `variant="real"`: `(y, cube)` with the raw measurement
      \(y = Y \cdot 2/N \cdot 1.2\) (`physics.real_network_input` with
      `real_scale`, the reference's real training input), shape `(B, S, S + step (bands - 1))`, the real BiSRNet's input.

    `shot_noise` (default: on for "real", off for "simulation", as the paper
    trains) applies `physics.shot_noise` with `noise_bits` and
    `quantum_efficiency` to \(y\) (real) or to \(Y \cdot 2/N\) before the
    shift-back (simulation).

    Args:
        scenes: a cube `(H, W, bands)`, a list of cubes (sizes may differ) or
            an array `(count, H, W, bands)`; held in memory.
        mask: the 2-D mask (array or file for `physics.load_mask`); None draws a
            random binary `crop_size` mask from `seed`.
        samples: if given, the dataset ends after this many samples (rounded
            down to whole batches); otherwise it is endless (use `steps_per_epoch`).
        seed: everything random derives from it through stateless ops: the same
            seed gives the same batches, whatever the parallelism. So does every
            new iterator over the dataset: train with one `fit` call (its
            `epochs` and `steps_per_epoch` keep one iterator), or give each
            further call another seed, or the same batches come round again.
    """
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {_VARIANTS}, got {variant!r}")
    if crop_size < 2 or batch_size < 1:
        raise ValueError(f"crop_size must be >= 2 and batch_size >= 1, got {crop_size}, {batch_size}")
    if splice and crop_size % 2:
        raise ValueError(f"splice needs an even crop_size, got {crop_size}")
    step = int(step)
    dtype = tf.as_dtype(dtype)
    bank = _SceneBank(_as_scene_list(scenes, bands, crop_size), dtype)
    mask_t = tf.constant(_prepare_mask(mask, mask_mode, crop_size, seed), dtype)
    noisy = (variant == "real") if shot_noise is None else bool(shot_noise)
    base = tf.constant([seed, 0x5EED], tf.int64)

    def plain(i):
        cube = bank.crop(crop_size, _seed(base, 1, i))
        return _augment(cube, _seed(base, 2, i)) if augment else cube

    def spliced(i):  # four half-size crops of random scenes, not augmented (as the reference)
        return _splice([bank.crop(crop_size // 2, _seed(base, 3, i, q)) for q in range(4)])

    def cube_for(i):
        if not splice:
            return plain(i)
        return tf.cond(i % 2 == 1, lambda: spliced(i), lambda: plain(i))  # every second sample

    @tf.autograph.experimental.do_not_convert  # plain TF code: tf.cond where needed, Python ifs on constants
    def sample(i):
        cube = cube_for(i)
        sample_mask = _mask_for_sample(mask_t, mask_mode, crop_size, _seed(base, 4, i))
        y = physics.measure(cube, sample_mask, step, bands)
        if variant == "real":
            y = physics.real_network_input(y, bands, real_scale)  # Y / N * 2 * 1.2
        else:
            y = physics.scale_2_over_n(y, bands)  # the reference's Y / N * 2, same rounding
        if noisy:
            y = physics.shot_noise(y, _seed(base, 5, i), noise_bits, quantum_efficiency)
        if variant == "real":
            return y, cube
        phi = physics.mask_3d(sample_mask, bands)
        return (physics.shift_back(y, bands, step), phi), cube

    indices = tf.data.Dataset.counter()
    if samples is not None:
        indices = indices.take(int(samples))
    data = indices.map(sample, num_parallel_calls=num_parallel_calls, deterministic=True)
    data = data.batch(batch_size, drop_remainder=True)
    if prefetch:
        data = data.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    return data.with_options(options)
