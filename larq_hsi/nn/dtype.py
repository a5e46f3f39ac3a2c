"""The one place a model's dtype is set while it is built.

Keras layers, `tf.keras.Input` and the quantizers larq builds from an alias
(`input_quantizer="ste_sign"`) all take their dtype from global state when
none is passed: the layers and quantizers from the global mixed-precision
policy, `Input` from `tf.keras.backend.floatx()`. Passing `dtype=` to every
layer and every quantizer of a 300-layer model is what float64 parity needs,
and what this context does once instead:

    with default_dtype("float64"):
        model = build_the_graph()      # every layer, input and quantizer in float64

The model builders of `larq_hsi.models` wrap themselves in it, so
`BiSRNet(dtype="float64")` is float64 throughout and the functional helpers
of `larq_hsi.nn` take no dtype argument. The previous state is restored on
exit, also after an error. It is process-global state: do not build models of
two dtypes from two threads at once.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

__all__ = ["default_dtype"]


@contextlib.contextmanager
def default_dtype(dtype):
    """Build everything inside the block in `dtype` ("float32", "float64", ...)."""
    name = tf.as_dtype(dtype).name
    policy = tf.keras.mixed_precision.global_policy()
    floatx = tf.keras.backend.floatx()
    tf.keras.mixed_precision.set_global_policy(name)
    tf.keras.backend.set_floatx(name)
    try:
        yield name
    finally:
        tf.keras.backend.set_floatx(floatx)
        tf.keras.mixed_precision.set_global_policy(policy)
