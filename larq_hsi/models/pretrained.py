"""Import the published BiSRNet weights (a PyTorch state dict saved as `.npz`).

The Keras layer names of `larq_hsi.models.BiSRNet` are the module paths of the
reference implementation, so each tensor maps to one Keras variable by name.
PyTorch layouts are converted on the way: conv kernels `(out, in/groups, kh, kw)`
become `(kh, kw, in/groups, out)`, per-channel vectors `(1, C, 1, 1)` become
`(C,)`, and RPReLU's first bias (added before the PReLU) becomes `-gamma`.

Users with the original `.pth` checkpoint convert it once with torch:

    import numpy as np, torch
    state = torch.load("BiSRNet.pth", map_location="cpu")
    state = state.get("model", state)  # some checkpoints wrap the state dict
    np.savez("bisrnet.npz", **{k.removeprefix("module."): v.numpy() for k, v in state.items()})
"""

from __future__ import annotations

import os
from collections.abc import Callable

import larq as lq
import numpy as np
import tensorflow as tf

from larq_hsi.nn import layers as L

__all__ = ["load_bisrnet_reference", "reference_assignments", "reference_state_dict"]

# Tensors of the real-system file that the real network never uses.
_UNUSED_BY_VARIANT = {"real": ("fution.",)}


def _kernel(value):
    return np.transpose(value, (2, 3, 1, 0))


def _vector(value):
    return np.reshape(value, (-1,))


def _kernel_back(value):
    return np.transpose(value, (3, 2, 0, 1))


def _vector_back(value):
    return np.reshape(value, (1, -1, 1, 1))


def reference_state_dict(model: tf.keras.Model) -> dict[str, np.ndarray]:
    """The model's weights in the reference (PyTorch) layout and naming: the inverse
    of `load_bisrnet_reference`, for going back to the reference implementation."""
    state = {}
    for key, (variable, convert) in reference_assignments(model).items():
        value = variable.numpy()
        if convert is _kernel:
            value = _kernel_back(value)
        elif key.endswith("binary_activation.beta"):
            value = np.reshape(value, (1,))
        elif key.endswith(("pr_prelu.weight", "norm.weight", "norm.bias")) or key == "fution.bias":
            value = np.reshape(value, (-1,))
        elif key.endswith("pr_bias0.bias"):
            value = _vector_back(-value)
        else:
            value = _vector_back(value)
        state[key] = value
    return state


def reference_assignments(model: tf.keras.Model) -> dict[str, tuple[tf.Variable, Callable]]:
    """Map each expected state-dict key to `(keras variable, converter)` for `model`."""
    table: dict[str, tuple[tf.Variable, Callable]] = {}

    def add(key, variable, convert):
        if key in table:
            raise ValueError(f"two Keras variables claim the reference tensor {key!r}")
        table[key] = (variable, convert)

    for layer in model.layers:
        name = layer.name
        if isinstance(layer, lq.layers.QuantConv2D):
            prefix = name.removesuffix(".binary_conv")
            add(f"{name}.weight", getattr(layer.kernel, "latent_variable", layer.kernel), _kernel)
            alpha = getattr(layer.input_quantizer, "alpha", None)
            if alpha is not None:
                add(f"{prefix}.binary_activation.beta", alpha, lambda v: np.reshape(v, ()))
            if layer.use_bias:
                add(f"{name}.bias", layer.bias, _vector)
        elif isinstance(layer, tf.keras.layers.Conv2D):
            add(f"{name}.weight", layer.kernel, _kernel)
            if layer.use_bias:
                add(f"{name}.bias", layer.bias, _vector)
        elif isinstance(layer, L.SpectralRedistribution):
            add(f"{name}.k", layer.k, _vector)
            add(f"{name}.b", layer.b, _vector)
        elif isinstance(layer, L.RPReLU):
            add(f"{name}.pr_bias0.bias", layer.gamma, lambda v: -_vector(v))
            add(f"{name}.pr_prelu.weight", layer.beta, _vector)
            add(f"{name}.pr_bias1.bias", layer.zeta, _vector)
        elif isinstance(layer, tf.keras.layers.LayerNormalization):
            add(f"{name}.weight", layer.gamma, _vector)
            add(f"{name}.bias", layer.beta, _vector)
        elif layer.weights:
            raise ValueError(
                f"layer {name!r} ({type(layer).__name__}) has weights but no mapping to the reference"
            )
    return table


def _read(path) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        with np.load(path) as data:
            return {key: data[key] for key in data.files}
    except Exception as error:  # np.load raises several types for a bad file
        raise ValueError(f"cannot read {path} as a .npz state dict: {error}") from None


def load_bisrnet_reference(model: tf.keras.Model, path, variant: str | None = None) -> tf.keras.Model:
    """Load a published BiSRNet state dict (`.npz`) into `model`, in place; returns `model`.

    Every tensor of the file is consumed exactly once and every Keras variable
    receives one; shapes are checked. For the real-system variant (detected
    from the model's inputs unless `variant` is given) the unused `fution.*`
    tensors are skipped. Raises `ValueError` naming the first missing or
    unexpected key, or the first shape mismatch.
    """
    if variant is None:
        variant = "simulation" if len(model.inputs) == 2 else "real"
    state = _read(path)
    skip = _UNUSED_BY_VARIANT.get(variant, ())
    state = {k: v for k, v in state.items() if not k.startswith(skip)}
    table = reference_assignments(model)

    missing = sorted(set(table) - set(state))
    if missing:
        raise ValueError(
            f"{path}: no tensor {missing[0]!r} for the model ({len(missing)} missing); "
            "is this the right weights file and model variant?"
        )
    unexpected = sorted(set(state) - set(table))
    if unexpected:
        raise ValueError(
            f"{path}: unexpected tensor {unexpected[0]!r} ({len(unexpected)} unused by the model)"
        )
    for key in sorted(table):
        variable, convert = table[key]
        value = convert(state[key])
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"{path}: tensor {key!r} has shape {state[key].shape}, which converts to "
                f"{value.shape}, but the model expects {tuple(variable.shape)}"
            )
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))
    return model
