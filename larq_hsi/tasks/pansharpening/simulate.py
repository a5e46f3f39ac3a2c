r"""Wald's protocol (HS-BiNet Appendix A.2): a pan-sharpening sample simulated from a reference cube.

The original cube is the reference \(X\) (`gt`); the low-resolution input
(`ms`) is \(X\) blurred by a Gaussian (an MTF-like low-pass) and decimated by
the ratio \(s\) (one pixel in every \(s\), each direction); the PAN image is
\(P = \sum_b r_b X_b\) with a spectral response \(r\) (\(\sum_b r_b = 1\));
`lms` is `ms` upsampled back by bicubic interpolation. Samples are dicts
`{"gt", "ms", "lms", "pan"}` of channels-last float32 arrays, either one
image `(H, W, C)` or a stack `(N, H, W, C)`; `pan` has one channel.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import tensorflow as tf

from larq_hsi import io

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tensorflow_addons as tfa

__all__ = ["DEFAULT_GNYQ", "KEYS", "default_spectral_response", "mtf_sigma", "simulate", "simulate_from_file"]

#: The arrays of a pan-sharpening sample, in the HyperPanCollection's names.
KEYS = ("gt", "ms", "lms", "pan")

#: Gain of the sensor's MTF at the Nyquist frequency of the low-resolution image.
DEFAULT_GNYQ = 0.3


def mtf_sigma(ratio: int, gnyq: float = DEFAULT_GNYQ) -> float:
    r"""Std (in high-resolution pixels) of the Gaussian whose response at the LR Nyquist frequency is `gnyq`.

    A Gaussian of std \(\sigma\) has frequency response \(e^{-2\pi^2\sigma^2 f^2}\);
    at \(f = 1/(2s)\) cycles/pixel this equals \(G\) for
    \(\sigma = s\sqrt{-2\ln G}/\pi\) (1.976 px for \(s = 4\), \(G = 0.3\)).
    """
    if not 0 < gnyq < 1:
        raise ValueError(f"gnyq must be in (0, 1), got {gnyq!r}")
    return ratio * math.sqrt(-2.0 * math.log(gnyq)) / math.pi


def default_spectral_response(bands: int, wavelengths=None, pan_range=(450.0, 900.0)) -> np.ndarray:
    """A flat panchromatic response, normalised to sum 1.

    With `wavelengths` (nm, one per band): equal weights on the bands inside
    `pan_range` (a typical 450-900 nm PAN band); otherwise, or if no band falls
    inside, equal weights on all bands (the PAN is the band mean).
    """
    if bands < 1:
        raise ValueError(f"bands must be >= 1, got {bands}")
    weights = np.ones(bands)
    if wavelengths is not None:
        lam = np.asarray(wavelengths, dtype=np.float64)
        if lam.shape != (bands,):
            raise ValueError(f"expected {bands} wavelengths, got shape {lam.shape}")
        inside = (lam >= pan_range[0]) & (lam <= pan_range[1])
        if inside.any():
            weights = inside.astype(np.float64)
    return weights / weights.sum()


def _check_srf(srf, bands: int) -> np.ndarray:
    srf = np.asarray(srf, dtype=np.float64).reshape(-1)
    if srf.shape != (bands,):
        raise ValueError(f"srf: expected one response per band ({bands}), got {srf.size} values")
    if np.any(srf < 0) or not np.all(np.isfinite(srf)) or srf.sum() <= 0:
        raise ValueError("srf: responses must be finite, >= 0 and not all zero")
    return srf / srf.sum()


def simulate(
    reference,
    ratio: int = 4,
    sigma: float | None = None,
    gnyq: float = DEFAULT_GNYQ,
    kernel_size: int | None = None,
    srf=None,
    wavelengths=None,
    phase: int = 0,
    interpolation: str = "bicubic",
) -> dict:
    r"""Wald's-protocol simulation of a pan-sharpening sample from a reference cube.

    `reference`: `(H, W, B)` or `(N, H, W, B)`, cropped to a multiple of `ratio`.
    Returns `{"gt", "ms", "lms", "pan"}` (float32, same batching as the input):

    - `ms = decimate(G_sigma * gt)`: Gaussian blur (`tfa.image.gaussian_filter2d`,
      reflect padding, `kernel_size` default \(2\lceil 3\sigma\rceil + 1\),
      `sigma` default `mtf_sigma(ratio, gnyq)`), then every `ratio`-th pixel
      starting at `phase` in both directions;
    - `pan = sum_b srf_b gt_b` (`srf` normalised to sum 1; default
      `default_spectral_response(B, wavelengths)`);
    - `lms`: `ms` upsampled by `ratio` with `tf.image.resize(method=interpolation)`.
    """
    x = np.asarray(reference, dtype=np.float32)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"simulate: reference must be (H, W, B) or (N, H, W, B), got shape {np.shape(reference)}")
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        raise ValueError(f"simulate: ratio must be an integer >= 1, got {ratio!r}")
    if not 0 <= phase < ratio:
        raise ValueError(f"simulate: phase must be in [0, ratio), got {phase}")
    height, width = (x.shape[1] // ratio) * ratio, (x.shape[2] // ratio) * ratio
    if height == 0 or width == 0:
        raise ValueError(f"simulate: the reference ({x.shape[1]}x{x.shape[2]}) is smaller than the ratio {ratio}")
    x = x[:, :height, :width]
    bands = x.shape[-1]
    sigma = mtf_sigma(ratio, gnyq) if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"simulate: sigma must be > 0, got {sigma}")
    if kernel_size is None:
        kernel_size = 2 * math.ceil(3 * sigma) + 1
    blurred = tfa.image.gaussian_filter2d(
        tf.constant(x), filter_shape=(kernel_size, kernel_size), sigma=sigma, padding="REFLECT"
    ).numpy()
    ms = blurred[:, phase::ratio, phase::ratio]
    srf = default_spectral_response(bands, wavelengths) if srf is None else _check_srf(srf, bands)
    pan = np.tensordot(x.astype(np.float64), srf, axes=([-1], [0]))[..., None].astype(np.float32)
    lms = tf.image.resize(ms, (height, width), method=interpolation).numpy().astype(np.float32)
    sample = {"gt": x, "ms": ms.astype(np.float32), "lms": lms, "pan": pan}
    return {k: v[0] for k, v in sample.items()} if single else sample


def simulate_from_file(path, ratio: int = 4, key: str | None = None, scale="auto", **simulate_kwargs) -> dict:
    """Read a raw cube with `larq_hsi.io.load_cube` (path, `key`, `scale`) and `simulate` a sample from it."""
    cube = io.load_cube(path, key=key, scale=scale)
    if min(cube.shape[:2]) < ratio:
        raise ValueError(f"{path}: the cube ({cube.shape[0]}x{cube.shape[1]}) is smaller than the ratio {ratio}")
    return simulate(cube, ratio=ratio, **simulate_kwargs)
