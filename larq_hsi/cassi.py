r"""Coded-aperture snapshot spectral imaging (CASSI) physics, in TensorFlow.

A single-disperser CASSI measures a 2-D snapshot of a cube \(X\) of N bands:
each band is masked by the coded aperture \(\Phi\), shifted along the width by
\(d\,n\) pixels (dispersion step d) and summed,
\(Y(x, y) = \sum_n \Phi(x, y - dn) X(x, y - dn, n)\), so a width-W cube gives a
measurement of width \(W + d(N-1)\). The shift-back (BiSRNet Eq. 1) reads
band n's window \(H(x, y, n) = Y(x, y + dn)\).
"""

from __future__ import annotations

import tensorflow as tf
from larq import utils as lq_utils

__all__ = ["ShiftBack", "shift_back"]


def shift_back(measurement, bands: int = 28, step: int = 2, scale: float | None = None):
    """Windows of a measurement `(B, H, W + step (bands - 1))` -> `(B, H, W, bands)`.

    Band n is `measurement[:, :, step n : step n + W]`. With `scale`, the result
    is multiplied by it (the simulation pipeline of the reference uses `2 / bands`).
    """
    measurement = tf.convert_to_tensor(measurement)
    if measurement.shape.rank != 3:
        raise ValueError(
            f"shift_back expects a measurement of shape (batch, height, width), got {measurement.shape}"
        )
    width = measurement.shape[2]
    if width is not None:
        cube_width = width - step * (bands - 1)
        if cube_width <= 0:
            raise ValueError(
                f"a measurement {width} wide is too narrow for {bands} bands at step {step}: "
                f"expected width W + {step * (bands - 1)} with W > 0"
            )
    else:
        cube_width = tf.shape(measurement)[2] - step * (bands - 1)
    windows = [measurement[:, :, step * n : step * n + cube_width] for n in range(bands)]
    cube = tf.stack(windows, axis=-1)
    if scale is not None:
        cube = cube * tf.cast(scale, cube.dtype)
    return cube


@lq_utils.register_keras_custom_object
class ShiftBack(tf.keras.layers.Layer):
    """`shift_back` as a layer: a raw measurement in, the N-band network input out."""

    def __init__(self, bands: int = 28, step: int = 2, scale: float | None = None, **kwargs):
        if bands < 1 or step < 0:
            raise ValueError(f"ShiftBack needs bands >= 1 and step >= 0, got bands={bands}, step={step}")
        self.bands = int(bands)
        self.step = int(step)
        self.scale = scale
        super().__init__(**kwargs)

    def call(self, inputs):
        return shift_back(inputs, self.bands, self.step, self.scale)

    def get_config(self):
        return {**super().get_config(), "bands": self.bands, "step": self.step, "scale": self.scale}
