"""Every PNG the package writes (matplotlib, Agg backend, no GUI).

- a cube at a glance: `false_colour` / `save_preview` (an RGB-ish composite),
  `save_band_grid` (selected bands with their wavelengths), `save_spectra`
  (the spectrum at a few pixels), `save_cube` and `save_comparison` (a
  reconstruction's files, beside its ground truth);
- pan-sharpening: `save_pansharpening_figures` (a pseudo-colour preview and
  an error map, as HS-BiNet's Fig. 8);
- training: `plot_indicators` (the estimator indicators of HS-BiNet's Fig. 6).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from larq_hsi.spectra import wavelengths_for

__all__ = [
    "COMPARISON_FILES",
    "CUBE_FILES",
    "default_pixels",
    "false_colour",
    "plot_indicators",
    "save_band_grid",
    "save_pansharpening_figures",
    "save_preview",
    "save_comparison",
    "save_panels",
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
    wavelengths = wavelengths_for(n) if wavelengths is None else np.asarray(wavelengths)
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
    wavelengths = wavelengths_for(n) if wavelengths is None else np.asarray(wavelengths)
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
    save_preview(cube, paths[2])
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
    save_preview(truth, paths[0])
    save_preview(estimate, paths[1])
    save_band_grid(estimate, paths[2])
    save_spectra(estimate, paths[3], reference=truth)
    return paths


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


def _read_history(source) -> dict[str, list]:
    if isinstance(source, dict):
        return source
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"epoch", "estimation_error", "gradient_instability"} <= set(rows[0]):
        raise ValueError(f"{source}: expected columns epoch, estimation_error, gradient_instability")
    return {k: [float(r[k]) for r in rows] for k in ("epoch", "estimation_error", "gradient_instability")}


def plot_indicators(source, path, title: str = "Estimator indicators") -> Path:
    """Plot e (orange, left axis) and s (blue, right axis) against the epoch, as Fig. 6; writes a PNG.

    `source` is `EstimatorIndicators.history` or the path of its CSV file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = _read_history(source)
    epochs: Sequence = history["epoch"]
    if not epochs:
        raise ValueError("plot_indicators: nothing to plot (no epoch measured)")
    fig, left = plt.subplots(figsize=(5.5, 3.6))
    left.plot(epochs, history["estimation_error"], color="tab:orange", marker="o", ms=3)
    left.set_xlabel("epoch")
    left.set_ylabel("estimation error e", color="tab:orange")
    right = left.twinx()
    right.plot(epochs, history["gradient_instability"], color="tab:blue", marker="s", ms=3)
    right.set_ylabel("gradient instability s = var(|g|)", color="tab:blue")
    left.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- pan-sharpening


def _default_rgb_bands(bands: int):
    if bands > 80:
        return (20, 50, 80)  # Fig. 8's bands
    return tuple(int(round(f * (bands - 1))) for f in (0.2, 0.5, 0.8))


def _pseudo_colour(cube, bands, lo, hi):
    rgb = np.stack([cube[..., b] for b in bands], axis=-1)
    return np.clip((rgb - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)


def save_pansharpening_figures(prediction, reference, out_dir, lms=None, rgb_bands=None, error_band=None,
                 prefix: str = "", label: str = "HS-BiNet") -> dict:
    """Fig. 8-style PNGs for one image: a pseudo-colour preview and an absolute-error map.

    `{prefix}preview.png`: bands `rgb_bands` (default (20, 50, 80) as in
    Fig. 8 when there are more than 80 bands, else bands at 20/50/80 % of the
    range) of the fused image (titled `label`), the reference and, if given, the bicubic `lms`,
    stretched alike (1st-99th percentile of the reference per channel).
    `{prefix}error.png`: \\(|\\hat X_b - X_b|\\) for band `error_band` (default 25,
    or the middle band for fewer bands) with a shared colour bar. Returns the paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prediction, reference = np.asarray(prediction), np.asarray(reference)
    if prediction.shape != reference.shape or prediction.ndim != 3:
        raise ValueError(
            f"save_figures: prediction and reference must be one cube each of the same shape, got "
            f"{prediction.shape} and {reference.shape}"
        )
    bands = reference.shape[-1]
    rgb_bands = _default_rgb_bands(bands) if rgb_bands is None else tuple(rgb_bands)
    error_band = (25 if bands > 25 else bands // 2) if error_band is None else int(error_band)
    if len(rgb_bands) != 3 or any(not 0 <= b < bands for b in (*rgb_bands, error_band)):
        raise ValueError(f"save_figures: need 3 rgb bands and an error band in [0, {bands}), got {rgb_bands}, {error_band}")
    panels = [(label, prediction), ("reference", reference)]
    if lms is not None:
        panels.append(("bicubic", np.asarray(lms)))
    ref_rgb = np.stack([reference[..., b] for b in rgb_bands], axis=-1)
    lo = np.percentile(ref_rgb, 1, axis=(0, 1))
    hi = np.percentile(ref_rgb, 99, axis=(0, 1))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"preview": out_dir / f"{prefix}preview.png", "error": out_dir / f"{prefix}error.png"}

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, (title, cube) in zip(axes, panels):
        ax.imshow(_pseudo_colour(cube, rgb_bands, lo, hi))
        ax.set_title(f"{title}\nbands {rgb_bands}", fontsize=9)
        ax.axis("off")
    fig.savefig(paths["preview"], dpi=100, bbox_inches="tight")
    plt.close(fig)

    errors = [(t, np.abs(c[..., error_band] - reference[..., error_band])) for t, c in panels if t != "reference"]
    top = max(float(e.max()) for _, e in errors) or 1.0
    fig, axes = plt.subplots(1, len(errors), figsize=(3.6 * len(errors), 3.4), squeeze=False)
    for ax, (title, err) in zip(axes[0], errors):
        im = ax.imshow(err, cmap="jet", vmin=0.0, vmax=top)
        ax.set_title(f"|{title} - reference|, band {error_band}\nMAE {err.mean():.4f}", fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=list(axes[0]), fraction=0.046)
    fig.savefig(paths["error"], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def save_panels(panels, path, height: float = 3.0) -> Path:
    """Images side by side with their titles, one PNG: `panels` is a list of `(title, image)`.

    Images are `(H, W)` or `(H, W, 1|3)` in [0, 1] (clipped), each drawn at its
    own size in pixels scaled to a common height, so an LR input shows how small it is.
    """
    plt = _pyplot()
    widths = [np.asarray(im).shape[1] / np.asarray(im).shape[0] for _, im in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(height * sum(widths) + 0.3 * len(panels), height + 0.4),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, (title, image) in zip(axes[0], panels):
        image = np.clip(np.asarray(image, np.float64), 0, 1)
        image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
