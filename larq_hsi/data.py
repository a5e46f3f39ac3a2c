r"""Hyperspectral data: file readers, synthetic scenes, a `tf.data` CASSI training pipeline, previews.

Readers (`load_cube`, `read_array`, `read_png`) cover the layouts users have:
CAVE/KAIST-style MATLAB cubes (v5 through scipy, v7.3/HDF5 through h5py),
`.npy`/`.npz`, HDF5 files and folders of per-band PNGs (the CAVE
distribution). Every failure raises an error naming the file.

`synthetic_scene` draws a seeded, *synthetic* piecewise-smooth scene, a
stand-in so that demos and tests run without a download; it is not a
benchmark and says nothing about accuracy on real data.

`training_dataset` is the reference training recipe as a deterministic
`tf.data` pipeline: random crops, flips and 90-degree rotations, optional
splicing of four half-size crops, CASSI simulation with a fixed or randomly
shifted mask, optional shot noise, batching and prefetching.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from larq_hsi import cassi

__all__ = [
    "CUBE_KEYS",
    "INTEGER_SCALE",
    "MEASUREMENT_KEYS",
    "false_colour",
    "load_cube",
    "read_array",
    "read_measurement",
    "read_png",
    "save_preview",
    "synthetic_scene",
    "synthetic_scenes",
    "training_dataset",
    "wavelengths_for",
]

#: Variable names tried, in order, when a cube file is read without `key`:
#: the simulation benchmark's CAVE (`img_expand`) and KAIST (`img`) files, then
#: the real-system training sets (`data_slice`, `HSI`) and a generic `cube`.
CUBE_KEYS = ("img_expand", "img", "data_slice", "HSI", "cube")

#: Integer-valued cubes are divided by this, as the benchmark loaders do (`img / 65536.`).
INTEGER_SCALE = 65536.0

_ARRAY_SUFFIXES = (".mat", ".npy", ".npz", ".h5", ".hdf5")


# --------------------------------------------------------------------------- readers


def _existing(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return path


def _pick_key(path: Path, available: Sequence[str], key: str | None, candidates: Sequence[str]) -> str:
    """The variable to read: `key` if given, else the first of `candidates`, else the only one."""
    available = list(available)
    if key is not None:
        if key not in available:
            raise KeyError(f"{path}: no variable {key!r}; the file holds {available}")
        return key
    for candidate in candidates:
        if candidate in available:
            return candidate
    if len(available) == 1:
        return available[0]
    raise KeyError(
        f"{path}: none of the keys {list(candidates)} found and the file holds {len(available)} "
        f"variables {available}; pass key=..."
    )


def _read_hdf5(path: Path, key: str | None, candidates: Sequence[str], matlab: bool) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        names = [name for name, item in f.items() if isinstance(item, h5py.Dataset) and not name.startswith("#")]
        name = _pick_key(path, names, key, candidates)
        array = f[name][()]
    # MATLAB writes column-major arrays; h5py sees them with the axes reversed.
    return np.ascontiguousarray(array.T) if matlab else array


def _read_mat(path: Path, key: str | None, candidates: Sequence[str]) -> np.ndarray:
    import h5py
    import scipy.io

    if h5py.is_hdf5(path):  # MATLAB v7.3
        return _read_hdf5(path, key, candidates, matlab=True)
    try:
        contents = scipy.io.loadmat(path)
    except Exception as error:  # scipy raises ValueError, TypeError, OSError... for bad files
        raise ValueError(f"cannot read {path} as a MATLAB file: {error}") from error
    names = [name for name in contents if not name.startswith("__")]
    return contents[_pick_key(path, names, key, candidates)]


#: Variable names tried, in order, when a measurement file is read: the real
#: measurements' `meas_real`, then generic names.
MEASUREMENT_KEYS = ("meas_real", "meas", "measurement", "y")


def read_measurement(path, key: str | None = None) -> np.ndarray:
    """A 2-D CASSI measurement `(height, width)` as float32 from `.mat`, `.npy`, `.npz` or HDF5.

    Without `key`, the first of `MEASUREMENT_KEYS` present is read. Raises
    `ValueError` naming the file when the array is not 2-D (after dropping
    axes of length 1) or holds NaN or infinity.
    """
    from larq_hsi.checks import check_finite

    y = np.squeeze(np.asarray(read_array(path, key=key, candidates=MEASUREMENT_KEYS), np.float32))
    if y.ndim != 2:
        raise ValueError(f"{path}: a measurement must be 2-D (height, width), got shape {y.shape}")
    check_finite(y, f"measurement {path}")
    return y


def read_array(path, key: str | None = None, candidates: Sequence[str] = ()) -> np.ndarray:
    """The raw array stored in `.mat` (v5 or v7.3), `.npy`, `.npz` or `.h5`/`.hdf5`.

    For files holding several variables, `key` names one; without it the first
    of `candidates` present is read, or the only variable. Errors name the file:
    `FileNotFoundError`, `KeyError` (lists the variables found), `ValueError`
    (unreadable or unknown format).
    """
    path = _existing(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".mat":
            return _read_mat(path, key, candidates)
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                return f[_pick_key(path, f.files, key, candidates)]
        if suffix in (".h5", ".hdf5"):
            return _read_hdf5(path, key, candidates, matlab=False)
    except (KeyError, FileNotFoundError):
        raise  # raised here with the path
    except ValueError as error:
        if str(path) in str(error):
            raise
        raise ValueError(f"cannot read {path}: {error}") from error
    except Exception as error:  # zipfile, pickle, h5py and OS errors
        raise ValueError(f"cannot read {path}: {type(error).__name__}: {error}") from error
    raise ValueError(f"{path}: unknown format {suffix!r}; expected one of {list(_ARRAY_SUFFIXES)} or .png")


def read_png(path) -> np.ndarray:
    """One PNG as a float32 2-D image in [0, 1] (divided by 255 or 65535; RGB averaged, alpha dropped)."""
    from PIL import Image, UnidentifiedImageError

    path = _existing(path)
    try:
        with Image.open(path) as image:
            if image.mode == "P":
                image = image.convert("RGBA")
            array = np.array(image)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot read {path} as an image: {error}") from error
    if array.dtype == bool:
        return array.astype(np.float32)
    if array.ndim == 3:  # RGB(A) grayscale exports
        array = array[..., :3].astype(np.float64).mean(axis=-1).astype(array.dtype)
    if np.issubdtype(array.dtype, np.integer):
        # PIL reads 16-bit PNGs as uint16 ("I;16") or int32 ("I").
        full = 255.0 if array.dtype == np.uint8 else 65535.0
        return (array / full).astype(np.float32)
    return array.astype(np.float32)


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _read_png_folder(folder: Path) -> np.ndarray:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"), key=_natural_key)
    if not files:
        raise ValueError(f"{folder}: a cube folder must hold one PNG per band, found no .png file")
    bands = []
    for file in files:
        band = read_png(file)
        if bands and band.shape != bands[0].shape:
            raise ValueError(f"{file}: band size {band.shape} differs from {files[0].name}'s {bands[0].shape}")
        bands.append(band)
    return np.stack(bands, axis=-1)


def _integer_valued(array: np.ndarray) -> bool:
    if np.issubdtype(array.dtype, np.integer):
        return True
    return bool(array.size) and float(np.nanmax(array)) > 1.0 and bool(np.all(np.mod(array, 1) == 0))


def load_cube(path, key: str | None = None, expected_bands: int | None = None, scale="auto") -> np.ndarray:
    """Read a hyperspectral cube as float32 `(H, W, bands)`.

    `path` is a `.mat` (v5 or v7.3; `key` or the first of `CUBE_KEYS`), `.npy`,
    `.npz`, `.h5`/`.hdf5` file, or a folder of per-band PNGs (CAVE layout:
    one PNG per band in name order, digits compared as numbers).

    `scale="auto"` divides integer-valued cubes (an integer dtype, or floats
    that are all whole numbers above 1) by 65536, as the benchmark loaders do;
    PNG bands are divided by their type's maximum. A number divides by it,
    `None` keeps the values.

    Raises `FileNotFoundError`, `KeyError` or `ValueError` naming the file for a
    missing file, a missing variable, an unreadable file, a non-3-D array,
    a band count other than `expected_bands` or NaN/inf values.
    """
    path = _existing(path)
    if path.is_dir():
        cube = _read_png_folder(path)
        if scale not in ("auto", None):
            cube = cube / float(scale)
    else:
        cube = np.asarray(read_array(path, key=key, candidates=CUBE_KEYS))
        if cube.dtype == object or not (np.issubdtype(cube.dtype, np.number) or cube.dtype == bool):
            raise ValueError(f"{path}: expected a numeric array, got dtype {cube.dtype}")
        if scale == "auto":
            if _integer_valued(cube):
                cube = cube / INTEGER_SCALE
        elif scale is not None:
            cube = cube / float(scale)
    if cube.ndim != 3:
        raise ValueError(f"{path}: expected a cube (height, width, bands), got an array of shape {cube.shape}")
    if expected_bands is not None and cube.shape[-1] != expected_bands:
        raise ValueError(
            f"{path}: expected {expected_bands} bands (last axis), got {cube.shape[-1]} in shape {cube.shape}"
        )
    cube = np.asarray(cube, dtype=np.float32)
    if not np.all(np.isfinite(cube)):
        raise ValueError(f"{path}: the cube holds {int((~np.isfinite(cube)).sum())} NaN/inf value(s)")
    return cube


# --------------------------------------------------------------------------- synthetic scenes


def wavelengths_for(bands: int) -> np.ndarray:
    """The CASSI wavelengths for 28 bands, else `bands` values evenly spaced over 450-650 nm."""
    if bands == len(cassi.CASSI_WAVELENGTHS):
        return cassi.CASSI_WAVELENGTHS.copy()
    return np.linspace(450.0, 650.0, bands)


def _smooth_field(rng, height: int, width: int, cells: float) -> np.ndarray:
    r"""A smooth random field, zero mean and unit standard deviation.

    \(f = R_y\, G\, R_x^\top\): i.i.d. normal values \(G\) on a coarse grid
    of about `cells` cells per side, interpolated by normalised Gaussian
    kernels \(R\) (infinitely differentiable).
    """
    n_y, n_x = int(np.ceil(cells)) + 3, int(np.ceil(cells * width / height)) + 3
    grid = rng.standard_normal((n_y, n_x))

    def kernel(size: int, nodes: int) -> np.ndarray:
        centres = np.linspace(-1.0, nodes - 2.0, nodes)  # one node outside each border
        positions = np.linspace(0.0, nodes - 3.0, size)
        k = np.exp(-0.5 * ((positions[:, None] - centres[None, :]) / 0.7) ** 2)
        return k / k.sum(axis=1, keepdims=True)

    field = kernel(height, n_y) @ grid @ kernel(width, n_x).T
    return (field - field.mean()) / (field.std() + 1e-12)


def _random_spectrum(rng, wavelengths: np.ndarray) -> np.ndarray:
    """A smooth reflectance-like spectrum in [0.03, 0.97]: a baseline, a slope, a step and Gaussian bumps."""
    t = (wavelengths - 450.0) / 200.0
    spectrum = rng.uniform(0.05, 0.5) + rng.uniform(-0.3, 0.3) * t
    if rng.random() < 0.5:  # absorption edge, like many pigments
        edge = rng.uniform(0.1, 0.9)
        spectrum += rng.uniform(-0.5, 0.5) / (1.0 + np.exp(-(t - edge) / rng.uniform(0.03, 0.12)))
    for _ in range(rng.integers(1, 4)):
        centre, width = rng.uniform(-0.1, 1.1), rng.uniform(0.08, 0.4)
        spectrum += rng.uniform(-0.4, 0.6) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    low, high = spectrum.min(), spectrum.max()
    target_low = rng.uniform(0.03, 0.4)
    target_high = rng.uniform(target_low + 0.1, 0.97)
    return target_low + (spectrum - low) * (target_high - target_low) / max(high - low, 1e-6)


def _texture(rng, yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    """A zero-mean texture in [-1, 1]: stripes, a checkerboard, or fine random detail."""
    kind = rng.integers(3)
    if kind == 0:
        angle, period = rng.uniform(0, np.pi), rng.uniform(4.0, 16.0)
        return np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 2 * np.pi))
    if kind == 1:
        period = rng.integers(4, 16)
        return np.where(((yy // period) + (xx // period)) % 2 == 0, 1.0, -1.0)
    return np.clip(_smooth_field(rng, yy.shape[0], yy.shape[1], size / 6.0) / 2.5, -1.0, 1.0)


def synthetic_scene(size=256, bands: int = 28, seed: int = 0, wavelengths=None) -> np.ndarray:
    r"""A seeded *synthetic* hyperspectral scene `(H, W, bands)`, float32 in [0, 1].

    A stand-in for demos and tests, not a benchmark. The scene is

    \[ X(p, \lambda) = \ell(p)\, \tau(p)\,
       \big[(1 - t(p))\, S_{r(p)}(\lambda) + t(p)\, S'_{r(p)}(\lambda)\big], \]

    with \(r(p)\) a region label (a Voronoi partition of warped coordinates,
    overlaid by a few ellipses and rectangles: sharp edges), \(S_r, S'_r\)
    two smooth random spectra per region over the wavelengths (450-650 nm;
    the 28 CASSI bands by default), \(t\) a smooth field blending them
    (piecewise-smooth spectra), \(\tau = 1 + a_r\, T_r(p)\) a per-region
    texture (stripes, checkerboard or fine detail), and \(\ell\) smooth
    shading with a directional gradient. Clipped to [0, 1].
    """
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    height, width = int(height), int(width)
    if height < 2 or width < 2 or bands < 1:
        raise ValueError(f"synthetic_scene needs a size of at least 2x2 and bands >= 1, got {size}, {bands}")
    lam = wavelengths_for(bands) if wavelengths is None else np.asarray(wavelengths, dtype=np.float64)
    if lam.shape != (bands,):
        raise ValueError(f"expected {bands} wavelengths, got shape {lam.shape}")
    rng = np.random.default_rng(seed)
    scale = float(max(height, width))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)

    # Regions: Voronoi cells of warped coordinates, then a few geometric objects on top.
    n_cells = int(rng.integers(5, 10))
    warp = 0.06 * scale
    wy = yy + warp * _smooth_field(rng, height, width, 3)
    wx = xx + warp * _smooth_field(rng, height, width, 3)
    seeds = rng.uniform(0, 1, size=(n_cells, 2)) * [height, width]
    dist = (wy[..., None] - seeds[:, 0]) ** 2 + (wx[..., None] - seeds[:, 1]) ** 2
    labels = np.argmin(dist, axis=-1)
    n_objects = int(rng.integers(3, 7))
    for k in range(n_objects):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(0.04, 0.2) * scale, rng.uniform(0.04, 0.2) * scale
        if rng.random() < 0.6:
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        else:
            inside = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        labels[inside] = n_cells + k
    n_regions = n_cells + n_objects

    spectra_a = np.stack([_random_spectrum(rng, lam) for _ in range(n_regions)])
    spectra_b = np.clip(spectra_a + 0.25 * np.stack([_random_spectrum(rng, lam) - 0.5 for _ in range(n_regions)]), 0, 1)
    blend = 1.0 / (1.0 + np.exp(-1.5 * _smooth_field(rng, height, width, 2)))
    cube = (1.0 - blend)[..., None] * spectra_a[labels] + blend[..., None] * spectra_b[labels]

    texture = np.ones((height, width))
    for region in rng.choice(n_regions, size=max(1, n_regions // 2), replace=False):
        inside = labels == region
        texture[inside] += rng.uniform(0.1, 0.35) * _texture(rng, yy, xx, scale)[inside]
    angle = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(angle) * (xx / scale - 0.5) + np.sin(angle) * (yy / scale - 0.5))
    shading = np.clip(0.8 + 0.25 * gradient + 0.1 * _smooth_field(rng, height, width, 2), 0.3, 1.2)
    cube *= (texture * shading)[..., None]
    return np.clip(cube, 0.0, 1.0).astype(np.float32)


def synthetic_scenes(count: int, size=256, bands: int = 28, seed: int = 0) -> list[np.ndarray]:
    """`count` synthetic scenes, scene i drawn with seed `(seed, i)`."""
    return [synthetic_scene(size, bands, seed=np.random.SeedSequence([seed, i])) for i in range(count)]


# --------------------------------------------------------------------------- tf.data pipeline


_MASK_MODES = ("fixed", "crop", "roll")
_VARIANTS = ("simulation", "real")


def _as_scene_list(scenes, bands: int, crop_size: int) -> list[np.ndarray]:
    if isinstance(scenes, np.ndarray) and scenes.ndim == 4:
        scenes = list(scenes)
    elif isinstance(scenes, (np.ndarray, tf.Tensor)) and np.ndim(scenes) == 3:
        scenes = [scenes]
    scenes = [np.asarray(s) for s in scenes]
    if not scenes:
        raise ValueError("training_dataset needs at least one scene")
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
        mask = cassi.random_mask(crop_size, seed=seed)
    elif isinstance(mask, (str, Path)):
        mask = cassi.load_mask(mask)
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


def training_dataset(
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
    real_scale: float = cassi.REAL_MEASUREMENT_SCALE,
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
    offset (`"roll"`). The measurement is \(Y = A X\) (`cassi.measure`).

    Yields, batched (`drop_remainder=True`):

    - `variant="simulation"`: `((H, Phi), cube)`, each `(B, S, S, bands)`:
      \(H = \mathrm{shift\_back}(Y \cdot 2/N)\), \(\Phi\) the 3-D mask.
    - `variant="real"`: `(y, cube)` with the raw measurement
      \(y = Y \cdot 2/N \cdot 1.2\) (`real_scale`, the reference's real
      training input), shape `(B, S, S + step (bands - 1))`, the real BiSRNet's input.

    `shot_noise` (default: on for "real", off for "simulation", as the paper
    trains) applies `cassi.shot_noise` with `noise_bits` and
    `quantum_efficiency` to \(y\) (real) or to \(Y \cdot 2/N\) before the
    shift-back (simulation).

    Args:
        scenes: a cube `(H, W, bands)`, a list of cubes (sizes may differ) or
            an array `(count, H, W, bands)`; held in memory.
        mask: the 2-D mask (array or file for `cassi.load_mask`); None draws a
            random binary `crop_size` mask from `seed`.
        samples: if given, the dataset ends after this many samples (rounded
            down to whole batches); otherwise it is endless (use `steps_per_epoch`).
        seed: everything random derives from it through stateless ops: the same
            seed gives the same batches, whatever the parallelism.
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
        y = cassi.measure(cube, sample_mask, step, bands)
        y = cassi.scale_2_over_n(y, bands)  # the reference's Y / N * 2, same rounding
        if variant == "real":
            y = y * tf.cast(real_scale, dtype)
        if noisy:
            y = cassi.shot_noise(y, _seed(base, 5, i), noise_bits, quantum_efficiency)
        if variant == "real":
            return y, cube
        phi = cassi.mask_3d(sample_mask, bands)
        return (cassi.shift_back(y, bands, step), phi), cube

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


# --------------------------------------------------------------------------- preview


def _rgb_weights(wavelengths: np.ndarray) -> np.ndarray:
    """(3, N) weights: Gaussian responses at 610, 545, 465 nm (sigma 35 nm), rows summing to 1."""
    centres = np.array([610.0, 545.0, 465.0])
    weights = np.exp(-0.5 * ((wavelengths[None, :] - centres[:, None]) / 35.0) ** 2)
    weights += 1e-12  # every channel sees something even for a narrow range
    return weights / weights.sum(axis=1, keepdims=True)


def false_colour(cube, wavelengths=None, percentile: float = 99.5, gamma: float = 1 / 2.2) -> np.ndarray:
    r"""An RGB-ish composite `(H, W, 3)` in [0, 1] of a cube `(H, W, N)`.

    \(C_c = \sum_n w_{cn} X_n\) with Gaussian band weights around 610 (R),
    545 (G) and 465 nm (B), divided by the `percentile` of all channels,
    clipped, then raised to `gamma` for display.
    """
    cube = np.asarray(cube, dtype=np.float64)
    if cube.ndim != 3:
        raise ValueError(f"a preview needs a cube (height, width, bands), got shape {cube.shape}")
    lam = wavelengths_for(cube.shape[-1]) if wavelengths is None else np.asarray(wavelengths, dtype=np.float64)
    if lam.shape != (cube.shape[-1],):
        raise ValueError(f"expected {cube.shape[-1]} wavelengths, got shape {lam.shape}")
    if not np.all(np.isfinite(cube)):
        raise ValueError("cannot preview a cube holding NaN/inf")
    rgb = cube @ _rgb_weights(lam).T
    top = np.percentile(rgb, percentile)
    rgb = np.clip(rgb / top, 0.0, 1.0) if top > 0 else np.zeros_like(rgb)
    return rgb**gamma


def save_preview(cube, path, wavelengths=None) -> np.ndarray:
    """Write `false_colour(cube)` as an 8-bit RGB PNG at `path` (no GUI backend); returns the RGB array."""
    from matplotlib import image as mpl_image  # writes through Pillow, never a GUI backend

    rgb = false_colour(cube, wavelengths)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mpl_image.imsave(path, (rgb * 255 + 0.5).astype(np.uint8))
    return rgb
