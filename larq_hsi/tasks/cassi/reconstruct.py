"""A CASSI measurement in, a reconstructed cube out: real-system or simulated measurements.

`reconstruct_measurement` takes a 2-D measurement `(H, W + step (bands - 1))`
and a model (a SavedModel's Keras model, or the published BiSRNet weights
loaded into a new network), prepares the inputs the model expects and
returns the cube `(H, W, bands)` clipped to [0, 1]:

- real-system models (one input): the measurement scaled as the reference
  does (`physics.prepare_real_measurement`);
- simulation models (inputs `H`, `Phi`): `H = shift_back(y 2 / N)` and the
  3-D mask, which needs the 2-D `mask` (H, W).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from larq_hsi.checks import reconstruct
from larq_hsi.models.bisrnet import BiSRNet
from larq_hsi.tasks.cassi import physics

__all__ = ["check_mask_for", "reconstruct_measurement"]


def check_mask_for(measurement: np.ndarray, mask: np.ndarray, bands: int = 28, step: int = 2) -> np.ndarray:
    """`mask` as float32 if it fits `measurement` (`(H, W)` for `(H, W + step (bands - 1))`), else `ValueError`."""
    width = measurement.shape[1] - step * (bands - 1)
    if width <= 0:
        raise ValueError(f"a {measurement.shape} measurement is too narrow for {bands} bands at step {step}")
    mask = np.asarray(mask, np.float32)
    if mask.shape != (measurement.shape[0], width):
        raise ValueError(
            f"mask {mask.shape} does not match the measurement {measurement.shape}: expected "
            f"({measurement.shape[0]}, {width}) = (height, width - {step * (bands - 1)})"
        )
    return mask


def reconstruct_measurement(measurement, model: tf.keras.Model | None = None, *, weights=None,
                            variant: str = "real", mask=None, bands: int = 28, step: int = 2,
                            dtype="float32") -> np.ndarray:
    """The cube `(H, W, bands)` reconstructed from a 2-D `measurement`, clipped to [0, 1].

    Give exactly one of `model` (its variant follows from its inputs) or
    `weights` (published BiSRNet weights for `variant`: "simulation", "real"
    or a `.pth`/`.npz` path, loaded into a new BiSRNet for any size, in `dtype`). The simulation variant needs `mask`.
    The inputs are prepared in the model's dtype, so a float64 model
    reproduces the reference's float64 run.
    """
    y = np.asarray(measurement, np.float64)
    if y.ndim != 2:
        raise ValueError(f"a measurement must be 2-D (height, width), got shape {y.shape}")
    if (model is None) == (weights is None):
        raise ValueError("give exactly one of a model (--model SAVEDMODEL) or published weights (--weights)")
    if mask is not None:  # checked before the (slow) model build
        mask = check_mask_for(y, mask, bands, step)
    if model is None:
        model = BiSRNet(variant, input_size=None, dtype=dtype, weights=weights)
    else:
        variant = "simulation" if len(model.inputs) == 2 else "real"
    model_dtype = model.inputs[0].dtype.as_numpy_dtype
    if variant == "real":
        inputs = [physics.prepare_real_measurement(y)]
    else:
        if mask is None:
            raise ValueError("the simulation variant needs the 2-D coded-aperture mask (--mask)")
        # In the model's dtype: the reference's float32 pipeline rounds exactly so.
        h = physics.network_input(y[None].astype(model_dtype), bands, step).numpy()
        inputs = [h, np.asarray(physics.mask_3d(mask.astype(model_dtype), bands))[None]]
    return np.clip(reconstruct(model, inputs)[0], 0.0, 1.0)
