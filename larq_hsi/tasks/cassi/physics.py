r"""Coded-aperture snapshot spectral imaging (CASSI) physics, in TensorFlow and numpy.

A single-disperser CASSI (BiSRNet Sec. 3.1 and its supplementary) measures a
2-D snapshot of a cube \(X \in \mathbb{R}^{H \times W \times N}\): every band
is masked by the coded aperture \(M\) (the 2-D mask, the same for all bands),
shifted along the width by \(d\,n\) pixels (dispersion step d, default 2) and
the bands are summed on the detector:

\[ Y(x, y) = \sum_{n=0}^{N-1} M(x, y - dn)\, X(x, y - dn, n), \qquad
   Y \in \mathbb{R}^{H \times (W + d(N-1))}. \]

Written as a linear operator, \(Y = A X\) with \(A = \sum_n S_n D_M P_n\):
\(P_n\) picks band n, \(D_M\) multiplies by the mask, \(S_n\) pads \(dn\)
zeros on the left and \(d(N-1-n)\) on the right. Its adjoint is the
shift-back followed by the mask,

\[ (A^\top Y)(x, y, n) = M(x, y)\, Y(x, y + dn), \]

and the shift-back alone (BiSRNet Eq. 1, \(H(x, y, n) = Y(x, y + dn)\)) reads
band n's window of the measurement. The simulation BiSRNet's input is that
shift-back of the measurement divided by N/2, exactly as the reference
pipeline computes it (`meas / nC * 2`, then `shift_back`), together with the
3-D mask \(\Phi(x, y, n) = M(x, y)\).

Every TensorFlow function here works on a single sample (`(H, W, N)` cubes,
`(H, W')` measurements) or a batch (`(B, H, W, N)`, `(B, H, W')`), eagerly,
inside `tf.data.Dataset.map` and inside a Keras model (`ShiftBack`, the
shift-back as a layer, and `shift_back` itself live in `larq_hsi.nn.layers`,
since the real-system BiSRNet holds one).

Exactness: the measurement accumulates the bands in order 0, 1, ..., N-1, as
the reference's `torch.sum` over the band axis did, and the 2/N scaling
rounds as its `Y / N * 2`; in float32 this reproduces the reference fixture
bit for bit, eagerly and in graphs (`tf.reduce_sum`, `tf.add_n` or Grappler's
rewrites of add chains and of divisions by constants differ in the last bits;
see `measure` and `scale_2_over_n`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from larq_hsi.checks import check_finite
from larq_hsi.nn.layers import ShiftBack, shift_back

__all__ = [
    "REAL_MEASUREMENT_PEAK",
    "REAL_MEASUREMENT_SCALE",
    "ShiftBack",
    "Simulation",
    "adjoint",
    "disperse",
    "mask_3d",
    "measure",
    "network_input",
    "prepare_real_measurement",
    "random_mask",
    "real_network_input",
    "scale_2_over_n",
    "shift_back",
    "shot_noise",
    "simulate",
]

#: Factor from a raw simulated measurement to the real-system training input
#: in the reference (`meas / 28 * 2 * 1.2`, before shot noise), relative to N:
#: the input is `measurement / N * 2 * REAL_MEASUREMENT_SCALE`.
REAL_MEASUREMENT_SCALE = 1.2


#: A real measurement's peak after `prepare_real_measurement` (the reference's `y / max(y) * 0.8`).
REAL_MEASUREMENT_PEAK = 0.8


def prepare_real_measurement(measurement) -> np.ndarray:
    r"""A real-system measurement as the published real BiSRNet expects it (NumPy, float64).

    As the reference test script does: clip to \([0, 1]\), then scale the peak to 0.8,
    \(y \leftarrow 0.8\, y / \max(y)\), in float64 as its NumPy code computes it. A
    float32 model's input rounds the result once (as the reference's
    `torch.FloatTensor(meas)`); a float64 model sees it exactly (scaling in
    float32 moved the float64 network's output by up to 4e-4 on real scene 2).
    Raises `ValueError` for an all-zero measurement.
    """
    y = np.clip(np.asarray(measurement, np.float64), 0.0, 1.0)
    peak = float(y.max())
    if peak <= 0:
        raise ValueError("the measurement is all zeros (or negative) after clipping to [0, 1]")
    return y / peak * REAL_MEASUREMENT_PEAK


# --------------------------------------------------------------------------- checks


def _static_dims(tensor) -> list:
    return tensor.shape.as_list() if tensor.shape.rank is not None else []


def _check_finite(value, what: str) -> None:
    """`ValueError` on NaN/inf when the value is concrete (numpy or eager); graphs are not checked."""
    if isinstance(value, np.ndarray) or (isinstance(value, tf.Tensor) and hasattr(value, "numpy")):
        check_finite(np.asarray(value), what)


def _as_float_tensor(value, what: str, dtype=None) -> tf.Tensor:
    _check_finite(value if isinstance(value, tf.Tensor) else np.asarray(value), what)
    tensor = tf.convert_to_tensor(value)
    if dtype is not None:
        tensor = tf.cast(tensor, dtype)
    elif not tensor.dtype.is_floating:
        tensor = tf.cast(tensor, tf.float32)
    return tensor


def _check_cube(cube: tf.Tensor, bands: int | None, what: str = "cube") -> int | None:
    """Rank 3 `(H, W, N)` or 4 `(B, H, W, N)`; returns N (None when unknown)."""
    rank = cube.shape.rank
    if rank not in (3, 4):
        raise ValueError(
            f"{what} must have shape (height, width, bands) or (batch, height, width, bands), "
            f"got shape {tuple(cube.shape)}"
        )
    got = cube.shape[-1]
    if bands is not None and got is not None and got != bands:
        raise ValueError(f"{what}: expected {bands} bands (last axis), got {got} in shape {tuple(cube.shape)}")
    return got if got is not None else bands


def _check_step(step) -> int:
    if int(step) != step or step < 0:
        raise ValueError(f"the dispersion step must be an integer >= 0, got {step!r}")
    return int(step)


def _mask_for(mask: tf.Tensor, cube: tf.Tensor) -> tf.Tensor:
    """Reshape `mask` to broadcast against `cube`, or say what size was expected.

    Accepted: the 2-D mask `(H, W)`; a 3-D mask `(H, W, N)` or `(H, W, 1)`; and,
    for a batch, `(B, H, W, N)`, `(1, H, W, N)`, `(B, H, W, 1)`.
    """
    cube_dims = _static_dims(cube)
    spatial = cube_dims[-3:-1]
    if mask.shape.rank == 2:
        mask = mask[..., tf.newaxis]
    elif mask.shape.rank not in (3, 4) or mask.shape.rank > cube.shape.rank:
        raise ValueError(
            f"mask must be 2-D (height, width) or a 3-D mask (height, width, bands) matching the cube "
            f"{tuple(cube.shape)}, got shape {tuple(mask.shape)}"
        )
    mask_dims = _static_dims(mask)
    for what, want, got in (("height", spatial[0], mask_dims[-3]), ("width", spatial[1], mask_dims[-2])):
        if want is not None and got is not None and want != got:
            raise ValueError(
                f"mask size does not match the cube: expected a mask {spatial[0]}x{spatial[1]} "
                f"(the cube's height x width), got {what} {got} in mask shape {tuple(mask.shape)}"
            )
    bands, mask_bands = cube_dims[-1], mask_dims[-1]
    if mask_bands not in (None, 1) and bands is not None and mask_bands != bands:
        raise ValueError(
            f"3-D mask has {mask_bands} bands, expected {bands} (the cube's band count) or 1"
        )
    if mask.shape.rank == 4 and cube.shape.rank == 4:
        mb, cb = mask_dims[0], cube_dims[0]
        if mb not in (None, 1) and cb is not None and mb != cb:
            raise ValueError(f"mask batch {mb} does not match the cube batch {cb}")
    return tf.cast(mask, cube.dtype)


# --------------------------------------------------------------------------- masks


def random_mask(shape, seed: int = 0, density: float = 0.5, dtype=np.float32) -> np.ndarray:
    r"""A random binary mask: \(M(x, y) \sim \mathrm{Bernoulli}(\rho)\) i.i.d., seeded.

    `shape` is `(height, width)` or an int for a square mask.
    """
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape), int(shape))
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) <= 0:
        raise ValueError(f"mask shape must be (height, width) with positive sizes, got {shape}")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < density).astype(dtype)


def mask_3d(mask, bands: int = 28) -> tf.Tensor:
    r"""The 3-D mask \(\Phi(\ldots, x, y, n) = M(\ldots, x, y)\): `(..., H, W)` -> `(..., H, W, bands)`."""
    mask = _as_float_tensor(mask, "mask")
    if mask.shape.rank not in (2, 3):
        raise ValueError(f"mask_3d expects a mask (height, width) or (batch, height, width), got {tuple(mask.shape)}")
    if bands < 1:
        raise ValueError(f"bands must be >= 1, got {bands}")
    return tf.repeat(mask[..., tf.newaxis], bands, axis=-1)


# --------------------------------------------------------------------------- forward model


def disperse(cube, step: int = 2) -> tf.Tensor:
    r"""Shift band n right by \(dn\): `(..., H, W, N)` -> `(..., H, W + d(N-1), N)`, zero filled.

    \(\mathrm{disperse}(X)(x, y, n) = X(x, y - dn, n)\) where defined, else 0
    (the reference's `shift`). Summing it over bands is `measure` without a mask.
    """
    cube = _as_float_tensor(cube, "cube")
    bands = _check_cube(cube, None)
    step = _check_step(step)
    return tf.stack([_shifted_band(cube, n, bands, step) for n in range(bands)], axis=-1)


def _shifted_band(cube: tf.Tensor, n: int, bands: int, step: int) -> tf.Tensor:
    pad = [[0, 0]] * (cube.shape.rank - 2) + [[step * n, step * (bands - 1 - n)]]
    return tf.pad(cube[..., n], pad)


def measure(cube, mask, step: int = 2, bands: int | None = None) -> tf.Tensor:
    r"""The CASSI forward operator \(Y = A X = \sum_n S_n (M \odot X_n)\).

    Args:
        cube: `(H, W, N)` or `(B, H, W, N)`.
        mask: the 2-D mask `(H, W)` or a 3-D mask (see `_mask_for`).
        step: dispersion step d.
        bands: if given, the band count N the cube must have.

    Returns: the measurement `(H, W + d(N-1))` or `(B, H, W + d(N-1))`. Bands
    are accumulated in order (bit-exact with the reference in float32).
    """
    cube = _as_float_tensor(cube, "cube")
    n_bands = _check_cube(cube, bands)
    if n_bands is None:
        raise ValueError(f"the cube's band count must be known statically, got shape {tuple(cube.shape)}")
    step = _check_step(step)
    masked = cube * _mask_for(_as_float_tensor(mask, "mask"), cube)
    shifted = tf.stack([_shifted_band(masked, n, n_bands, step) for n in range(n_bands)], axis=0)
    # A loop, not a chain of adds: in graphs Grappler rewrites add chains into AddN (another order).
    return tf.foldl(lambda total, band: total + band, shifted)


def adjoint(measurement, mask, bands: int = 28, step: int = 2) -> tf.Tensor:
    r"""The adjoint \(A^\top Y = M \odot \mathrm{shift\_back}(Y)\): `([B,] H, W')` -> `([B,] H, W, bands)`.

    It satisfies \(\langle A X, Y\rangle = \langle X, A^\top Y\rangle\) for every X, Y.
    """
    measurement = _as_float_tensor(measurement, "measurement")
    back = shift_back(measurement, bands, _check_step(step))
    return back * _mask_for(_as_float_tensor(mask, "mask"), back)


def network_input(measurement, bands: int = 28, step: int = 2) -> tf.Tensor:
    r"""The simulation BiSRNet's input \(H = \mathrm{shift\_back}(Y \cdot 2 / N)\).

    Scaled as the reference's `measurement / bands * 2` (`scale_2_over_n`), then
    shifted back: bit-exact with its fixture in float32 (`measurement * (2 / bands)`
    can differ by one ulp).
    """
    measurement = _as_float_tensor(measurement, "measurement")
    return shift_back(scale_2_over_n(measurement, bands), bands, _check_step(step))


def real_network_input(measurement, bands: int = 28, scale: float = REAL_MEASUREMENT_SCALE) -> tf.Tensor:
    r"""The real-system BiSRNet's input from a simulated measurement: \(y = Y \cdot 2/N \cdot 1.2\).

    As the reference builds its real-system training input (`meas / 28 * 2 * 1.2`,
    before shot noise; `scale` is `REAL_MEASUREMENT_SCALE`): `scale_2_over_n`, then
    the factor. The shape stays `([B,] H, W + d(N-1))`; the network shifts it back
    itself, so its input alone is \(\mathrm{shift\_back}(y) = 1.2\, H\).
    """
    measurement = _as_float_tensor(measurement, "measurement")
    return scale_2_over_n(measurement, bands) * tf.constant(scale, measurement.dtype)  # not tf.cast: via float32


def scale_2_over_n(measurement, bands: int = 28) -> tf.Tensor:
    r"""\(Y \cdot 2 / N\) rounded as the reference's `Y / N * 2`, in eager mode and in graphs.

    Doubling is exact in binary floating point, so `Y / N * 2` equals one
    correctly rounded division `Y / (N / 2)`. It is computed with
    `divide_no_nan` (equal to `/` for a non-zero divisor) because Grappler
    turns a division by a graph constant into a multiplication by its
    rounded reciprocal, which is off by one ulp in places.
    """
    measurement = tf.convert_to_tensor(measurement)
    if bands < 1:
        raise ValueError(f"bands must be >= 1, got {bands}")
    return tf.math.divide_no_nan(measurement, tf.constant(bands / 2, measurement.dtype))


class Simulation(NamedTuple):
    """What `simulate` returns: the raw `measurement`, the network input `H` and the 3-D mask `Phi`."""

    measurement: tf.Tensor
    H: tf.Tensor
    Phi: tf.Tensor


def simulate(cube, mask, step: int = 2, bands: int | None = None) -> Simulation:
    """Measure `cube` through `mask` and prepare the simulation BiSRNet's inputs.

    `mask` is the 2-D mask `(H, W)`, shared by a batch, or one per sample
    `(B, H, W)`. Returns `Simulation(measurement, H, Phi)` with `H =
    network_input(measurement)` and `Phi` the 3-D mask, shaped like the cube.
    """
    cube = _as_float_tensor(cube, "cube")
    n_bands = _check_cube(cube, bands)
    mask = _as_float_tensor(mask, "mask", cube.dtype)
    if mask.shape.rank not in (2, cube.shape.rank - 1):
        raise ValueError(
            f"simulate expects a 2-D mask {tuple(cube.shape[-3:-1])} or one per sample "
            f"{tuple(cube.shape[:-1])}, got shape {tuple(mask.shape)}"
        )
    _mask_for(mask if mask.shape.rank == 2 else mask[..., tf.newaxis], cube)  # size check with a clear error
    phi = tf.broadcast_to(mask_3d(mask, n_bands), tf.shape(cube))
    y = measure(cube, phi, step)
    return Simulation(y, network_input(y, n_bands, step), phi)


# --------------------------------------------------------------------------- noise


def _photon_counts(measurement: tf.Tensor, bits: int, quantum_efficiency: float) -> tf.Tensor:
    levels = tf.cast(2**bits, tf.float64)
    return tf.floor(tf.maximum(tf.cast(measurement, tf.float64), 0.0) * levels / quantum_efficiency)


def _check_noise_args(bits, quantum_efficiency):
    if int(bits) != bits or not 1 <= bits <= 31:
        raise ValueError(f"bits must be an integer in [1, 31], got {bits!r}")
    if not 0.0 < quantum_efficiency <= 1.0:
        raise ValueError(f"quantum_efficiency must be in (0, 1], got {quantum_efficiency}")


def shot_noise(measurement, seed, bits: int = 11, quantum_efficiency: float = 0.4) -> tf.Tensor:
    r"""Shot noise of an `bits`-bit sensor, as the reference trains its real-system models.

    BiSRNet Sec. 4.3: "we inject 11-bit shot noise into measurements during
    training". The reference (`real/train_code/dataset.py`, QE = 0.4,
    bit = 2048) reads the measurement value \(y\) in units of \(2^{-b}\) full
    scale, as \(n = \lfloor y\, 2^b / \mathrm{QE} \rfloor\) incident photons,
    detects each with probability QE and quantizes back:

    \[ k \sim \mathrm{Binomial}(n, \mathrm{QE}), \qquad \tilde y = k / 2^b, \]

    so \(E[\tilde y] = n\,\mathrm{QE}/2^b \approx y\) and
    \(\mathrm{Var}[\tilde y] = n\,\mathrm{QE}(1-\mathrm{QE})/4^b \approx y (1-\mathrm{QE}) / 2^b\)
    (Poisson-like: the variance grows with the signal). There is no
    normalisation to the maximum: the scale of `measurement` sets the photon
    count (the reference feeds `measurement / 28 * 2 * 1.2`). Negative values
    count as 0 photons.

    `seed` is a stateless seed, a shape-(2,) integer tensor: the same seed gives
    the same noise, in eager mode, in `tf.data` and in graphs.
    """
    _check_noise_args(bits, quantum_efficiency)
    measurement = _as_float_tensor(measurement, "measurement")
    counts = _photon_counts(measurement, bits, quantum_efficiency)
    detected = tf.random.stateless_binomial(
        tf.shape(counts), seed=seed, counts=counts, probs=tf.constant(quantum_efficiency, tf.float64),
        output_dtype=tf.float64,
    )
    return tf.cast(detected / float(2**bits), measurement.dtype)
