"""Spectral band grids: the wavelengths of the CASSI benchmarks and of other cubes.

`CASSI_WAVELENGTHS` are the 28 centre wavelengths every CASSI network of
this package works on; `CAVE_WAVELENGTHS` the 31 bands of the Columbia CAVE
database (400, 410, ..., 700 nm); `wavelengths_for(n)` gives a cube of n
bands a plausible grid when its file does not say (for previews and
synthetic scenes); `resample_bands` moves a cube from one grid to another.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CASSI_WAVELENGTHS", "CAVE_WAVELENGTHS", "check_wavelengths", "resample_bands", "wavelengths_for"]

#: The 28 centre wavelengths (nm) of the CASSI benchmarks (TSA-Net, MST,
#: BiSRNet), as listed by the reference's visualisation script (`lam28`).
CASSI_WAVELENGTHS = np.array(
    [453.5, 457.5, 462.0, 466.0, 471.5, 476.5, 481.5, 487.0, 492.5, 498.0,
     504.0, 510.0, 516.0, 522.5, 529.5, 536.5, 544.0, 551.5, 558.5, 567.5,
     575.5, 584.5, 594.5, 604.0, 614.5, 625.0, 636.5, 648.0]
)  # fmt: skip


#: The 31 bands of the CAVE multispectral database: 400 + 10 (n - 1) nm, n = 1..31.
CAVE_WAVELENGTHS = 400.0 + 10.0 * np.arange(31)


def wavelengths_for(bands: int) -> np.ndarray:
    """The CASSI wavelengths for 28 bands, else `bands` values evenly spaced over 450-650 nm."""
    if bands == len(CASSI_WAVELENGTHS):
        return CASSI_WAVELENGTHS.copy()
    return np.linspace(450.0, 650.0, bands)


def check_wavelengths(wavelengths, what: str = "wavelengths") -> np.ndarray:
    """`wavelengths` as a float64 vector, or a `ValueError` unless 1-D, finite and strictly increasing."""
    lam = np.asarray(wavelengths, dtype=np.float64)
    if lam.ndim != 1 or lam.size < 1 or not np.all(np.isfinite(lam)):
        raise ValueError(f"{what} must be a finite 1-D sequence, got {np.shape(wavelengths)}")
    if lam.size > 1 and not np.all(np.diff(lam) > 0):
        first = int(np.argmax(np.diff(lam) <= 0))
        raise ValueError(f"{what} must increase strictly, got {lam[first]:g} then {lam[first + 1]:g} nm")
    return lam


def resample_bands(cube, source_wavelengths, target_wavelengths) -> np.ndarray:
    r"""A cube `(..., N)` on the `source_wavelengths` grid, linearly interpolated per pixel to `target_wavelengths`.

    For a target \(\lambda\) between source bands \(\lambda_i \le \lambda \le \lambda_{i+1}\):
    \[ X(\lambda) = X_i + (X_{i+1} - X_i)\,\frac{\lambda - \lambda_i}{\lambda_{i+1} - \lambda_i}, \]
    exactly `np.interp` at every pixel (a target on a source band copies it).
    Both grids must increase strictly, and the targets lie inside the source
    range (no extrapolation); otherwise a `ValueError` says which.
    """
    cube = np.asarray(cube)
    source = check_wavelengths(source_wavelengths, "source_wavelengths")
    target = check_wavelengths(target_wavelengths, "target_wavelengths")
    if cube.shape[-1] != source.size:
        raise ValueError(f"the cube has {cube.shape[-1]} bands but {source.size} source wavelengths were given")
    if target[0] < source[0] or target[-1] > source[-1]:
        raise ValueError(
            f"target wavelengths {target[0]:g}-{target[-1]:g} nm lie outside the source range "
            f"{source[0]:g}-{source[-1]:g} nm (no extrapolation)"
        )
    upper = np.clip(np.searchsorted(source, target, side="left"), 1, source.size - 1)
    lower = upper - 1
    weight = (target - source[lower]) / (source[upper] - source[lower]) if source.size > 1 else np.zeros_like(target)
    if source.size == 1:
        lower = upper = np.zeros(target.size, int)
    data = cube.astype(np.float64)
    out = data[..., lower] + (data[..., upper] - data[..., lower]) * weight
    return out.astype(cube.dtype if cube.dtype.kind == "f" else np.float32)
