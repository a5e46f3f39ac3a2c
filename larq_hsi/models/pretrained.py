r"""The published BiSRNet weights: by name or file, fetched and checked like larq-zoo's.

`BiSRNet(weights="simulation")` (or `"real"`) resolves a name through
`tf.keras.utils.get_file`: the authors' checkpoint downloads once into
Keras's cache (`$KERAS_HOME/larq_hsi/`, `~/.keras/larq_hsi/` by default), its
sha256 is checked, and a cached file with the right hash is never fetched
again. A path to a `.pth` (the authors' PyTorch checkpoint) or `.npz` (the
same tensors saved with NumPy) loads as well.

| name | file | sha256 | origin |
| --- | --- | --- | --- |
| `"simulation"` | `bisrnet_simulation.pth` | `a06452f8...fad0` | BiSCI `simulation/test_code/model_zoo/bisrnet.pth` |
| `"real"` | `bisrnet_real.pth` | `1cc171b6...e2ca` | BiSCI `real/test_code/model_zoo/bisrnet.pth` |

A `.pth` is read by `larq_hsi.pth.read_torch_state_dict`, which never imports
torch and never runs the pickle's code. The authors' real-system checkpoint is
a whole pickled model (`torch.save(model)`), which names the model's classes;
it is read with those classes as inert placeholders only because its hash
identifies it (any other file naming classes is refused).

The Keras layer names of `larq_hsi.models.BiSRNet` and of the Table 1
baselines (`larq_hsi.models.BinarizedUNet(method)`) are the module paths of the
reference implementations, so each tensor maps to one Keras variable by name
(`load_reference(model, state)`, inverse `reference_state_dict(model)`).
PyTorch layouts are converted on the way: conv kernels `(out, in/groups, kh, kw)`
become `(kh, kw, in/groups, out)` (Bi-Real's flat `(out * in/groups * kh * kw, 1)`
kernels are read in C order as `(out, in/groups, kh, kw)` first), per-channel
vectors `(1, C, 1, 1)` and BTM's gains `(O, 1, 1, 1)` become `(C,)`, BatchNorm's
weight, bias and running statistics map to gamma, beta and the moving mean and
variance, and RPReLU's first bias (added before the PReLU) becomes `-gamma`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import larq as lq
import numpy as np
import tensorflow as tf

from larq_hsi.nn import layers as L
from larq_hsi.pth import read_torch_state_dict

__all__ = [
    "PUBLISHED",
    "Published",
    "fetch",
    "load_bisrnet_reference",
    "load_reference",
    "read_state",
    "read_torch_state_dict",
    "reference_assignments",
    "reference_state_dict",
    "resolve",
]


@dataclasses.dataclass(frozen=True)
class Published:
    """One published checkpoint: its cache file name, origin URL, sha256 and BiSRNet variant."""

    fname: str
    origin: str
    sha256: str
    variant: str
    pickled_module: bool = False  # a whole torch.save(model), read with inert placeholders


_BISCI = "https://github.com/caiyuanhao1998/BiSCI/raw/master"

#: The published BiSRNet checkpoints by name.
PUBLISHED = {
    "simulation": Published("bisrnet_simulation.pth", f"{_BISCI}/simulation/test_code/model_zoo/bisrnet.pth",
                            "a06452f8d4f68f575809afb374ff15ca56956bd12dcbe9472081116a5782fad0", "simulation"),
    "real": Published("bisrnet_real.pth", f"{_BISCI}/real/test_code/model_zoo/bisrnet.pth",
                      "1cc171b6c541be216adc91450216046358281fdead159498365583fc1080e2ca", "real",
                      pickled_module=True),
}

#: sha256 -> variant of every known copy of the published weights (the `.pth` files and
#: their `.npz` conversions), so a known file given for the other variant is refused.
KNOWN_FILES = {
    **{p.sha256: p.variant for p in PUBLISHED.values()},
    "7cb165a5bf2414e5f83511b64374a55dd2c158004908389d4419888e7d8b7eab": "simulation",  # .npz
    "f3adb0d4b655da9874dfb16437bb2b2401704cff8d286f7728d36f17ba92e3ee": "real",  # .npz
}


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "larq_hsi"


def fetch(name: str) -> Path:
    """The local path of the published checkpoint `name`, downloaded into Keras's cache if absent.

    A cached file with the right sha256 is used as is; one with another hash
    is fetched again. Without network and without a cached copy the error
    says where to put the file.
    """
    if name not in PUBLISHED:
        raise ValueError(f"unknown published weights {name!r}; expected one of {sorted(PUBLISHED)} "
                         "or a path to a .pth/.npz file")
    entry = PUBLISHED[name]
    cached = _cache_dir() / entry.fname
    if cached.is_file() and _sha256(cached) == entry.sha256:
        return cached
    try:
        path = tf.keras.utils.get_file(entry.fname, entry.origin, file_hash=entry.sha256,
                                       hash_algorithm="sha256", cache_subdir="larq_hsi",
                                       cache_dir=str(_cache_dir().parent))
    except Exception as error:  # no network, HTTP errors, a download with the wrong hash
        raise ValueError(
            f"cannot fetch the published {name!r} weights from {entry.origin} ({type(error).__name__}: "
            f"{error}); without network, put the file at {cached} (sha256 {entry.sha256})"
        ) from None
    if _sha256(path) != entry.sha256:
        raise ValueError(f"{path}: sha256 does not match the published {name!r} weights ({entry.sha256})")
    return Path(path)


def resolve(weights, variant: str) -> tuple[Path, str | None]:
    """`(path, known variant or None)` for a name or a path, refusing a mismatch of variants.

    A name must fit `variant`; a path whose hash identifies a published file of
    the other variant is refused too.
    """
    if isinstance(weights, str) and weights in PUBLISHED:
        if PUBLISHED[weights].variant != variant:
            raise ValueError(f"weights={weights!r} are the {PUBLISHED[weights].variant} BiSRNet's; "
                             f"this is the {variant} variant")
        return fetch(weights), variant
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path} (names: {sorted(PUBLISHED)})")
    known = KNOWN_FILES.get(_sha256(path))
    if known is not None and known != variant:
        raise ValueError(f"{path} holds the published {known} BiSRNet weights (recognised by its sha256); "
                         f"this is the {variant} variant")
    return path, known


def read_state(path) -> dict[str, np.ndarray]:
    """The tensors of a `.npz` or `.pth` state dict, by name (PyTorch layouts)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix.lower() == ".pth":
        digest = _sha256(path)
        pickled_module = any(p.sha256 == digest and p.pickled_module for p in PUBLISHED.values())
        return read_torch_state_dict(path, allow_pickled_module=pickled_module)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as error:  # np.load raises several types for a bad file
        raise ValueError(f"cannot read {path} as a .npz state dict: {error}") from None


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


def _flat_kernel(shape):
    """Bi-Real's flat `(O * I/g * kh * kw, 1)` reference kernel -> Keras `(kh, kw, I/g, O)`."""
    kh, kw, fan, out = shape

    def convert(value):
        if value.shape != (out * fan * kh * kw, 1):
            return value  # not this layer's flat kernel: the shape check names it
        return _kernel(np.reshape(value, (out, fan, kh, kw)))

    return convert


def _flat_kernel_back(value):
    return np.reshape(_kernel_back(value), (-1, 1))


def _scalar_back(value):
    return np.reshape(value, (1,))


def _gain_back(value):
    return np.reshape(value, (-1, 1, 1, 1))


def _negate(convert):
    return lambda value: -convert(value)


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One reference tensor: the Keras variable, PyTorch layout -> Keras, and Keras -> PyTorch layout."""

    variable: tf.Variable
    to_keras: Callable
    to_reference: Callable


def _rprelu_keys(name: str) -> tuple[str, str, str]:
    """The reference names of an RPReLU layer's (gamma = -bias0, slope, zeta = bias1).

    `<p>.act<i>` (BTM's and ReActNet's `A`, three modules) holds `<p>.move<i>2.bias`,
    `<p>.prelu<i>.weight`, `<p>.move<i>3.bias`; any other name `<n>` (BiSRNet's and
    BBCU's `RPReLU` module) holds `<n>.pr_bias0.bias`, `<n>.pr_prelu.weight`, `<n>.pr_bias1.bias`.
    """
    prefix, _, last = name.rpartition(".")
    if prefix and last.startswith("act") and last[3:].isdigit():
        i = last[3:]
        return f"{prefix}.move{i}2.bias", f"{prefix}.prelu{i}.weight", f"{prefix}.move{i}3.bias"
    return f"{name}.pr_bias0.bias", f"{name}.pr_prelu.weight", f"{name}.pr_bias1.bias"


def _entries(model: tf.keras.Model) -> dict[str, _Entry]:
    """Every reference tensor of `model` by its state-dict key.

    Layer names are the reference's module paths; per layer kind:

    | Keras layer | reference tensors |
    | --- | --- |
    | `QuantConv2D` `<n>` | `<n>.weight` (Bi-Real's flat when the layer is a `FlatQuantConv2D`), `<n>.gain` (BTM's `ScaledStandardizedSign`), `<p>.binary_activation.beta` (BiSRNet's `TanhSign`, `<p>` = `<n>` without `.binary_conv`), `<n>.bias` |
    | `Conv2D` `<n>` | `<n>.weight`, `<n>.bias` |
    | `BatchNormalization` `<n>` | `<n>.weight`, `.bias`, `.running_mean`, `.running_var` |
    | `LayerNormalization` `<n>` | `<n>.weight`, `.bias` |
    | `LearnableBias` `<n>` | `<n>.bias` (1, C, 1, 1) |
    | `SpectralRedistribution` `<n>` | `<n>.k`, `<n>.b` (1, C, 1, 1) |
    | `RPReLU` | see `_rprelu_keys` |

    Quantizer variables without a reference tensor (IRNet's EDE t and k) are not listed.
    """
    table: dict[str, _Entry] = {}

    def add(key, variable, to_keras, to_reference):
        if key in table:
            raise ValueError(f"two Keras variables claim the reference tensor {key!r}")
        table[key] = _Entry(variable, to_keras, to_reference)

    for layer in model.layers:
        name = layer.name
        if isinstance(layer, lq.layers.QuantConv2D):
            kernel = getattr(layer.kernel, "latent_variable", layer.kernel)
            if getattr(layer, "reference_kernel_layout", None) == "flat":
                add(f"{name}.weight", kernel, _flat_kernel(tuple(kernel.shape)), _flat_kernel_back)
            else:
                add(f"{name}.weight", kernel, _kernel, _kernel_back)
            gain = getattr(layer.kernel_quantizer, "gain", None)
            if gain is not None:
                add(f"{name}.gain", gain, _vector, _gain_back)
            alpha = getattr(layer.input_quantizer, "alpha", None)
            if alpha is not None:
                prefix = name.removesuffix(".binary_conv")
                add(f"{prefix}.binary_activation.beta", alpha, lambda v: np.reshape(v, ()), _scalar_back)
            if layer.use_bias:
                add(f"{name}.bias", layer.bias, _vector, _vector)
        elif isinstance(layer, tf.keras.layers.Conv2D):
            add(f"{name}.weight", layer.kernel, _kernel, _kernel_back)
            if layer.use_bias:
                add(f"{name}.bias", layer.bias, _vector, _vector)
        elif isinstance(layer, tf.keras.layers.BatchNormalization):
            add(f"{name}.weight", layer.gamma, _vector, _vector)
            add(f"{name}.bias", layer.beta, _vector, _vector)
            add(f"{name}.running_mean", layer.moving_mean, _vector, _vector)
            add(f"{name}.running_var", layer.moving_variance, _vector, _vector)
        elif isinstance(layer, L.SpectralRedistribution):
            add(f"{name}.k", layer.k, _vector, _vector_back)
            add(f"{name}.b", layer.b, _vector, _vector_back)
        elif isinstance(layer, L.LearnableBias):
            add(f"{name}.bias", layer.bias, _vector, _vector_back)
        elif isinstance(layer, L.RPReLU):
            bias0, slope, bias1 = _rprelu_keys(name)
            add(bias0, layer.gamma, _negate(_vector), _negate(_vector_back))
            add(slope, layer.beta, _vector, _vector)
            add(bias1, layer.zeta, _vector, _vector_back)
        elif isinstance(layer, tf.keras.layers.LayerNormalization):
            add(f"{name}.weight", layer.gamma, _vector, _vector)
            add(f"{name}.bias", layer.beta, _vector, _vector)
        elif layer.weights:
            raise ValueError(
                f"layer {name!r} ({type(layer).__name__}) has weights but no mapping to the reference"
            )
    return table


def reference_state_dict(model: tf.keras.Model) -> dict[str, np.ndarray]:
    """The model's weights in the reference (PyTorch) layout and naming: the inverse
    of `load_reference` (BiSRNet and the Table 1 baselines alike)."""
    return {key: entry.to_reference(entry.variable.numpy()) for key, entry in _entries(model).items()}


def reference_assignments(model: tf.keras.Model) -> dict[str, tuple[tf.Variable, Callable]]:
    """Map each expected state-dict key to `(keras variable, converter)` for `model`.

    The converter takes the PyTorch-layout array to the variable's layout.
    """
    return {key: (entry.variable, entry.to_keras) for key, entry in _entries(model).items()}


def load_reference(model: tf.keras.Model, state: Mapping[str, np.ndarray], skip=(), where="state dict"
                   ) -> tf.keras.Model:
    """Load a reference state dict (names -> PyTorch-layout arrays) into `model`, in place.

    Works for every model whose layer names are the reference's module paths:
    `BiSRNet` and the Table 1 baselines (`BinarizedUNet(method)`; the rules per
    layer kind are `_entries`'). Every tensor is consumed exactly once and
    every Keras variable with a reference tensor receives one; shapes are
    checked. Keys starting with a prefix in `skip` are ignored, and so are
    BatchNorm's `num_batches_tracked` counters (unused in eval). Raises
    `ValueError` naming the first missing or unexpected key, or the first
    shape mismatch (`where` names the source in the message).
    """
    state = {k: v for k, v in state.items()
             if not k.startswith(tuple(skip)) and not k.endswith(".num_batches_tracked")}
    table = reference_assignments(model)
    missing = sorted(set(table) - set(state))
    if missing:
        raise ValueError(
            f"{where}: no tensor {missing[0]!r} for the model ({len(missing)} missing); "
            "is this the right weights file and model variant?"
        )
    unexpected = sorted(set(state) - set(table))
    if unexpected:
        raise ValueError(f"{where}: unexpected tensor {unexpected[0]!r} ({len(unexpected)} unused by the model)")
    converted = {}
    for key in sorted(table):
        variable, convert = table[key]
        try:
            value = convert(np.asarray(state[key]))
        except ValueError:  # a transpose or reshape of the wrong rank or size
            value = np.asarray(state[key])
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"{where}: tensor {key!r} has shape {np.shape(state[key])}, which converts to "
                f"{value.shape}, but the model expects {tuple(variable.shape)}"
            )
        converted[key] = value
    for key, value in converted.items():  # all shapes checked first: a failed load changes nothing
        variable = table[key][0]
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))
    return model


def load_bisrnet_reference(model: tf.keras.Model, weights, variant: str | None = None) -> tf.keras.Model:
    """Load published BiSRNet weights into `model`, in place; returns `model`.

    `weights`: a name of `PUBLISHED` ("simulation", "real") or a path to a
    `.pth`/`.npz` state dict. The variant is read from the model's inputs
    unless given; for the real system the unused `fution.*` tensors are
    skipped. A name or a known file of the other variant is refused.
    """
    if variant is None:
        variant = "simulation" if len(model.inputs) == 2 else "real"
    path, _ = resolve(weights, variant)
    return load_reference(model, read_state(path), skip=_UNUSED_BY_VARIANT.get(variant, ()), where=str(path))
