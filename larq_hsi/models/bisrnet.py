"""BiSRNet (binarized CASSI reconstruction) and its full-precision base model.

The structure is the published one (`../shared/docs/bisrnet-reference.md`):

    simulation: x = fution(concat[H, Phi])          real: x = shift_back(y)
    x = pad_to_multiple_of_8(x); x = conv_in(x)
    h = body.0(x) ... body.{n-1}(h)                 # binarized U-shaped bodies
    out = crop(conv_out(h) + x)

with the body: embedding BiSR-Conv, per scale a block and a downsample, a
bottleneck block, per scale an upsample, a fusion down of the skip
concatenation and a block, and a mapping BiSR-Conv plus the body input.
Layer names are the module paths of the released weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from larq_hsi.nn import blocks as B
from larq_hsi.nn import layers as L
from larq_hsi.nn import units as U
from larq_hsi.checks import check_input_size
from larq_hsi.models.pretrained import load_bisrnet_reference
from larq_hsi.nn.dtype import default_dtype

__all__ = ["BODY_PARTS", "BiSRBaseModel", "BiSRNet", "input_stage", "part_prefixes", "start_at_input"]

BODY_PARTS = ("encoder", "bottleneck", "decoder")
_DEFAULT_SIZES = {"simulation": (256, 256), "real": (660, 660)}
_DEFAULT = object()


def input_stage(variant: str, height, width, bands: int, step: int):
    """The reference's inputs and first feature map, shared by BiSRNet and the Table 1 baselines.

    simulation: inputs `H`, `Phi` (H x W x bands), x = fution(concat[H, Phi]) (a 1x1 conv);
    real: input `measurement` (H x (W + step (bands - 1))), x = shift_back(y).
    Returns `(inputs, x, reference)`, `reference` being the tensor whose size the output is cropped to.
    """
    if variant == "simulation":
        h_in = tf.keras.Input((height, width, bands), name="H")
        mask_in = tf.keras.Input((height, width, bands), name="Phi")
        inputs = [h_in, mask_in]
        x = tf.keras.layers.Concatenate(name="concat_input")(inputs)
        x = tf.keras.layers.Conv2D(bands, 1, name="fution", kernel_initializer=U.reference_initializer())(x)
        return inputs, x, h_in
    meas_width = None if width is None else width + step * (bands - 1)
    y_in = tf.keras.Input((height, meas_width), name="measurement")
    x = L.ShiftBack(bands, step, name="shift_back")(y_in)
    return [y_in], x, x


def _body(x, name, num_blocks, binarize, modules, options, ff_groups=None, unit=None):
    """The U-shaped body `body.i`: len(num_blocks) - 1 scales, `num_blocks[-1]` bottleneck blocks."""
    stages = len(num_blocks) - 1
    binary_unit = U.get_unit(unit or "bisr")

    def part(name_of_part):
        """The unit, module helpers and block options of a body part (binarized or not)."""
        if name_of_part in binarize:
            return binary_unit, B.module_functions(modules), modules
        return U.plain_conv, B.module_functions(), None

    def run_blocks(h, prefix, count, name_of_part):
        part_unit, _, part_modules = part(name_of_part)
        for j in range(count):
            h = B.bisr_block(h, f"{prefix}.blocks.{j}", unit=part_unit, modules=part_modules,
                             groups=ff_groups, **options)
        return h

    part_unit, fns, _ = part("encoder")
    fea = part_unit(x, f"{name}.embedding", 3, **options)
    skips = []
    for i in range(stages):
        fea = run_blocks(fea, f"{name}.encoder_layers.{i}.0", num_blocks[i], "encoder")
        skips.append(fea)
        fea = fns["downsample"](fea, f"{name}.encoder_layers.{i}.1", unit=part_unit, **options)
    fea = run_blocks(fea, f"{name}.bottleneck", num_blocks[-1], "bottleneck")
    part_unit, fns, _ = part("decoder")
    for i in range(stages):
        prefix = f"{name}.decoder_layers.{i}"
        fea = fns["upsample"](fea, f"{prefix}.0", unit=part_unit, **options)
        fea = tf.keras.layers.Concatenate(name=f"{prefix}.skip")([fea, skips[stages - 1 - i]])
        fea = fns["fusion_down"](fea, f"{prefix}.1", unit=part_unit, **options)
        fea = run_blocks(fea, f"{prefix}.2", num_blocks[stages - 1 - i], "decoder")
    out = part_unit(fea, f"{name}.mapping", 3, **options)
    return tf.keras.layers.Add(name=f"{name}.residual")([out, x])


def _build(variant, input_size, bands, features, num_bodies, num_blocks, step, binarize, modules,
           name, options, ff_groups=None, unit=None):
    if variant not in _DEFAULT_SIZES:
        raise ValueError(f"variant must be 'simulation' or 'real', got {variant!r}")
    features = bands if features is None else int(features)
    if features != bands:
        raise ValueError(
            f"features ({features}) must equal bands ({bands}): the published structure adds "
            "conv_in's output to conv_out's (both have `bands` channels)"
        )
    stages = len(num_blocks) - 1
    if stages < 0 or any(int(n) < 0 for n in num_blocks):
        raise ValueError(f"num_blocks must list non-negative counts per scale, got {num_blocks!r}")
    if features % 2 ** stages or features % 2:
        raise ValueError(f"features ({features}) must be divisible by 2 * 2**{stages} for the U-Net splits")
    unknown = set(binarize) - set(BODY_PARTS)
    if unknown:
        raise ValueError(f"binarize: unknown part(s) {sorted(unknown)}, expected a subset of {BODY_PARTS}")
    if input_size is _DEFAULT:
        input_size = _DEFAULT_SIZES[variant]
    size = check_input_size(input_size)
    height, width = size if size is not None else (None, None)

    inputs, x, reference = input_stage(variant, height, width, bands, step)

    x = L.PadToMultiple(2 ** max(stages, 3), name="pad")(x)
    x = tf.keras.layers.Conv2D(features, 3, padding="same", use_bias=False, name="conv_in",
                               kernel_initializer=U.reference_initializer())(x)
    h = x
    for i in range(num_bodies):
        h = _body(h, f"body.{i}", list(num_blocks), tuple(binarize), modules, options, ff_groups, unit)
    h = tf.keras.layers.Conv2D(bands, 3, padding="same", use_bias=False, name="conv_out",
                               kernel_initializer=U.reference_initializer())(h)
    h = tf.keras.layers.Add(name="residual")([h, x])
    out = L.CropLike(name="crop")([h, reference])
    return tf.keras.Model(inputs, out, name=name)


def BiSRNet(
    variant: str = "simulation",
    *,
    input_size=_DEFAULT,
    bands: int = 28,
    features: int | None = None,
    num_bodies: int = 1,
    num_blocks: Sequence[int] = (1, 1, 1),
    step: int = 2,
    modules=None,
    unit=None,
    input_quantizer="tanh_sign",
    kernel_quantizer="scaled_sign",
    redistribution: bool = True,
    ff_groups: int | None = None,
    weights=None,
    dtype="float32",
    name: str = "bisrnet",
) -> tf.keras.Model:
    """The published BiSRNet as a Keras functional model.

    # Arguments
        variant: "simulation" (inputs `H` and the 3-D mask `Phi`, both
            `(B, H, W, bands)`) or "real" (input: the raw measurement
            `(B, H, W + step (bands - 1))`, shifted back inside the model; no mask).
        input_size: `(height, width)` of the cube; defaults to the papers' sizes
            (256x256 simulation, 660x660 real) so summaries count MACs at that size.
            `None` builds a model for any size (reflect padding to a multiple of
            8 and cropping back).
        bands: spectral bands (28).
        features: body width; must equal `bands` in the published structure.
        num_bodies: U-shaped bodies in sequence (1).
        num_blocks: blocks per encoder scale, the last entry for the bottleneck
            (the decoder mirrors the encoder); `(1, 1, 1)` is two scales.
        step: dispersion step of the real variant's shift-back (2).
        modules: `{"downsample"|"upsample"|"fusion_down"|"fusion_up": "bisr"|"normal"}`
            to swap in the normal binarized modules of Fig. 4 (Table 2a).
        unit: the binary conv unit of the body: a name of `larq_hsi.nn.units.UNITS`
            ("bisr", BiSR-Conv, by default) or a function with
            `larq_hsi.nn.units.bisr_conv`'s signature `(x, name, kernel_size=3,
            groups=1, **options) -> tensor` (channels in equal channels out).
        input_quantizer, kernel_quantizer: BiSR-Conv's estimators (aliases,
            configs or template instances; every layer gets its own instance).
        redistribution: keep the spectral redistribution (Table 2b).
        ff_groups: groups of each block's 3x3 conv; `None` is the published d
            groups (4 channels each, which larq-compute-engine cannot binarize),
            1 an ungrouped conv that converts to a true 1-bit op (about 4.8x the
            binary MACs). Not compatible with the published weights unless `None`.
        weights: `None` (initialised as the reference does), a published
            checkpoint by name, "simulation" or "real" (fetched once into
            Keras's cache and checked by sha256; the name must fit `variant`),
            or a path to a `.pth`/`.npz` state dict (`larq_hsi.models.pretrained`).
        dtype: every layer's dtype, quantizers included ("float64" for parity tests).
    """
    options = {
        "input_quantizer": input_quantizer,
        "kernel_quantizer": kernel_quantizer,
        "redistribution": redistribution,
    }
    if ff_groups is not None and ff_groups < 1:
        raise ValueError(f"ff_groups must be None or a positive integer, got {ff_groups!r}")
    with default_dtype(dtype):
        model = _build(variant, input_size, bands, features, num_bodies, num_blocks, step,
                       BODY_PARTS, modules, name, options, ff_groups, unit)
    return model if weights is None else load_bisrnet_reference(model, weights, variant)


def BiSRBaseModel(
    binarize: Sequence[str] = (),
    *,
    variant: str = "simulation",
    input_size=_DEFAULT,
    bands: int = 28,
    num_bodies: int = 1,
    num_blocks: Sequence[int] = (1, 1, 1),
    step: int = 2,
    dtype="float32",
    name: str = "bisr_base",
    **options,
) -> tf.keras.Model:
    """BiSRNet's full-precision base model, with chosen parts binarized (Table 2d).

    Every BiSR-Conv of the parts not in `binarize` is a plain full-precision
    conv of the same shape (no bias, no redistribution, RPReLU or residual of
    its own); the parts are "encoder" (`embedding` + `encoder_layers`),
    "bottleneck" and "decoder" (`decoder_layers` + `mapping`). With nothing
    binarized this holds about 634 K params and 10.47 G MACs at 256x256.
    `options` go to the BiSR-Convs of the binarized parts (their quantizers).
    """
    with default_dtype(dtype):
        return _build(variant, input_size, bands, None, num_bodies, num_blocks, step,
                      tuple(binarize), None, name, options)


def part_prefixes(parts: Sequence[str], num_bodies: int = 1) -> tuple[str, ...]:
    """Layer-name prefixes of body parts ("encoder", "bottleneck", "decoder") for
    `larq_hsi.complexity.profile(..., binarized=...)` (Table 2d's boundaries)."""
    names = {
        "encoder": ("embedding", "encoder_layers"),
        "bottleneck": ("bottleneck",),
        "decoder": ("decoder_layers", "mapping"),
    }
    unknown = set(parts) - set(names)
    if unknown:
        raise ValueError(f"parts: unknown part(s) {sorted(unknown)}, expected a subset of {BODY_PARTS}")
    return tuple(f"body.{i}.{n}." for i in range(num_bodies) for p in parts for n in names[p])


def start_at_input(model: tf.keras.Model) -> tf.keras.Model:
    r"""Set a BiSRNet-shaped model's outer convs so that it starts as the identity on its input.

    With `fution` = \([I\;0]\) (it passes `H` through and ignores `Phi`),
    `conv_in` = the identity (a centred delta) and `conv_out` = 0, the output
    `conv_out(h) + conv_in(x)` is exactly `H` (or the shifted-back measurement
    of the real variant): the trained model starts at the task's trivial
    baseline, and the body learns a correction to it. `conv_out`'s gradient
    is nonzero from the first step, so the body starts learning on the second.
    The reference's initialisation starts at 0.5-0.7 RMSE on real scenes
    (the input alone: about 0.11) and is still below its input after the
    published recipe's first 400 steps (`docs/cassi.md`, "Training on CAVE"). Returns `model`.
    """
    names = {layer.name: layer for layer in model.layers}
    missing = [n for n in ("conv_in", "conv_out") if n not in names]
    if missing:
        raise ValueError(f"start_at_input needs a model with layers 'conv_in' and 'conv_out' "
                         f"(BiSRNet or a Table 1 baseline); {model.name!r} has no {missing}")
    if "fution" in names:
        fution = names["fution"]
        kernel, bias = fution.get_weights()
        bands = kernel.shape[-1]
        identity = np.zeros_like(kernel)
        identity[0, 0, :bands, :] = np.eye(bands, dtype=kernel.dtype)
        fution.set_weights([identity, np.zeros_like(bias)])
    conv_in = names["conv_in"]
    (kernel,) = conv_in.get_weights()
    kh, kw, cin, cout = kernel.shape
    if cin != cout:
        raise ValueError(f"start_at_input: conv_in must map {cin} channels to as many, got {cout}")
    delta = np.zeros_like(kernel)
    delta[kh // 2, kw // 2] = np.eye(cin, dtype=kernel.dtype)
    conv_in.set_weights([delta])
    conv_out = names["conv_out"]
    conv_out.set_weights([np.zeros_like(w) for w in conv_out.get_weights()])
    return model
