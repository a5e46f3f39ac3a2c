"""Finding layers, quantizers and quantizer variables inside a model (nested models included).

The one copy the complexity counts, the callbacks, the optimizer and the
exporters share.
"""

from __future__ import annotations

from collections.abc import Iterator

import tensorflow as tf

__all__ = ["QUANTIZER_ROLES", "find_quantizers", "iter_layers", "quantizer_variables"]

#: The attributes of larq layers that hold quantizers.
QUANTIZER_ROLES = ("input_quantizer", "kernel_quantizer", "depthwise_quantizer", "pointwise_quantizer")


def iter_layers(model: tf.keras.Model) -> Iterator[tf.keras.layers.Layer]:
    """Every layer of `model`, descending into nested models."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from iter_layers(layer)
        else:
            yield layer


def find_quantizers(model: tf.keras.Model) -> list[tuple[tf.keras.layers.Layer, str, tf.keras.layers.Layer]]:
    """`(layer, role, quantizer)` for every quantizer of every layer (nested models included).

    `role` is the attribute holding it: "input_quantizer", "kernel_quantizer", ...
    """
    found = []
    for layer in iter_layers(model):
        for role in QUANTIZER_ROLES:
            quantizer = getattr(layer, role, None)
            if isinstance(quantizer, tf.keras.layers.Layer):
                found.append((layer, role, quantizer))
    return found


def quantizer_variables(model: tf.keras.Model) -> list[tf.Variable]:
    """The variables owned by the quantizers of `model`'s layers (alpha, lambda, ...), deduplicated.

    A lambda shared by two ATISTE quantizers appears once.
    """
    found, seen = [], set()
    for _, _, quantizer in find_quantizers(model):
        variables = list(quantizer.weights)
        lam = getattr(quantizer, "lam", None)  # ATISTE's possibly shared lambda
        if isinstance(lam, tf.Variable):
            variables.append(lam)
        for v in variables:
            if id(v) not in seen:
                seen.add(id(v))
                found.append(v)
    return found
