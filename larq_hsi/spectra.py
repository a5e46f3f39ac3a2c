"""Spectral band grids: the wavelengths of the CASSI benchmarks and of other cubes.

`CASSI_WAVELENGTHS` are the 28 centre wavelengths every CASSI network of
this package works on; `wavelengths_for(n)` gives a cube of n bands a
plausible grid when its file does not say (for previews and synthetic
scenes).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CASSI_WAVELENGTHS", "wavelengths_for"]

#: The 28 centre wavelengths (nm) of the CASSI benchmarks (TSA-Net, MST,
#: BiSRNet), as listed by the reference's visualisation script (`lam28`).
CASSI_WAVELENGTHS = np.array(
    [453.5, 457.5, 462.0, 466.0, 471.5, 476.5, 481.5, 487.0, 492.5, 498.0,
     504.0, 510.0, 516.0, 522.5, 529.5, 536.5, 544.0, 551.5, 558.5, 567.5,
     575.5, 584.5, 594.5, 604.0, 614.5, 625.0, 636.5, 648.0]
)  # fmt: skip


def wavelengths_for(bands: int) -> np.ndarray:
    """The CASSI wavelengths for 28 bands, else `bands` values evenly spaced over 450-650 nm."""
    if bands == len(CASSI_WAVELENGTHS):
        return CASSI_WAVELENGTHS.copy()
    return np.linspace(450.0, 650.0, bands)
