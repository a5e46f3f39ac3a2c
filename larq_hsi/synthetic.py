r"""Seeded *synthetic* hyperspectral scenes: the built-in default data, not a benchmark.

`synthetic_scene` draws a scene so that the demo, the examples and the
tests run without a download, in one of two `LAYOUTS`:

- "mosaic": a piecewise-smooth partition of the whole frame with textured
  regions (stripes, checkerboards), dense in edges and fine detail; the
  pan-sharpening and restoration stand-ins, whose tasks are spatial detail.
- "objects": a few shaded objects in front of a dark backdrop, the way the
  CAVE scenes are photographed; the CASSI stand-in. A single snapshot can be
  unmixed far better for such scenes: through the mask it was trained with,
  the published simulation BiSRNet gains +6.9 dB over its input on them,
  +4.7 dB on mosaics and +8.9 dB on real CAVE crops (`docs/cassi.md`,
  "Synthetic scenes").

Numbers measured on either say nothing about accuracy on real data (the
real CAVE scenes and benchmark images in `../shared/` are the evidence).
"""

from __future__ import annotations

import numpy as np

from larq_hsi.spectra import wavelengths_for

__all__ = ["LAYOUTS", "synthetic_scene", "synthetic_scenes"]

LAYOUTS = ("mosaic", "objects")


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


def synthetic_scene(size=256, bands: int = 28, seed: int = 0, wavelengths=None,
                    layout: str = "mosaic") -> np.ndarray:
    r"""A seeded *synthetic* hyperspectral scene `(H, W, bands)`, float32 in [0, 1].

    A stand-in for demos and tests, not a benchmark, over the wavelengths
    (450-650 nm; the 28 CASSI bands by default). Smooth random spectra
    \(S\) are baselines, slopes, absorption edges and Gaussian bumps.

    `layout="mosaic"`:

    \[ X(p, \lambda) = \ell(p)\, \tau(p)\,
       \big[(1 - t(p))\, S_{r(p)}(\lambda) + t(p)\, S'_{r(p)}(\lambda)\big], \]

    with \(r(p)\) a region label (a Voronoi partition of warped coordinates,
    overlaid by a few ellipses and rectangles: sharp edges), \(S_r, S'_r\)
    two spectra per region, \(t\) a smooth field blending them
    (piecewise-smooth spectra), \(\tau = 1 + a_r\, T_r(p)\) a per-region
    texture (stripes, checkerboard or fine detail), and \(\ell\) smooth
    shading with a directional gradient.

    `layout="objects"`: a dark backdrop
    \(\beta\, S_0(\lambda) / \max S_0 \,(1 + 0.2 f(p))\) with \(f\) a smooth
    field and \(\beta \in [0.02, 0.12]\), in front of which 3-7 objects \(o\) are painted
    in turn (later ones occlude earlier ones), each a rotated ellipse with a
    wavy outline (radius \(\rho_o(p) \le 1\)) and

    \[ X(p, \lambda) = \sigma_o(p)\, \tau_o(p)\,
       \big[(1 - t(p))\, S_o(\lambda) + t(p)\, S'_o(\lambda)\big], \]

    where \(\sigma_o\) shades it like a lit dome (\(\sqrt{1 - \rho_o^2}\) plus a
    tilt towards a random light), and a third of the objects carry a faint
    texture \(\tau_o = 1 + a\, T(p)\), \(a \in [0.05, 0.2]\). Both are clipped to [0, 1].
    """
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    height, width = int(height), int(width)
    if height < 2 or width < 2 or bands < 1:
        raise ValueError(f"synthetic_scene needs a size of at least 2x2 and bands >= 1, got {size}, {bands}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    lam = wavelengths_for(bands) if wavelengths is None else np.asarray(wavelengths, dtype=np.float64)
    if lam.shape != (bands,):
        raise ValueError(f"expected {bands} wavelengths, got shape {lam.shape}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    draw = _mosaic if layout == "mosaic" else _objects
    return np.clip(draw(rng, yy, xx, lam), 0.0, 1.0).astype(np.float32)


def _mosaic(rng, yy: np.ndarray, xx: np.ndarray, lam: np.ndarray) -> np.ndarray:
    height, width = yy.shape
    scale = float(max(height, width))
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
    return cube * (texture * shading)[..., None]


def _objects(rng, yy: np.ndarray, xx: np.ndarray, lam: np.ndarray) -> np.ndarray:
    height, width = yy.shape
    scale = float(max(height, width))
    backdrop = _random_spectrum(rng, lam)
    backdrop *= rng.uniform(0.02, 0.12) / backdrop.max()
    cube = backdrop * (1.0 + 0.2 * _smooth_field(rng, height, width, 2))[..., None]
    for _ in range(int(rng.integers(3, 8))):
        cy, cx = rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width
        radius, aspect, angle = rng.uniform(0.08, 0.3) * scale, rng.uniform(0.6, 1.4), rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dy * np.cos(angle) + dx * np.sin(angle)) / (radius * aspect)
        v = (dx * np.cos(angle) - dy * np.sin(angle)) * aspect / radius
        rho = np.hypot(u, v) * (1.0 + 0.15 * _smooth_field(rng, height, width, 3))
        inside = rho <= 1.0
        spectrum = _random_spectrum(rng, lam) * rng.uniform(0.4, 1.0)
        second = np.clip(spectrum + 0.2 * (_random_spectrum(rng, lam) - 0.5), 0, 1)
        blend = 1.0 / (1.0 + np.exp(-2.0 * _smooth_field(rng, height, width, 2)))
        dome = np.sqrt(np.clip(1.0 - rho ** 2, 0.0, 1.0))
        light_u, light_v = rng.uniform(-0.6, 0.6, size=2)
        shade = np.clip(0.35 + 0.65 * (0.8 * dome + 0.3 * (light_u * u + light_v * v)), 0.1, 1.0)
        if rng.random() < 1 / 3:
            shade = shade * (1.0 + rng.uniform(0.05, 0.2) * _texture(rng, yy, xx, scale))
        painted = ((1.0 - blend)[..., None] * spectrum + blend[..., None] * second) * shade[..., None]
        cube[inside] = painted[inside]
    return cube


def synthetic_scenes(count: int, size=256, bands: int = 28, seed: int = 0,
                     layout: str = "mosaic") -> list[np.ndarray]:
    """`count` synthetic scenes of one `layout`, scene i drawn with seed `(seed, i)`."""
    return [synthetic_scene(size, bands, seed=np.random.SeedSequence([seed, i]), layout=layout)
            for i in range(count)]
