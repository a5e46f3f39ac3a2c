"""PNG previews of hyperspectral cubes: band grids and spectral curves (matplotlib, Agg).

The false-colour rendering is `larq_hsi.data.save_preview`; this module adds
the two views a person checks next: selected bands side by side with their
wavelengths, and the spectrum at a few pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from larq_hsi import data

__all__ = [
    "COMPARISON_FILES",
    "CUBE_FILES",
    "default_pixels",
    "save_band_grid",
    "save_comparison",
    "save_cube",
    "save_spectra",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_cube(cube) -> np.ndarray:
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(f"a preview needs one cube (H, W, bands), got shape {cube.shape}")
    return cube


def save_band_grid(cube, path, wavelengths=None, bands=None, columns: int = 4) -> Path:
    """A grid of single-band images, each titled with its wavelength; returns the path.

    `bands` are band indices (default: 8 evenly spaced). Every band shares
    one grey scale (0 to the cube's 99.5th percentile) so intensities compare.
    """
    cube = _check_cube(cube)
    n = cube.shape[-1]
    wavelengths = data.wavelengths_for(n) if wavelengths is None else np.asarray(wavelengths)
    bands = np.linspace(0, n - 1, min(8, n)).round().astype(int) if bands is None else list(bands)
    top = float(np.percentile(cube, 99.5)) or 1.0
    rows = -(-len(bands) // columns)
    plt = _pyplot()
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, band in zip(axes.flat, bands):
        ax.imshow(cube[..., band], cmap="gray", vmin=0, vmax=top)
        ax.set_title(f"band {band}: {wavelengths[band]:.1f} nm", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def default_pixels(cube, count: int = 4, grid: int = 4) -> list[tuple[int, int]]:
    """`count` pixels on the brightest parts of the image, spread over it, for spectral curves.

    The band-mean image is box-smoothed (5x5, so single hot pixels do not win)
    and cut into `grid` x `grid` cells; each cell offers its brightest pixel,
    and the `count` brightest offers are returned, brightest first. Real CASSI
    scenes are mostly dark background, where spectra say little.
    """
    from scipy.ndimage import uniform_filter

    brightness = uniform_filter(_check_cube(cube).mean(axis=-1).astype(np.float64), size=5,
                                mode="nearest")
    h, w = brightness.shape
    offers = []
    for rows in np.array_split(np.arange(h), min(grid, h)):
        for cols in np.array_split(np.arange(w), min(grid, w)):
            cell = brightness[np.ix_(rows, cols)]
            r, c = np.unravel_index(int(np.argmax(cell)), cell.shape)
            offers.append((float(cell[r, c]), int(rows[r]), int(cols[c])))
    offers.sort(key=lambda o: -o[0])
    return [(r, c) for _, r, c in offers[:count]]


def save_spectra(cube, path, pixels=None, wavelengths=None, reference=None) -> Path:
    """Spectral curves at `pixels` (row, column); with `reference`, its curves dashed."""
    cube = _check_cube(cube)
    n = cube.shape[-1]
    wavelengths = data.wavelengths_for(n) if wavelengths is None else np.asarray(wavelengths)
    pixels = default_pixels(cube) if pixels is None else pixels
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (r, c) in enumerate(pixels):
        if not (0 <= r < cube.shape[0] and 0 <= c < cube.shape[1]):
            raise ValueError(f"pixel ({r}, {c}) is outside the {cube.shape[0]}x{cube.shape[1]} image")
        line, = ax.plot(wavelengths, cube[r, c], label=f"({r}, {c})")
        if reference is not None:
            ax.plot(wavelengths, np.asarray(reference)[r, c], "--", color=line.get_color())
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("intensity")
    ax.legend(title="pixel (row, col)" + (", dashed: reference" if reference is not None else ""),
              fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


#: The files `save_cube` writes, in order.
CUBE_FILES = ("cube.npy", "cube.mat", "rgb.png", "bands.png", "spectra.png")


def save_cube(cube, folder) -> list[Path]:
    """A reconstructed cube `(H, W, bands)` and its previews under `folder`; returns the paths.

    Writes `cube.npy`, `cube.mat` (key `cube`), `rgb.png` (false colour,
    `data.save_preview`), `bands.png` (`save_band_grid`) and `spectra.png`
    (`save_spectra` at `default_pixels`), in that order.
    """
    import scipy.io

    cube = _check_cube(cube)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in CUBE_FILES]
    np.save(paths[0], cube)
    scipy.io.savemat(paths[1], {"cube": cube})
    data.save_preview(cube, paths[2])
    save_band_grid(cube, paths[3])
    save_spectra(cube, paths[4])
    return paths


#: The files `save_comparison` writes, in order.
COMPARISON_FILES = ("truth_rgb.png", "reconstruction_rgb.png", "reconstruction_bands.png",
                    "reconstruction_spectra.png")


def save_comparison(truth, estimate, folder) -> list[Path]:
    """Previews of a reconstruction next to its ground truth under `folder`; returns the paths.

    Writes the false-colour images of both (`truth_rgb.png`,
    `reconstruction_rgb.png`), the band grid of the estimate, and its spectra
    at `default_pixels` with the truth's dashed (`reconstruction_spectra.png`).
    """
    truth, estimate = _check_cube(truth), _check_cube(estimate)
    if truth.shape != estimate.shape:
        raise ValueError(f"truth and estimate must have the same shape, got {truth.shape} and {estimate.shape}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in COMPARISON_FILES]
    data.save_preview(truth, paths[0])
    data.save_preview(estimate, paths[1])
    save_band_grid(estimate, paths[2])
    save_spectra(estimate, paths[3], reference=truth)
    return paths
