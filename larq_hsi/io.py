r"""Every reader of the package: cubes, measurements, masks, images and raw arrays.

| reader | reads |
| --- | --- |
| `read_array` | the raw array of a `.mat` (v5 through scipy, v7.3/HDF5 through h5py), `.npy`, `.npz` or HDF5 file |
| `load_cube` | a hyperspectral cube `(H, W, bands)`: any of those files, or a folder of per-band PNGs (CAVE scenes as downloaded), resampled to a band grid on request |
| `scene_entries` | the cubes of a data folder (files and PNG folders) in name order, for `load_cube` |
| `read_measurement` | a 2-D CASSI measurement (`meas_real` of the real-system files) |
| `load_mask` | a 2-D coded-aperture mask (`.mat` key `mask`, `.npy`, `.png`) |
| `read_png` | one PNG band as a 2-D float image |
| `read_image`, `read_image_folder` | colour or grayscale photographs (PNG/JPEG) for the restoration tasks |

Every failure raises an error naming the file: `FileNotFoundError`,
`KeyError` (listing the variables found) or `ValueError` (unreadable file,
wrong shape, NaN).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from larq_hsi.checks import check_finite
from larq_hsi.spectra import check_wavelengths, resample_bands

__all__ = [
    "CUBE_KEYS",
    "GRAY_WEIGHTS",
    "as_channels",
    "check_channels",
    "cube_wavelengths",
    "image_files",
    "IMAGE_EXTENSIONS",
    "INTEGER_SCALE",
    "MEASUREMENT_KEYS",
    "load_cube",
    "load_mask",
    "read_array",
    "read_image",
    "read_image_folder",
    "read_measurement",
    "read_png",
    "scene_entries",
    "to_grayscale",
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


def _png_levels(path) -> tuple[np.ndarray, float]:
    """One PNG's 2-D integer levels and its full scale (255 or 65535); RGB averaged, alpha dropped.

    (An image of booleans comes back as 0/1 with full scale 1.)
    """
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
        return array.astype(np.float32), 1.0
    if array.ndim == 3:  # RGB(A) grayscale exports, e.g. CAVE's watercolors (8-bit RGBA, R = G = B)
        array = array[..., :3].astype(np.float64).mean(axis=-1).astype(array.dtype)
    if np.issubdtype(array.dtype, np.integer):
        # PIL reads 16-bit PNGs as uint16 ("I;16") or int32 ("I").
        return array, 255.0 if array.dtype == np.uint8 else 65535.0
    return array, 1.0


def read_png(path) -> np.ndarray:
    """One PNG as a float32 2-D image in [0, 1] (divided by 255 or 65535; RGB averaged, alpha dropped)."""
    levels, full = _png_levels(path)
    return (levels / full).astype(np.float32)


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


#: A band file of the CAVE database: `<scene>_ms_<n>.png`, n = 01..31 at 400 + 10 (n - 1) nm.
_CAVE_BAND = re.compile(r"^.+_ms_(\d+)\.png$", re.IGNORECASE)


def _band_folder(folder: Path) -> Path:
    """The folder holding the band PNGs: `folder` itself, or its only sub-folder (CAVE's download nests one level)."""
    if any(p.suffix.lower() == ".png" for p in folder.iterdir()):
        return folder
    inner = [p for p in folder.iterdir() if p.is_dir()]
    if len(inner) == 1 and any(p.suffix.lower() == ".png" for p in inner[0].iterdir()):
        return inner[0]
    raise ValueError(f"{folder}: a cube folder must hold one PNG per band (directly, or in its one sub-folder "
                     "as the CAVE download does), found no .png file")


def _read_png_folder(folder: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The cube of a folder of per-band PNGs and its wavelengths (CAVE's naming) or `None`.

    Other files beside the bands (CAVE's `_RGB.bmp`, `Thumbs.db`) are ignored.
    """
    folder = _band_folder(folder)
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"), key=_natural_key)
    numbers = [_CAVE_BAND.match(p.name) for p in files]
    wavelengths = None
    if all(numbers):
        numbers = [int(m.group(1)) for m in numbers]
        stem = files[0].name[: files[0].name.lower().rindex("_ms_") + 4]
        digits = len(_CAVE_BAND.match(files[0].name).group(1))
        for expected in range(1, max(numbers) + 1):
            if expected not in numbers:
                raise ValueError(f"{folder / f'{stem}{expected:0{digits}d}.png'}: band {expected} of {max(numbers)} "
                                 "is missing (CAVE bands are numbered from 01 without gaps)")
        wavelengths = 400.0 + 10.0 * (np.asarray(numbers, np.float64) - 1)
    bands = []
    depth = None
    for file in files:
        levels, full = _png_levels(file)
        if bands and levels.shape != bands[0].shape:
            raise ValueError(f"{file}: band size {levels.shape} differs from {files[0].name}'s {bands[0].shape}")
        if depth is not None and full != depth:
            raise ValueError(f"{file}: a {_bits(full)} band among {_bits(depth)} ones (from {files[0].name}); "
                             "one cube's bands must share one bit depth")
        depth = full
        bands.append((levels / full).astype(np.float32))
    return np.stack(bands, axis=-1), wavelengths


def _bits(full: float) -> str:
    return {255.0: "8-bit", 65535.0: "16-bit", 1.0: "1-bit"}.get(full, f"scale {full:g}")


def cube_wavelengths(path) -> np.ndarray | None:
    """The wavelengths (nm) a cube at `path` knows of itself: a CAVE scene folder's, else `None`."""
    path = _existing(path)
    if not path.is_dir():
        return None
    folder = _band_folder(path)
    numbers = [_CAVE_BAND.match(p.name) for p in folder.iterdir() if p.suffix.lower() == ".png"]
    if not numbers or not all(numbers):
        return None
    return 400.0 + 10.0 * (np.sort([int(m.group(1)) for m in numbers]).astype(np.float64) - 1)


def _integer_valued(array: np.ndarray) -> bool:
    if np.issubdtype(array.dtype, np.integer):
        return True
    return bool(array.size) and float(np.nanmax(array)) > 1.0 and bool(np.all(np.mod(array, 1) == 0))


def load_cube(path, key: str | None = None, expected_bands: int | None = None, scale="auto",
              wavelengths=None) -> np.ndarray:
    """Read a hyperspectral cube as float32 `(H, W, bands)`.

    `path` is a `.mat` (v5 or v7.3; `key` or the first of `CUBE_KEYS`), `.npy`,
    `.npz`, `.h5`/`.hdf5` file, or a folder of per-band PNGs: one PNG per band
    in name order (digits compared as numbers), directly in the folder or in
    its one sub-folder, as the CAVE database is downloaded
    (`<scene>_ms/<scene>_ms/<scene>_ms_01.png` ... `_31.png`, 16-bit grey or
    8-bit RGBA with R = G = B; `.bmp` and `Thumbs.db` beside them ignored). A
    CAVE folder knows its wavelengths, 400 + 10 (n - 1) nm (`cube_wavelengths`).

    `wavelengths`: the band grid wanted (e.g. `larq_hsi.spectra.CASSI_WAVELENGTHS`).
    A cube whose wavelengths are known is resampled to it by per-pixel linear
    interpolation (`larq_hsi.spectra.resample_bands`); one whose wavelengths
    are unknown must already have that many bands.

    `scale="auto"` divides integer-valued cubes (an integer dtype, or floats
    that are all whole numbers above 1) by 65536, as the benchmark loaders do;
    PNG bands are divided by their type's maximum. A number divides by it,
    `None` keeps the values.

    Raises `FileNotFoundError`, `KeyError` or `ValueError` naming the file for a
    missing file, a missing variable, an unreadable file, a non-3-D array, a
    missing band file, bands of different sizes or bit depths, a band count
    other than `expected_bands` (or than `wavelengths` with unknown
    wavelengths) or NaN/inf values.
    """
    path = _existing(path)
    known = None
    if path.is_dir():
        cube, known = _read_png_folder(path)
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
    if wavelengths is not None:
        target = check_wavelengths(wavelengths)
        if known is not None and not (known.shape == target.shape and np.array_equal(known, target)):
            try:
                cube = resample_bands(cube, known, target)
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
        elif known is None and cube.shape[-1] != target.size:
            raise ValueError(
                f"{path}: {cube.shape[-1]} bands of unknown wavelengths; expected {target.size} bands "
                f"({target[0]:g}-{target[-1]:g} nm), or a cube that knows its wavelengths (a CAVE folder)"
            )
    if expected_bands is not None and cube.shape[-1] != expected_bands:
        raise ValueError(
            f"{path}: expected {expected_bands} bands (last axis), got {cube.shape[-1]} in shape {cube.shape}"
        )
    cube = np.asarray(cube, dtype=np.float32)
    if not np.all(np.isfinite(cube)):
        raise ValueError(f"{path}: the cube holds {int((~np.isfinite(cube)).sum())} NaN/inf value(s)")
    return cube


def scene_entries(folder) -> list[Path]:
    """The cubes of a data folder, in name order: every `.mat`/`.npy`/`.npz`/`.h5`/`.hdf5` file and every
    sub-folder (a folder of per-band PNGs, e.g. a CAVE scene as downloaded), each readable by `load_cube`.

    Raises `ValueError` when `folder` is not a folder or holds no cube.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"data folder not found: {root}")
    entries = sorted(p for p in root.iterdir() if p.is_dir() or p.suffix.lower() in _ARRAY_SUFFIXES)
    if not entries:
        raise ValueError(f"no cubes (.mat/.npy/.npz/.h5 files or PNG folders) found in {root}")
    return entries


def load_mask(path, key: str = "mask") -> np.ndarray:
    """Read a 2-D coded-aperture mask as float32 `(H, W)`.

    Formats: MATLAB `.mat` (v5 through `scipy.io.loadmat`, v7.3/HDF5 through
    h5py, transposed back to the (height, width) MATLAB shows) under `key`; `.npy`
    (values kept as stored);
    `.png` (grayscale, or the mean of the RGB channels), scaled by the
    integer type's maximum (255 or 65535) to [0, 1].
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        mask = read_png(path)
    else:
        mask = read_array(path, key=key if suffix in (".mat", ".npz", ".h5", ".hdf5") else None)
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"{path}: a mask must be 2-D (height, width), got shape {mask.shape}")
    if mask.dtype == bool:
        mask = mask.astype(np.float32)
    check_finite(mask.astype(np.float64) if not np.issubdtype(mask.dtype, np.floating) else mask, f"mask {path}")
    return mask.astype(np.float32)


# --------------------------------------------------------------------------- images

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
#: ITU-R BT.601 luma weights, as `tf.image.rgb_to_grayscale`.
GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def check_channels(channels, allow_none: bool = False):
    """`ValueError` unless `channels` is 1 (grayscale) or 3 (RGB) (or `None` where allowed: as stored)."""
    if channels not in (1, 3) and not (allow_none and channels is None):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB){' or None' if allow_none else ''}, "
                         f"got {channels!r}")


def to_grayscale(image):
    r"""Luma \(0.2989 R + 0.5870 G + 0.1140 B\) (ITU-R BT.601, `tf.image.rgb_to_grayscale`), keeping a channel axis."""
    image = np.asarray(image)
    if image.shape[-1] != 3:
        raise ValueError(f"to_grayscale: expected 3 channels (RGB), got shape {image.shape}")
    weights = np.asarray(GRAY_WEIGHTS, dtype=np.float64)
    return (image @ weights)[..., None].astype(image.dtype if image.dtype.kind == "f" else np.float32)


def as_channels(image: np.ndarray, channels: int, what: str) -> np.ndarray:
    """Drops alpha and converts between grayscale and RGB to get `channels` channels."""
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"{what}: expected an image (H, W) or (H, W, C), got shape {image.shape}")
    if image.shape[-1] in (2, 4):  # grey + alpha, RGB + alpha
        image = image[..., :-1]
    if image.shape[-1] not in (1, 3):
        raise ValueError(f"{what}: expected 1 or 3 colour channels, got {image.shape[-1]}")
    if channels is None or channels == image.shape[-1]:
        return image
    if channels == 1:
        return to_grayscale(image)
    if channels == 3:
        return np.repeat(image, 3, axis=-1)
    raise ValueError(f"{what}: channels must be 1 or 3, got {channels!r}")


def read_image(path, channels: int | None = 3) -> np.ndarray:
    """One PNG or JPEG file as a float32 array `(H, W, channels)` in `[0, 1]`.

    8- and 16-bit files are scaled by their maximum level; alpha is dropped;
    RGB files become grayscale with `to_grayscale` for `channels=1` and
    grayscale files are repeated for `channels=3`; `channels=None` keeps the
    file's own (1 or 3). Raises `FileNotFoundError`
    for a missing file and `ValueError` naming the file for one that cannot be
    decoded.
    """
    check_channels(channels, allow_none=True)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_image: no such file: {path}")
    try:
        data = tf.io.read_file(str(path))
        image = tf.io.decode_image(data, channels=0, dtype=tf.float32, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(f"read_image: cannot decode {path} as PNG/JPEG/BMP/GIF ({error.message})") from None
    return as_channels(image.numpy(), channels, f"read_image({path})").astype(np.float32)


def image_files(folder, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """The PNG/JPEG files of `folder` (not recursive), in natural name order (digits as numbers).

    Raises `FileNotFoundError` if the folder does not exist and `ValueError`
    if it holds no file with one of `extensions` (case-insensitive).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"read_image_folder: no such folder: {folder}")
    wanted = tuple(e.lower() for e in extensions)
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in wanted), key=_natural_key)
    if not files:
        raise ValueError(f"read_image_folder: no {'/'.join(wanted)} files in {folder}")
    return files


def read_image_folder(folder, channels: int | None = 3, extensions: Sequence[str] = IMAGE_EXTENSIONS
                      ) -> list[np.ndarray]:
    """Every image of `image_files(folder, extensions)` via `read_image`.

    Raises as `image_files` does, and `ValueError` naming a file that cannot be decoded.
    """
    check_channels(channels, allow_none=True)
    return [read_image(p, channels) for p in image_files(folder, extensions)]
