"""Scoring a CASSI reconstruction model on cubes: measure, reconstruct, compare, beside the input alone.

Each cube (centre-cropped to `crop` if given) is measured through the mask
(its top-left window of the cube's size), without noise, and reconstructed
by the model, then scored against the cube. A simulation model (two inputs)
gets `[H, Phi]` (`physics.simulate`); a real-system model (one input) gets
the scaled measurement \\(y = Y \\cdot 2/N \\cdot 1.2\\)
(`physics.real_network_input`), as it was trained. The trivial baseline of
the task is scored the same way beside it: the network input alone, shifted
back, \\(\\mathrm{clip}(H, 0, 1)\\) (simulation) or
\\(\\mathrm{clip}(\\mathrm{shift\\_back}(y), 0, 1)\\) (real), what every
reconstruction starts from (and what `start_at_input` outputs). A model that
does not beat it has learned nothing useful.

Metrics per scene (and their means): `psnr` (whole cube, peak 1),
`psnr_8bit` (the CASSI papers' and MST's convention: `round(256 x)` levels,
PSNR per band, mean over bands), `ssim` and `sam` (degrees); each also as
`input_*` for the input alone.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from larq_hsi import metrics
from larq_hsi.checks import check_finite
from larq_hsi.tasks.cassi import physics

__all__ = ["METRICS", "centre_crop", "evaluate_model", "network_inputs", "score"]

#: The per-scene metrics, for the model and (prefixed `input_`) for the input alone.
METRICS = ("psnr", "psnr_8bit", "ssim", "sam")


def centre_crop(cube: np.ndarray, size: int | None) -> np.ndarray:
    """The central `size` x `size` window of a cube (`None`: the cube), or a `ValueError` if it is smaller."""
    if size is None:
        return cube
    h, w = cube.shape[:2]
    if h < size or w < size:
        raise ValueError(f"cannot crop a {h}x{w} cube to {size}x{size}")
    top, left = (h - size) // 2, (w - size) // 2
    return cube[top : top + size, left : left + size]


def score(truth, estimate) -> dict:
    """`METRICS` of `estimate` against `truth` (both `(H, W, N)`); the estimate is clipped to [0, 1]
    for the 8-bit PSNR, SSIM and SAM, as the papers' scripts do."""
    clipped = np.clip(estimate, 0, 1)
    return {
        "psnr": float(metrics.psnr(truth, estimate)),
        "psnr_8bit": float(metrics.psnr_per_band_8bit(truth, clipped, scale=256)),
        "ssim": float(metrics.ssim(truth, clipped)),
        "sam": float(metrics.sam(truth, clipped)),
    }


def network_inputs(model: tf.keras.Model, cube: np.ndarray, mask: np.ndarray):
    """`(inputs, input alone)` of `model` for one cube `(H, W, N)` seen through `mask` `(H, W)`, noiseless.

    Two model inputs: the simulation variant's `[H, Phi]`; one: the real variant's
    scaled measurement `y` (`physics.real_network_input`). The input alone is `H`,
    resp. `shift_back(y)`, `(H, W, N)`.
    """
    bands = cube.shape[-1]
    sim = physics.simulate(cube[None], mask)
    if len(model.inputs) == 2:
        return [sim.H, sim.Phi], sim.H.numpy()[0]
    if len(model.inputs) != 1:
        raise ValueError(f"a CASSI model takes [H, Phi] (simulation) or the measurement (real), "
                         f"got {len(model.inputs)} inputs")
    y = physics.real_network_input(sim.measurement, bands)
    return y, physics.shift_back(y, bands).numpy()[0]


def evaluate_model(model: tf.keras.Model, cubes, mask, crop: int | None = None, names=None,
                   batch: int = 1) -> dict:
    """Per-scene and mean `METRICS` of `model` and of the input alone on `cubes`.

    Returns `{"scenes": [{"scene", "psnr", ..., "input_psnr", ...}], "mean": {...}}`;
    `names` label the scenes (default 0, 1, ...).
    """
    rows = []
    names = list(range(len(cubes))) if names is None else list(names)
    mask = np.asarray(mask, np.float32)
    for name, cube in zip(names, cubes):
        cube = centre_crop(np.asarray(cube, np.float32), crop)
        check_finite(cube, f"test cube {name}")
        h, w = cube.shape[:2]
        if mask.shape[0] < h or mask.shape[1] < w:
            raise ValueError(f"the mask {mask.shape} is smaller than test cube {name} {cube.shape[:2]}")
        inputs, start = network_inputs(model, cube, mask[:h, :w])
        pred = model.predict(inputs, batch_size=batch, verbose=0)[0]
        baseline = np.clip(start, 0, 1)
        rows.append({"scene": name, **score(cube, pred),
                     **{f"input_{k}": v for k, v in score(cube, baseline).items()}})
    keys = [*METRICS, *(f"input_{k}" for k in METRICS)]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    return {"scenes": rows, "mean": mean}
