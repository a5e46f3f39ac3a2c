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

__all__ = ["default_dtype", "rebuilt_in"]


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


def _is_float_dtype(value) -> bool:
    """Whether a config's `dtype` entry (a name or a serialized policy) is a floating-point one."""
    if isinstance(value, dict):
        value = value.get("config", {}).get("name", "")
    try:
        return isinstance(value, str) and tf.as_dtype(value.replace("mixed_", "")).is_floating
    except TypeError:
        return False


def _config_in(value, name: str):
    """A layer or model config with every floating-point `dtype` entry set to `name`."""
    if isinstance(value, dict):
        return {k: name if k == "dtype" and _is_float_dtype(v) else _config_in(v, name)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_config_in(v, name) for v in value)
    return value


def rebuilt_in(model: tf.keras.Model, dtype) -> tf.keras.Model:
    """A functional `model` rebuilt from its config in `dtype`, with its weights cast to it.

    For example the float64 twin of a trained float32 model, which computes
    what the float32 one rounds: `rebuilt_in(model, "float64")`. Only
    floating-point dtypes change (an int32 input stays int32). The model must
    be functional or sequential (a subclassed model has no config to rebuild).
    """
    name = tf.as_dtype(dtype).name
    with default_dtype(name):
        twin = type(model).from_config(_config_in(model.get_config(), name))
    # By attribute path: the flat weight order can differ after a rebuild (ATISTEConv2D's shared lambda).
    paths = twin.get_weight_paths()
    for path, variable in model.get_weight_paths().items():
        paths[path].assign(tf.cast(variable, paths[path].dtype))
    return twin
