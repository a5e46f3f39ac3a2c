"""Input validation with errors that say what was expected and what came.

Keras reports a wrong band count only as an axis mismatch deep in a layer,
lets an `H`/mask size mismatch surface as a concat error, and propagates NaN
silently. `check_inputs` catches all three before a model runs; `reconstruct`
runs a model behind it.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["check_finite", "check_input_size", "check_inputs", "reconstruct"]


def check_finite(array, what: str = "input") -> None:
    """Raise `ValueError` if `array` holds NaN or infinity, with where and how many."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{what} must be finite, got {int(bad.sum())} NaN/inf value(s) "
                f"(first at index {first})"
            )


def check_input_size(input_size, what: str = "input_size"):
    """`(height, width)` as a tuple of positive ints, or `None` (a model for any size).

    The one spelling of a model's spatial input size; anything else raises a
    `ValueError` saying what was expected.
    """
    if input_size is None:
        return None
    try:
        size = tuple(input_size)
    except TypeError:
        size = ()
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1
                             for s in size):
        raise ValueError(
            f"{what} must be (height, width) with positive integer sizes, or None, got {input_size!r}"
        )
    return tuple(int(s) for s in size)


def check_inputs(model: tf.keras.Model, inputs) -> list[np.ndarray]:
    """Validate `inputs` against `model.inputs`; returns them as a list of arrays.

    Checks the number of inputs, each rank, the fixed dimensions (band count,
    fixed spatial size), that all image inputs share one height and width, and
    that every value is finite. A missing batch axis is added.
    """
    specs = model.inputs
    arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(arrays) != len(specs):
        names = [s.name.split(":")[0] for s in specs]
        raise ValueError(f"{model.name} expects {len(specs)} input(s) {names}, got {len(arrays)}")
    checked = []
    spatial = None
    for spec, array in zip(specs, arrays):
        name = spec.name.split(":")[0]
        array = np.asarray(array)
        expected = tuple(spec.shape)
        if array.ndim == len(expected) - 1:
            array = array[None]
        if array.ndim != len(expected):
            raise ValueError(
                f"input {name!r}: expected shape {_fmt(expected)}, got {array.shape}"
            )
        for axis, (want, got) in enumerate(zip(expected[1:], array.shape[1:]), start=1):
            if want is not None and want != got:
                what = "bands (last axis)" if axis == len(expected) - 1 and len(expected) == 4 else f"axis {axis}"
                raise ValueError(
                    f"input {name!r}: expected {want} {what}, got {got} "
                    f"(expected shape {_fmt(expected)}, got {array.shape})"
                )
        if len(expected) == 4:
            if spatial is None:
                spatial = (name, array.shape[1:3])
            elif array.shape[1:3] != spatial[1]:
                raise ValueError(
                    f"input {name!r} is {array.shape[1]}x{array.shape[2]} but {spatial[0]!r} is "
                    f"{spatial[1][0]}x{spatial[1][1]}: the measurement-derived input and the mask "
                    "must have the same height and width"
                )
        check_finite(array, f"input {name!r}")
        checked.append(array.astype(spec.dtype.as_numpy_dtype, copy=False))
    return checked


def reconstruct(model: tf.keras.Model, inputs, batch_size: int = 1) -> np.ndarray:
    """`model.predict` after `check_inputs`; returns the reconstruction as an array.

    The inputs reach the model as tensors of its own input dtypes: Keras's
    `predict` casts NumPy float arrays to `floatx()` (float32) first, which
    would feed a float64 model rounded inputs.
    """
    tensors = [tf.convert_to_tensor(a) for a in check_inputs(model, inputs)]
    return model.predict(tensors if len(tensors) > 1 else tensors[0], batch_size=batch_size, verbose=0)


def _fmt(shape: Sequence) -> str:
    return "(" + ", ".join("B" if i == 0 else ("any" if d is None else str(d)) for i, d in enumerate(shape)) + ")"
