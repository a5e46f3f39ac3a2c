"""NumPy twins of the CASSI physics (`larq_hsi.tasks.cassi.physics`), for the tests.

Each twin repeats its TensorFlow function's arithmetic in the same order
(bands accumulated 0..N-1, `Y / N * 2`), so the tests can compare the two
bit for bit and against the reference fixture. Only the tests use them.
"""

import numpy as np

from larq_hsi.checks import check_finite
from larq_hsi.tasks.cassi.physics import _check_noise_args, _check_step


def _check_finite(value, what):
    check_finite(np.asarray(value), what)


def mask_3d_np(mask, bands: int = 28) -> np.ndarray:
    """numpy twin of `mask_3d`."""
    mask = np.asarray(mask)
    return np.repeat(mask[..., None], bands, axis=-1)


def shot_noise_np(measurement, rng=None, bits: int = 11, quantum_efficiency: float = 0.4) -> np.ndarray:
    """numpy twin of `shot_noise` (the reference's own lines); `rng` a `numpy.random.Generator` or seed."""
    _check_noise_args(bits, quantum_efficiency)
    rng = np.random.default_rng(rng)
    measurement = np.asarray(measurement)
    counts = np.floor(np.maximum(measurement.astype(np.float64), 0.0) * 2**bits / quantum_efficiency)
    detected = rng.binomial(counts.astype(np.int64), quantum_efficiency)
    return (detected / float(2**bits)).astype(measurement.dtype if measurement.dtype.kind == "f" else np.float32)


def _check_cube_np(cube: np.ndarray, bands: int | None) -> int:
    if cube.ndim not in (3, 4):
        raise ValueError(
            f"cube must have shape (height, width, bands) or (batch, height, width, bands), got shape {cube.shape}"
        )
    if bands is not None and cube.shape[-1] != bands:
        raise ValueError(f"cube: expected {bands} bands (last axis), got {cube.shape[-1]} in shape {cube.shape}")
    _check_finite(cube, "cube")
    return cube.shape[-1]


def _mask_for_np(mask: np.ndarray, cube: np.ndarray) -> np.ndarray:
    _check_finite(mask, "mask")
    if mask.ndim == 2:
        mask = mask[..., None]
    if mask.shape[-3:-1] != cube.shape[-3:-1]:
        raise ValueError(
            f"mask size does not match the cube: expected a mask {cube.shape[-3]}x{cube.shape[-2]} "
            f"(the cube's height x width), got mask shape {mask.shape}"
        )
    if mask.shape[-1] not in (1, cube.shape[-1]):
        raise ValueError(f"3-D mask has {mask.shape[-1]} bands, expected {cube.shape[-1]} (the cube's band count) or 1")
    return mask.astype(cube.dtype, copy=False)


def disperse_np(cube, step: int = 2) -> np.ndarray:
    """numpy twin of `disperse`."""
    cube = np.asarray(cube)
    bands = _check_cube_np(cube, None)
    step = _check_step(step)
    width = cube.shape[-2]
    out = np.zeros(cube.shape[:-2] + (width + step * (bands - 1), bands), dtype=cube.dtype)
    for n in range(bands):
        out[..., step * n : step * n + width, n] = cube[..., n]
    return out


def measure_np(cube, mask, step: int = 2, bands: int | None = None) -> np.ndarray:
    """numpy twin of `measure` (bands accumulated in order 0..N-1, in the cube's dtype)."""
    cube = np.asarray(cube)
    n_bands = _check_cube_np(cube, bands)
    step = _check_step(step)
    masked = cube * _mask_for_np(np.asarray(mask), cube)
    width = cube.shape[-2]
    total = np.zeros(cube.shape[:-2] + (width + step * (n_bands - 1),), dtype=masked.dtype)
    for n in range(n_bands):
        total[..., step * n : step * n + width] += masked[..., n]
    return total


def shift_back_np(measurement, bands: int = 28, step: int = 2) -> np.ndarray:
    """numpy twin of `shift_back` (without `scale`)."""
    measurement = np.asarray(measurement)
    if measurement.ndim not in (2, 3):
        raise ValueError(f"shift_back expects a measurement (height, width) or (batch, height, width), got {measurement.shape}")
    width = measurement.shape[-1] - step * (bands - 1)
    if width <= 0:
        raise ValueError(
            f"a measurement {measurement.shape[-1]} wide is too narrow for {bands} bands at step {step}: "
            f"expected width W + {step * (bands - 1)} with W > 0"
        )
    return np.stack([measurement[..., step * n : step * n + width] for n in range(bands)], axis=-1)


def adjoint_np(measurement, mask, bands: int = 28, step: int = 2) -> np.ndarray:
    """numpy twin of `adjoint`."""
    back = shift_back_np(measurement, bands, step)
    return back * _mask_for_np(np.asarray(mask), back)


def network_input_np(measurement, bands: int = 28, step: int = 2) -> np.ndarray:
    """numpy twin of `network_input` (`measurement / bands * 2`, then shift-back)."""
    measurement = np.asarray(measurement)
    _check_finite(measurement, "measurement")
    dtype = measurement.dtype.type if measurement.dtype.kind == "f" else np.float64
    return shift_back_np(measurement / dtype(bands) * dtype(2), bands, step)
