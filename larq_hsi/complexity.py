r"""What a binarized model costs, in the two conventions users meet.

True storage: binarized kernel weights take 1 bit, every other parameter 32
bits (quantizer parameters, redistribution, RPReLU, norms, full-precision
convs). MACs are kernel MACs: `kernel size x output pixels` for each conv or
dense layer; a MAC is binary when both the kernel and the layer input are
1-bit. (`larq.models.summary` additionally lists a quantizer's own variables
as 32-bit MACs; this module does not.)

The papers' convention (BiSRNet Table 1-2, BBCU Tables 1-6):
\[ \mathrm{OPs} = \mathrm{OPs}_f + \mathrm{OPs}_b / 64, \qquad
   \mathrm{Params} = \mathrm{Params}_f + \mathrm{Params}_b / 32, \]
where every parameter and MAC inside the binarized part counts as binarized.
By default the binarized part is everything but the full-precision conv and
dense layers; pass `binarized` (layer-name prefixes) to name the part explicitly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from larq_hsi.nn.introspect import iter_layers

__all__ = ["LayerCost", "Profile", "binary_kernel_macs", "paper_figures", "profile"]


@dataclasses.dataclass
class LayerCost:
    """One layer's share: kernel MACs, parameter counts and whether it is binary."""

    name: str
    kind: str
    macs: int
    binary_macs: bool
    kernel_params: int
    binary_kernel: bool
    other_params: int
    in_binarized_part: bool


@dataclasses.dataclass
class Profile:
    """Complexity of a model: exact counts and the two storage/OPs conventions.

    `part_macs` and `part_params` are the binarized part's totals before the
    papers' /64 and /32 (Table 2d's OPs_f and Params_f of that part).
    """

    binary_macs: int
    float_macs: int
    binary_params: int
    float_params: int
    storage_bytes: float
    paper_ops: float
    paper_params: float
    part_macs: int = 0
    part_params: int = 0
    layers: list[LayerCost] = dataclasses.field(default_factory=list, repr=False)

    @property
    def total_params(self) -> int:
        return self.binary_params + self.float_params

    def __str__(self) -> str:
        return "\n".join(
            [
                f"binary MACs        {self.binary_macs:>16,d}",
                f"float MACs         {self.float_macs:>16,d}",
                f"binary params      {self.binary_params:>16,d}  (1-bit kernel weights)",
                f"float params       {self.float_params:>16,d}  (32-bit)",
                f"true storage       {self.storage_bytes / 1e3:>16,.1f} KB",
                f"paper OPs          {self.paper_ops / 1e9:>16.3f} G  (OPs_f + OPs_b / 64)",
                f"paper params       {self.paper_params / 1e3:>16.2f} K  (Params_f + Params_b / 32)",
            ]
        )


def _precision(quantizer) -> int:
    return getattr(quantizer, "precision", None) or 32


def _count(variables) -> int:
    return int(sum(np.prod(v.shape) for v in variables))


def _pixels(shape) -> int:
    shape = tf.TensorShape(shape)
    if shape.rank == 4:
        if None in shape[1:3]:
            raise ValueError(
                "complexity needs a model with a fixed input size (build it with input_size=(H, W))"
            )
        return int(shape[1] * shape[2])
    return 1


def _kernel_variables(layer):
    for attribute in ("kernel", "depthwise_kernel", "pointwise_kernel"):
        kernel = getattr(layer, attribute, None)
        if kernel is not None:
            yield attribute, kernel


def _layer_cost(layer, in_part) -> LayerCost:
    kernels = list(_kernel_variables(layer))
    kernel_params = _count(k for _, k in kernels)
    other_params = _count(layer.weights) - kernel_params
    binary_kernel = bool(kernels) and _precision(getattr(layer, "kernel_quantizer", None)) == 1
    binary_input = _precision(getattr(layer, "input_quantizer", None)) == 1
    macs = 0
    if kernels and isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense,
                                      tf.keras.layers.DepthwiseConv2D)):
        if isinstance(layer, tf.keras.layers.Conv2DTranspose):
            pixels = _pixels(layer.input_shape)
        else:
            pixels = _pixels(layer.output_shape)
        macs = kernel_params * pixels
    return LayerCost(
        name=layer.name,
        kind=type(layer).__name__,
        macs=macs,
        binary_macs=binary_kernel and binary_input,
        kernel_params=kernel_params,
        binary_kernel=binary_kernel,
        other_params=other_params,
        in_binarized_part=in_part,
    )


def profile(model: tf.keras.Model, binarized: Sequence[str] | None = None) -> Profile:
    """Count the binary/float MACs and parameters of `model` and both conventions.

    `binarized`: layer-name prefixes of the binarized part for the papers'
    convention; by default every layer except full-precision conv/dense layers,
    and none at all in a model without 1-bit layers.
    """
    rows = []
    for layer in iter_layers(model):
        is_float_compute = (
            isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense,
                               tf.keras.layers.DepthwiseConv2D))
            and _precision(getattr(layer, "kernel_quantizer", None)) != 1
        )
        if binarized is None:
            in_part = not is_float_compute
        else:
            in_part = layer.name.startswith(tuple(binarized))
        rows.append(_layer_cost(layer, in_part))
    if binarized is None and not any(r.binary_kernel or r.binary_macs for r in rows):
        # A full-precision model has no binarized part: nothing is counted /64 or /32.
        rows = [dataclasses.replace(r, in_binarized_part=False) for r in rows]

    binary_macs = sum(r.macs for r in rows if r.binary_macs)
    float_macs = sum(r.macs for r in rows if not r.binary_macs)
    binary_params = sum(r.kernel_params for r in rows if r.binary_kernel)
    float_params = sum(r.other_params + (0 if r.binary_kernel else r.kernel_params) for r in rows)
    part_ops = sum(r.macs for r in rows if r.in_binarized_part)
    part_params = sum(r.kernel_params + r.other_params for r in rows if r.in_binarized_part)
    total_macs = binary_macs + float_macs
    total_params = binary_params + float_params
    return Profile(
        binary_macs=binary_macs,
        float_macs=float_macs,
        binary_params=binary_params,
        float_params=float_params,
        storage_bytes=binary_params / 8 + 4 * float_params,
        paper_ops=(total_macs - part_ops) + part_ops / 64,
        paper_params=(total_params - part_params) + part_params / 32,
        part_macs=part_ops,
        part_params=part_params,
        layers=rows,
    )


def binary_kernel_macs(model: tf.keras.Model) -> int:
    """MACs of every layer with a 1-bit kernel, whatever its input precision ("same OPs" of BiSRNet Sec. 4.2)."""
    return sum(r.macs for r in profile(model).layers if r.binary_kernel)


def paper_figures(model: tf.keras.Model, binarized=None) -> dict:
    r"""The papers' cost figures of `model`, in both parameter conventions.

    - `ops_g`: \(\mathrm{OPs}_f + \mathrm{OPs}_b/64\) (`profile(...).paper_ops`), in G;
    - `params_k`: \(\mathrm{Params}_f + \mathrm{Params}_b/32\) over every weight
      Keras holds (BatchNorm's moving mean and variance and IRNet's t, k included), in K;
    - `params_k_trainable`: the same over trainable weights only, what PyTorch's
      `sum(p.numel() for p in model.parameters())` counts (running statistics and
      other buffers are not parameters there) and so what the BiSRNet tables count;
    - `binary_kernel_macs`: MACs of layers with 1-bit kernels (the same for every method);
    - `xnor_macs`: MACs with 1-bit kernels *and* 1-bit inputs (BiConnect's are 0).
    `binarized`: layer-name prefixes of the binarized part, as `profile`.
    """
    p = profile(model, binarized)
    layers = {l.name: l for l in iter_layers(model)}

    def frozen(layer):
        return int(sum(np.prod(w.shape) for w in layer.non_trainable_weights))

    frozen_part = sum(frozen(layers[r.name]) for r in p.layers if r.in_binarized_part)
    frozen_rest = sum(frozen(layers[r.name]) for r in p.layers if not r.in_binarized_part)
    return {
        "ops_g": p.paper_ops / 1e9,
        "params_k": p.paper_params / 1e3,
        "params_k_trainable": (p.paper_params - frozen_part / 32 - frozen_rest) / 1e3,
        "binary_kernel_macs": sum(r.macs for r in p.layers if r.binary_kernel),
        "xnor_macs": p.binary_macs,
        "binary_params": p.binary_params,
        "float_params": p.float_params,
        "storage_kb": p.storage_bytes / 1e3,
    }
