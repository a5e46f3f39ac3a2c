"""Scoring a CASSI reconstruction model on cubes: measure, reconstruct, compare.

Each cube is measured through the mask (cropped to the cube's size), shifted
back and reconstructed by the model (simulation inputs `[H, Phi]`), then
scored against the cube.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from larq_hsi import metrics
from larq_hsi.checks import check_finite
from larq_hsi.tasks.cassi import physics

__all__ = ["evaluate_model"]


def evaluate_model(model: tf.keras.Model, cubes, mask, batch: int = 1) -> dict:
    """Per-scene and mean PSNR (whole cube and the papers' 8-bit per-band) and SSIM."""
    rows = []
    for index, cube in enumerate(cubes):
        cube = np.asarray(cube, np.float32)
        check_finite(cube, f"test cube {index}")
        h, w = cube.shape[:2]
        if mask.shape[0] < h or mask.shape[1] < w:
            raise ValueError(f"the mask {mask.shape} is smaller than test cube {index} {cube.shape[:2]}")
        sim = physics.simulate(cube[None], mask[:h, :w])
        pred = model.predict([sim.H, sim.Phi], batch_size=batch, verbose=0)[0]
        rows.append({
            "scene": index,
            "psnr": float(metrics.psnr(cube, pred)),
            "psnr_8bit": float(metrics.psnr_per_band_8bit(cube, np.clip(pred, 0, 1), scale=256)),
            "ssim": float(metrics.ssim(cube, np.clip(pred, 0, 1))),
        })
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "psnr_8bit", "ssim")}
    return {"scenes": rows, "mean": mean}
