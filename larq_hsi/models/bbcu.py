r"""BBCU networks (Xia et al., ICLR 2023): SRResNet and DnCNN with binarized parts.

An image-restoration network is split into four parts (BBCU Sec. 3.2, Eq. 9),
\(\hat I_{HQ} = T(U(B(H(I_{LQ}))))\); each part can be full precision or
binarized with its BBCU variant (`larq_hsi.nn.units`):

| part | full precision | binarized | layer prefix |
| --- | --- | --- | --- |
| head H | conv c -> C + activation | BBCU-H (`bbcu_head`) | `head.` |
| body B | residual blocks (SRResNet) / conv-ReLU layers (DnCNN) | BBCU-B, one unit per conv (`bbcu_conv`, V1-V4) | `body.` |
| upsampling U | per stage conv C -> r^2 C + pixel shuffle + LeakyReLU, then `conv_hr` | BBCU-U per stage (`bbcu_upsample`), `conv_hr` a BBCU-B | `upsample.` |
| tail T | conv C -> c (+ global skip) | BBCU-T (`bbcu_tail`, the global skip as residual) | `tail.` |

SRResNet as BBCU uses it (`../shared/docs/bbcu-reference.md`, the released
`BBCUL`/`BBCUM` code), with k the residual-alignment factor:

    x = k * I_LQ                                           align_in
    h = H(x); h = B(h)                                     16 blocks of 2 convs
    h = U(h)                                               x2, x3: one stage; x4: two x2 stages; then conv_hr + LeakyReLU
    out = (T(h) + bilinear_r(x)) / k                       skip.*, align_out

DnCNN (colour denoising, c = 3) and DnCNN-3 (JPEG deblocking, grayscale c = 1)
as in the released `network_dncnn_bin.py`: 20 bias-free 3x3 convs (head c -> C
+ ReLU, 18 body convs, tail C -> c) predicting the residual,
`out = (k I - T(B(H(k I)))) / k`.

Layer names give every part a clean prefix, so
`larq_hsi.complexity.profile(model, binarized=bbcu_part_prefixes(parts))`
yields the papers' OPs/params convention (Tables 1-3, 6). Pixel shuffle uses
`depth_to_space`'s channel order (a fixed permutation of PyTorch's).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import tensorflow as tf

from larq_hsi.checks import check_input_size
from larq_hsi.nn import layers as L
from larq_hsi.nn import units as U
from larq_hsi.nn.dtype import default_dtype

__all__ = [
    "BBCU_PARTS",
    "BBCU_PRESETS",
    "TASK_CHANNELS",
    "BBCUDnCNN",
    "BBCUDnCNN3",
    "BBCUSRResNet",
    "DnCNN",
    "DnCNN3",
    "DnCNN3Lite",
    "DnCNNLite",
    "SRResNet",
    "SRResNetLite",
    "bbcu_model_for_task",
    "bbcu_part_prefixes",
]

BBCU_PARTS = ("head", "body", "upsample", "tail")
SR_SCALES = (2, 3, 4)
LITE_FEATURES = 12
DEFAULT_ALIGNMENT = 130.0
_TASKS = ("sr", "denoise", "jpeg")
_KINDS = ("bbcu", "full", "lite")


def bbcu_part_prefixes(parts: Sequence[str], conv_hr: bool = True) -> tuple[str, ...]:
    """Layer-name prefixes of network parts ("head", "body", "upsample", "tail").

    For `larq_hsi.complexity.profile(model, binarized=...)`. `conv_hr=False`
    leaves SRResNet's `upsample.conv_hr` out of the upsampling part: BBCU
    Table 6 counts that conv in the part's OPs but not in its params.
    """
    if isinstance(parts, str):
        parts = (parts,)
    unknown = [p for p in parts if p not in BBCU_PARTS]
    if unknown:
        raise ValueError(f"parts: unknown part(s) {unknown}, expected a subset of {BBCU_PARTS}")
    prefixes = []
    for part in parts:
        if part == "upsample" and not conv_hr:
            prefixes += [f"upsample.{i}." for i in range(2)]
        else:
            prefixes.append(f"{part}.")
    return tuple(prefixes)


def _check_parts(binarize, allowed, model) -> tuple[str, ...]:
    if isinstance(binarize, str):
        binarize = (binarize,)
    binarize = tuple(binarize)
    unknown = [p for p in binarize if p not in allowed]
    if unknown:
        raise ValueError(
            f"{model}: binarize lists unknown or unsupported part(s) {unknown}; "
            f"expected a subset of {allowed}"
        )
    return binarize


def _image_input(input_size, channels, model) -> tuple:
    """`(H, W, channels)` of the LQ input from `input_size` (`None`: any size) and a channel count."""
    size = check_input_size(input_size, f"{model}: input_size")
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels < 1:
        raise ValueError(f"{model}: channels must be a positive integer, got {channels!r}")
    return (*(size if size is not None else (None, None)), int(channels))


def _check_positive_int(value, what, model):
    if not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{model}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _resolve_alignment(alignment, binarize, unit, features, model) -> float | None:
    r"""The residual-alignment factor k, or None for no alignment layers.

    "auto": k = 130 when a part is binarized with V3/V4 units, no alignment
    otherwise (full precision, or V1/V2 which the paper runs without it);
    "k*": \(k^* = 130 n / 64\) for n = `features`; a number: that k; None: off.
    """
    if alignment is None:
        return None
    if isinstance(alignment, str):
        if alignment == "auto":
            return DEFAULT_ALIGNMENT if binarize and unit in ("v3", "v4") else None
        if alignment in ("k*", "k_star"):
            return L.alignment_factor(features)
        raise ValueError(f"{model}: alignment must be 'auto', 'k*', a number > 0 or None, got {alignment!r}")
    if not isinstance(alignment, numbers.Real) or not alignment > 0:
        raise ValueError(f"{model}: alignment must be 'auto', 'k*', a number > 0 or None, got {alignment!r}")
    return float(alignment)


def _sr_init():
    # BasicSR's default_init_weights(scale=0.1): Kaiming normal (fan_in) times 0.1.
    return tf.keras.initializers.VarianceScaling(0.02, "fan_in", "untruncated_normal")


def _dncnn_init(gain: float = 0.2):
    # The released DnCNN training (KAIR options): orthogonal initialisation with gain 0.2. KAIR's DnCNN
    # has BatchNorm after every body conv to undo that shrinkage; without it, 19 convs of gain 0.2 shrink
    # the signal and its gradient by 0.2**19 and the network never leaves the identity, so the ReLU
    # layers of a BatchNorm-free DnCNN keep the variance instead (gain sqrt(2)).
    return tf.keras.initializers.Orthogonal(gain=gain)


def SRResNet(
    scale: int = 4,
    *,
    input_size=None,
    channels: int = 3,
    features: int = 64,
    num_blocks: int = 16,
    binarize: Sequence[str] = (),
    unit: str = "v4",
    alignment="auto",
    use_bias: bool = True,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
    dtype="float32",
    name: str | None = None,
) -> tf.keras.Model:
    r"""SRResNet (the MSRResNet of BasicSR, 16 blocks of 64 features) with chosen parts binarized.

    Full precision by default (Table 1's SRResNet: at x4 and 320x180 input
    146.08 G MACs, 1.515 M kernel weights). `binarize` lists parts among
    `BBCU_PARTS` to replace by BBCU variants; body units are `unit`
    ("v1".."v4"), the head/upsampling/tail variants are V4-style.

    Structure: `align_in` (\(\times k\)), head `head.conv` 3x3 c -> C +
    `head.lrelu` (LeakyReLU 0.1), body `body.{i}` (full precision: conv-ReLU-conv
    plus the block's skip; binarized: two units `body.{i}.0`, `body.{i}.1`, no
    block skip), upsampling `upsample.{s}` (x2/x3: one stage of r = scale;
    x4: two stages of r = 2), `upsample.conv_hr` (3x3 C -> C at HR size) and
    `upsample.lrelu_hr`, tail `tail.conv` C -> c, global skip
    `skip.upsample` (bilinear x scale of the aligned input) + `skip.add`,
    `align_out` (\(\div k\)). A binarized part drops the LeakyReLU inside it
    (its RPReLU takes that role), as the released BBCU-M does for the
    upsampling stages; the binarized tail's residual is the global skip itself.

    # Arguments
        scale: 2, 3 or 4.
        input_size: `(H, W)` of the LQ input, `None` for any size; fixed sizes
            are needed for complexity counts (the papers use 180 x 320).
        channels: c of the LQ image (3).
        features: C (64; 12 for SRResNet-Lite).
        num_blocks: residual blocks in the body (16, i.e. 32 convs).
        binarize: parts to binarize, e.g. `("body",)` (BBCU-L) or
            `("body", "upsample")` (BBCU-M).
        unit: BBCU version of the body units (`larq_hsi.nn.units.BBCU_UNITS`).
        alignment: residual-alignment factor k: "auto" (130 with binarized
            V3/V4 parts, else none), "k*" (\(130\,C/64\)), a number, or None.
        use_bias: biases in the full-precision convs (BasicSR has them; the
            papers' parameter counts are kernel weights only).
        input_quantizer, kernel_quantizer: the binary convs' quantizers (an
            alias, config or template instance; each layer gets its own instance).
        dtype: every layer's dtype.
    """
    model = "SRResNet"
    if scale not in SR_SCALES:
        raise ValueError(f"{model}: scale must be 2, 3 or 4, got {scale!r}")
    features = _check_positive_int(features, "features", model)
    num_blocks = _check_positive_int(num_blocks, "num_blocks", model)
    shape = _image_input(input_size, channels, model)
    binarize = _check_parts(binarize, BBCU_PARTS, model)
    unit = U._check_bbcu_unit(unit)
    k = _resolve_alignment(alignment, binarize, unit, features, model)
    q = dict(input_quantizer=input_quantizer, kernel_quantizer=kernel_quantizer)
    if name is None:
        name = f"srresnet_x{scale}" if not binarize else f"srresnet_x{scale}_bin_{'_'.join(binarize)}"

    def conv(h, filters, layer_name):
        return tf.keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=use_bias, kernel_initializer=_sr_init(), name=layer_name,
        )(h)

    def lrelu(h, layer_name):
        return tf.keras.layers.LeakyReLU(0.1, name=layer_name)(h)

    with default_dtype(dtype):
        inputs = tf.keras.Input(shape, name="lq")
        x = L.ResidualAlignment(k, name="align_in")(inputs) if k else inputs
        base = L.BilinearUpsample(scale, name="skip.upsample")(x)

        if "head" in binarize:
            h = U.bbcu_head(x, "head", features, **q)
        else:
            h = lrelu(conv(x, features, "head.conv"), "head.lrelu")

        for i in range(num_blocks):
            if "body" in binarize:
                h = U.bbcu_conv(h, f"body.{i}.0", unit, **q)
                h = U.bbcu_conv(h, f"body.{i}.1", unit, **q)
            else:
                r = conv(h, features, f"body.{i}.conv1")
                r = tf.keras.layers.ReLU(name=f"body.{i}.relu")(r)
                r = conv(r, features, f"body.{i}.conv2")
                h = tf.keras.layers.Add(name=f"body.{i}.add")([h, r])

        stages = (2, 2) if scale == 4 else (scale,)
        for s, r in enumerate(stages):
            if "upsample" in binarize:
                h = U.bbcu_upsample(h, f"upsample.{s}", r, **q)
            else:
                h = conv(h, features * r * r, f"upsample.{s}.conv")
                h = L.PixelShuffle(r, name=f"upsample.{s}.shuffle")(h)
                h = lrelu(h, f"upsample.{s}.lrelu")
        if "upsample" in binarize:
            h = U.bbcu_conv(h, "upsample.conv_hr", "v4", **q)
        else:
            h = conv(h, features, "upsample.conv_hr.conv")
        h = lrelu(h, "upsample.lrelu_hr")

        if "tail" in binarize:
            out = U.bbcu_tail(h, base, "tail", **q)
        else:
            out = conv(h, shape[-1], "tail.conv")
            out = tf.keras.layers.Add(name="skip.add")([out, base])
        if k:
            out = L.ResidualAlignment(k, inverse=True, name="align_out")(out)
        return tf.keras.Model(inputs, out, name=name)


def SRResNetLite(scale: int = 4, *, features: int = LITE_FEATURES, name: str | None = None, **kwargs):
    """SRResNet-Lite (Table 1): the full-precision SRResNet with 12 features."""
    return SRResNet(scale, features=features, name=name or f"srresnet_lite_x{scale}", **kwargs)


#: The two binarized SRResNets of BBCU's Table 1, by the paper's names: the parts each binarizes.
BBCU_PRESETS = {"L": ("body",), "M": ("body", "upsample")}


def BBCUSRResNet(
    scale: int = 4,
    *,
    preset: str = "L",
    input_size=None,
    features: int = 64,
    num_blocks: int = 16,
    unit: str = "v4",
    alignment="auto",
    name: str | None = None,
    **kwargs,
) -> tf.keras.Model:
    r"""BBCU-L (body binarized) or BBCU-M (body and upsampling binarized) on SRResNet (Table 1).

    At x4 and a 320x180 input: BBCU-L 79.20 G OPs / 372 K params, BBCU-M
    3.95 G / 51 K in the papers' convention. Residual alignment k = 130 by
    default with V3/V4 units (`alignment="k*"` gives \(130 C / 64\)).
    `preset` is "L" or "M" (`BBCU_PRESETS`); `unit` picks the body's BBCU
    version (Table 4); other arguments as `SRResNet`.
    """
    if preset not in BBCU_PRESETS:
        raise ValueError(f"BBCUSRResNet: preset must be 'L' or 'M', got {preset!r}")
    return SRResNet(
        scale, features=features, num_blocks=num_blocks, input_size=input_size,
        binarize=BBCU_PRESETS[preset], unit=unit, alignment=alignment,
        name=name or f"bbcu_{preset.lower()}_x{scale}", **kwargs,
    )


def DnCNN(
    *,
    input_size=None,
    channels: int = 3,
    features: int = 64,
    depth: int = 20,
    binarize: Sequence[str] = (),
    unit: str = "v4",
    alignment="auto",
    batch_norm: bool = False,
    use_bias: bool = False,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
    dtype="float32",
    name: str | None = None,
) -> tf.keras.Model:
    r"""DnCNN (colour denoising, Table 2) with chosen parts binarized.

    `depth` 3x3 convs: `head.conv` c -> C + `head.relu`, `depth - 2` body layers
    `body.{i}` (full precision: conv [+ BatchNorm] + ReLU; binarized: one
    BBCU unit each) and `tail.conv` C -> c predicting the residual:
    \[ \hat I = \big(k I - T(B(H(k I)))\big) / k \]
    (`residual`, between `align_in` and `align_out`).
    Full precision at 320x180: 38.42 G MACs, 667 K weights; body binarized:
    0.80 G / 24 K (papers' convention); 12 features (DnCNN-Lite): 1.38 G / 24 K.

    # Arguments
        input_size: `(H, W)`, `None` for any size.
        channels: c, 3 for colour denoising, 1 for grayscale.
        features: C (64; 12 for the Lite model).
        depth: number of convs (20).
        binarize: parts among ("head", "body") to binarize (BBCU-H, BBCU-B).
        unit: BBCU version of the body units ("v4").
        alignment: as `SRResNet` ("auto": 130 for binarized V3/V4 parts).
        batch_norm: BatchNorm in the full-precision body layers (the original
            DnCNN); off by default as in the released BBCU code.
        use_bias: biases in the full-precision convs (off, as the released code).
            Full-precision kernels start orthogonal: gain 0.2 with BatchNorm (the
            released training options); without it, gain sqrt(2) on the ReLU
            layers so the signal survives 19 layers, and 0.2 on the tail so the
            network starts close to the identity.
        dtype: every layer's dtype.
    """
    model = "DnCNN"
    shape = _image_input(input_size, channels, model)
    features = _check_positive_int(features, "features", model)
    depth = _check_positive_int(depth, "depth", model)
    if depth < 3:
        raise ValueError(f"{model}: depth must be >= 3 (head, body, tail), got {depth}")
    binarize = _check_parts(binarize, ("head", "body"), model)
    unit = U._check_bbcu_unit(unit)
    k = _resolve_alignment(alignment, binarize, unit, features, model)
    q = dict(input_quantizer=input_quantizer, kernel_quantizer=kernel_quantizer)
    if name is None:
        name = "dncnn" if not binarize else f"dncnn_bin_{'_'.join(binarize)}"

    relu_gain = 0.2 if batch_norm else 2.0**0.5

    def conv(h, filters, layer_name, gain=relu_gain):
        return tf.keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=use_bias, kernel_initializer=_dncnn_init(gain),
            name=layer_name,
        )(h)

    with default_dtype(dtype):
        inputs = tf.keras.Input(shape, name="lq")
        x = L.ResidualAlignment(k, name="align_in")(inputs) if k else inputs
        if "head" in binarize:
            h = U.bbcu_head(x, "head", features, **q)
        else:
            h = tf.keras.layers.ReLU(name="head.relu")(conv(x, features, "head.conv"))
        for i in range(depth - 2):
            if "body" in binarize:
                h = U.bbcu_conv(h, f"body.{i}", unit, **q)
            else:
                h = conv(h, features, f"body.{i}.conv")
                if batch_norm:
                    h = tf.keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"body.{i}.bn")(h)
                h = tf.keras.layers.ReLU(name=f"body.{i}.relu")(h)
        noise = conv(h, shape[-1], "tail.conv", gain=0.2)
        out = tf.keras.layers.Subtract(name="residual")([x, noise])
        if k:
            out = L.ResidualAlignment(k, inverse=True, name="align_out")(out)
        return tf.keras.Model(inputs, out, name=name)


def DnCNNLite(*, features: int = LITE_FEATURES, name: str = "dncnn_lite", **kwargs):
    """DnCNN-Lite (Table 2): the full-precision DnCNN with 12 features."""
    return DnCNN(features=features, name=name, **kwargs)


def BBCUDnCNN(*, name: str = "bbcu_dncnn", **kwargs):
    """DnCNN with its body binarized by BBCU units (Table 2's "BBCU": 0.80 G / 24 K)."""
    kwargs.setdefault("binarize", ("body",))
    return DnCNN(name=name, **kwargs)


def _grayscale(kwargs, model):
    if kwargs.setdefault("channels", 1) != 1:
        raise ValueError(f"{model}: expects 1 input channel (grayscale), got channels={kwargs['channels']!r}")
    return kwargs


def DnCNN3(*, name: str = "dncnn3", **kwargs):
    """DnCNN-3 for JPEG artifact reduction (Table 3): DnCNN on one grayscale channel, 38.29 G / 665 K."""
    return DnCNN(name=name, **_grayscale(kwargs, "DnCNN3"))


def DnCNN3Lite(*, features: int = LITE_FEATURES, name: str = "dncnn3_lite", **kwargs):
    """DnCNN-3-Lite (Table 3): 12 features, full precision, 1.36 G / 24 K."""
    return DnCNN(features=features, name=name, **_grayscale(kwargs, "DnCNN3Lite"))


def BBCUDnCNN3(*, name: str = "bbcu_dncnn3", **kwargs):
    """DnCNN-3 with its body binarized (Table 3's "BBCU": 0.66 G / 22 K)."""
    kwargs.setdefault("binarize", ("body",))
    return DnCNN(name=name, **_grayscale(kwargs, "BBCUDnCNN3"))


#: The channel count of each restoration task's images.
TASK_CHANNELS = {"sr": 3, "denoise": 3, "jpeg": 1}


def bbcu_model_for_task(
    task: str,
    *,
    kind: str = "bbcu",
    scale: int = 4,
    preset: str = "L",
    input_size=None,
    **kwargs,
) -> tf.keras.Model:
    """The paper's network for a task: "sr", "denoise" or "jpeg".

    `kind`: "bbcu" (binarized: BBCU-L/M SRResNet, BBCU DnCNN, BBCU DnCNN-3),
    "full" (SRResNet, DnCNN, DnCNN-3) or "lite" (their 12-feature versions).
    `scale` and `preset` ("L" or "M") apply to "sr"; `input_size` is
    `(H, W)` of the LQ input (`None`: any); other keyword arguments go to the builder.
    """
    if task not in _TASKS:
        raise ValueError(f"task must be one of {_TASKS}, got {task!r}")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    if task == "sr":
        if kind == "bbcu":
            return BBCUSRResNet(scale, preset=preset, input_size=input_size, **kwargs)
        builder = SRResNet if kind == "full" else SRResNetLite
        return builder(scale, input_size=input_size, **kwargs)
    builders = {
        "denoise": {"bbcu": BBCUDnCNN, "full": DnCNN, "lite": DnCNNLite},
        "jpeg": {"bbcu": BBCUDnCNN3, "full": DnCNN3, "lite": DnCNN3Lite},
    }
    return builders[task][kind](input_size=input_size, **kwargs)
