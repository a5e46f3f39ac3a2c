r"""Binary convolution units: one binary conv and the small layers around it.

Every unit is a functional helper: it takes a Keras tensor and returns one,
adding named layers around exactly one top-level `larq.layers.QuantConv2D`
(`{name}.binary_conv`), so `larq.models.summary` lists each binary conv with
its MACs and weight import is a lookup by layer name. The layers take the
dtype of the model being built (`larq_hsi.nn.dtype.default_dtype`).

Three families, each behind an explicit table:

- `UNITS`: the C -> C units of BiSRNet's U-shaped backbone, by name. BiSR-Conv
  (`"bisr"`), the full-precision stand-in of the base model (`"plain"`), Table
  2a's vanilla 1-bit conv (`"vanilla"`) and the conv unit of each BNN method of
  BiSRNet's Table 1. Signature `unit(x, name, kernel_size=3, groups=1, **options)`.
- `BBCU_UNITS`: BBCU's body unit in its four versions (`bbcu_conv(unit="v1".."v4")`)
  and its head, upsampling and tail variants (`bbcu_head`, `bbcu_upsample`, `bbcu_tail`).
- `HSBINET_UNITS`: HS-BiNet's binary conv with each estimator of its Table 4
  (`hsbinet_conv(unit="atiste"|"bnn"|"reactnet"|"btm")`), which may change the
  channel count.

BiSR-Conv (BiSRNet Eq. 2-12), for an input \(X_f\) with C channels:
\[ X_o = X_f + \mathrm{RPReLU}\big(\mathrm{conv}(\mathrm{sign}(k X_f + b),\
   \overline{|W|}\,\mathrm{sign}(W))\big) \]
with the Tanh(alpha x) estimator for the activation sign and the clip STE for
the weights.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from larq_hsi.nn import layers as L
from larq_hsi.nn import quantizers as Q

__all__ = [
    "BBCU_UNITS",
    "HSBINET_UNITS",
    "UNITS",
    "bbcu_conv",
    "bbcu_head",
    "bbcu_tail",
    "bbcu_upsample",
    "bisr_conv",
    "channels_of",
    "get_unit",
    "hsbinet_conv",
    "initializer",
    "kaiming_normal",
    "normal_conv",
    "plain_conv",
    "reference_initializer",
    "vanilla_conv",
]

_BN = dict(momentum=0.9, epsilon=1e-5)  # PyTorch's BatchNorm2d defaults


# --------------------------------------------------------------------------- shared pieces


def reference_initializer():
    """PyTorch's default conv initialisation, U(+-1/sqrt(fan_in)), as the reference BiSRNet uses.

    Keras's Glorot default is about 1.7x wider for BiSRNet's square convs; the
    binarized residual stream then starts larger and trains more slowly.
    """
    return tf.keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def kaiming_normal(seed=None) -> tf.keras.initializers.Initializer:
    r"""PyTorch's `kaiming_normal_` (fan-in, ReLU gain): \(W \sim \mathcal N(0, 2/\text{fan}_{in})\), untruncated."""
    return tf.keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=seed
    )


def initializer(spec, seed=None):
    """An initializer from "kaiming", "xavier", a Keras initializer name or an instance.

    A `seed` is applied to initializers named by a string (each layer of a
    seeded model gets its own derived seed).
    """
    if spec == "kaiming":
        return kaiming_normal(seed)
    if spec in ("xavier", "xavier_uniform"):
        spec = "glorot_uniform"
    try:
        init = tf.keras.initializers.get(spec)
    except ValueError:
        raise ValueError(
            f"kernel_initializer: expected 'kaiming', 'xavier', a Keras initializer name or "
            f"instance, got {spec!r}"
        ) from None
    if seed is not None and hasattr(init, "seed") and isinstance(spec, str):
        init = type(init).from_config({**init.get_config(), "seed": seed})
    return init


def channels_of(x) -> int:
    """The static channel (last) dimension of a Keras tensor, or a `ValueError` saying it is unknown."""
    channels = x.shape[-1]
    if channels is None:
        raise ValueError(f"the channel (last) dimension must be known, got shape {x.shape}")
    return int(channels)


def _binary_conv(x, name, filters, kernel_size, input_quantizer, kernel_quantizer, groups=1,
                 strides=1, kernel_initializer=None, kernel_constraint=None):
    """`{name}.binary_conv`: stride `strides`, 'same' zero padding, no bias, `groups` as given."""
    channels = channels_of(x)
    if channels % groups or filters % groups:
        raise ValueError(
            f"{name}: channels ({channels} in, {filters} out) must be divisible by groups ({groups})"
        )
    conv_class = L.QuantGroupConv2D if groups > 1 else lq.layers.QuantConv2D
    return conv_class(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        groups=groups,
        use_bias=False,
        kernel_initializer=kernel_initializer or reference_initializer(),
        kernel_constraint=kernel_constraint,
        input_quantizer=Q.make_quantizer(input_quantizer, "input_quantizer"),
        kernel_quantizer=Q.make_quantizer(kernel_quantizer, "kernel_quantizer"),
        name=f"{name}.binary_conv",
    )(x)


def _add(x, residual, name):
    return tf.keras.layers.Add(name=f"{name}.add")([x, residual])


def _batch_norm(x, name, suffix="bn"):
    return tf.keras.layers.BatchNormalization(name=f"{name}.{suffix}", **_BN)(x)


# --------------------------------------------------------------------------- BiSRNet's units


def bisr_conv(
    x,
    name: str,
    kernel_size: int = 3,
    groups: int = 1,
    input_quantizer="tanh_sign",
    kernel_quantizer="scaled_sign",
    redistribution: bool = True,
    residual: bool = True,
):
    r"""BiSR-Conv (BiSRNet Fig. 2c): redistribution, sign, binary conv, RPReLU, residual.

    Channels in equal channels out. Layers added: `{name}.move0`
    (`SpectralRedistribution`, skipped with `redistribution=False`),
    `{name}.binary_conv` (`QuantConv2D`, stride 1, 'same' zero padding, no bias,
    `groups` as given), `{name}.relu` (`RPReLU`) and `{name}.add` (the
    full-precision residual, skipped with `residual=False`).
    Quantizers are aliases, config dicts or template instances; each layer gets
    its own instance, so ablations can swap estimators.
    """
    h = L.SpectralRedistribution(name=f"{name}.move0")(x) if redistribution else x
    h = _binary_conv(h, name, channels_of(x), kernel_size, input_quantizer, kernel_quantizer, groups)
    h = L.RPReLU(name=f"{name}.relu")(h)
    return _add(h, x, name) if residual else h


def normal_conv(x, name: str, filters: int, kernel_size: int, strides: int = 1,
                input_quantizer="tanh_sign", kernel_quantizer="scaled_sign", redistribution=True):
    """A binary conv that reshapes its input, so no residual can pass it (BiSRNet Fig. 4, left).

    Layers: `{name}.move0` (with `redistribution`), `{name}.binary_conv`, `{name}.relu`.
    """
    h = L.SpectralRedistribution(name=f"{name}.move0")(x) if redistribution else x
    h = _binary_conv(h, name, filters, kernel_size, input_quantizer, kernel_quantizer, strides=strides)
    return L.RPReLU(name=f"{name}.relu")(h)


def plain_conv(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    """The full-precision stand-in for a BiSR-Conv: a conv of the same shape, `{name}.conv`.

    No bias, redistribution, RPReLU or residual: BiSRNet's base model (Table 2d).
    Binarization options passed for BiSR-Conv are ignored.
    """
    conv_class = L.GroupConv2D if groups > 1 else tf.keras.layers.Conv2D
    return conv_class(
        channels_of(x), kernel_size, padding="same", groups=groups, use_bias=False,
        kernel_initializer=reference_initializer(), name=f"{name}.conv",
    )(x)


def vanilla_conv(x, name: str, kernel_size: int = 3, groups: int = 1,
                 input_quantizer="ste_sign", kernel_quantizer="scaled_sign",
                 redistribution: bool = False, **_unused):
    r"""Table 2a's "vanilla 1-bit conv" (baseline-1): BiSR-Conv without its residual.

    \(\mathrm{RPReLU}(\mathrm{conv}(\mathrm{sign}(x), \overline{|W|}_c\mathrm{sign}(W)))\):
    the sign (clip STE unless the model passes another `input_quantizer`),
    the scaled binary conv and RPReLU of BiSR-Conv (Eq. 9-12), no spectral
    redistribution unless asked, and no identity shortcut, so, like the
    normal modules of Fig. 4, it blocks the full-precision information. This
    is also exactly what the normal modules do around their reshaping conv,
    so baseline-1 has one kind of binary conv throughout.
    Layers: `{name}.move0` (only with `redistribution`), `{name}.binary_conv`, `{name}.relu`.
    """
    return bisr_conv(x, name, kernel_size, groups=groups, input_quantizer=input_quantizer,
                     kernel_quantizer=kernel_quantizer, redistribution=redistribution,
                     residual=False)


# --------------------------------------------------------------------------- Table 1's units


def biconnect_unit(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    r"""BinaryConnect: \(\mathrm{BN}(\mathrm{conv}(x, \mathrm{sign}(W)))\), full-precision activations.

    Layers: `{name}.binary_conv` (no input quantizer; `ste_sign` kernel with
    `weight_clip`), `{name}.bn`. Options meant for BiSR-Conv are ignored.
    """
    h = _binary_conv(x, name, channels_of(x), kernel_size, None, "ste_sign", groups,
                     kernel_constraint="weight_clip")
    return _batch_norm(h, name)


def bnn_unit(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    r"""BNN: \(\mathrm{BN}(\mathrm{conv}(\mathrm{sign}(x), \mathrm{sign}(W)))\), clip STE for both, no scaling.

    Layers: `{name}.binary_conv` (`ste_sign` input and kernel, `weight_clip`), `{name}.bn`.
    """
    h = _binary_conv(x, name, channels_of(x), kernel_size, "ste_sign", "ste_sign", groups,
                     kernel_constraint="weight_clip")
    return _batch_norm(h, name)


def bireal_unit(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    r"""Bi-Real: \(x + \mathrm{BN}(\mathrm{conv}(\mathrm{ApproxSign}(x), \overline{|W|}_c\mathrm{sign}(W)))\).

    Layers: `{name}.binary_conv` (`approx_sign`, `magnitude_aware_sign`), `{name}.bn`, `{name}.add`.
    """
    h = _binary_conv(x, name, channels_of(x), kernel_size, "approx_sign", "magnitude_aware_sign", groups)
    return _add(_batch_norm(h, name), x, name)


def irnet_unit(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    r"""IRNet: \(x + \mathrm{BN}(\mathrm{conv}(\mathrm{sign}(x), s\,\mathrm{sign}(\hat W)))\), EDE for both signs.

    Layers: `{name}.binary_conv` (`EDESign` input, `LibraPBSign` kernel), `{name}.bn`, `{name}.add`.
    """
    h = _binary_conv(x, name, channels_of(x), kernel_size, "ede_sign", "libra_pb_sign", groups)
    return _add(_batch_norm(h, name), x, name)


def reactnet_unit(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    r"""ReActNet: \(\mathrm{RPReLU}(\mathrm{BN}(B(x + b)) + x)\), \(B(z) = \mathrm{conv}(\mathrm{sign}(z), \overline{|W|}_c\mathrm{sign}(W))\).

    Layers: `{name}.move0` (`LearnableBias`, RSign's threshold -b), `{name}.binary_conv`
    (`approx_sign`, `scaled_sign`), `{name}.bn`, `{name}.add`, `{name}.relu` (`RPReLU`).
    """
    h = L.LearnableBias(name=f"{name}.move0")(x)
    h = _binary_conv(h, name, channels_of(x), kernel_size, "approx_sign", "scaled_sign", groups)
    h = _add(_batch_norm(h, name), x, name)
    return L.RPReLU(name=f"{name}.relu")(h)


def btm_unit(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    r"""BTM: \(x + \mathrm{PReLU}(B(\mathrm{FN}(x)))\), \(B(z) = \mathrm{conv}(\mathrm{sign}(z), \overline{|W|}_c\mathrm{sign}(W))\), no BatchNorm.

    Layers: `{name}.norm` (`FeatureNormalization`), `{name}.binary_conv`
    (`approx_sign`, `scaled_approx_sign`, Xavier-uniform init), `{name}.relu`
    (per-channel `PReLU`, slope 0.25), `{name}.add`.
    """
    h = L.FeatureNormalization(name=f"{name}.norm")(x)
    h = _binary_conv(h, name, channels_of(x), kernel_size, "approx_sign", "scaled_approx_sign", groups,
                     kernel_initializer=tf.keras.initializers.GlorotUniform())
    h = tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(0.25),
                              shared_axes=[1, 2], name=f"{name}.relu")(h)
    return _add(h, x, name)


def bbcu_unit(x, name: str, kernel_size: int = 3, groups: int = 1, **_unused):
    r"""BBCU-V4: \(x + \mathrm{RPReLU}(\mathrm{conv}(\mathrm{sign}(x + b), \overline{|W|}_c\mathrm{sign}(W)))\).

    `bbcu_conv(unit="v4")` with the grouped conv the backbone needs. Layers:
    `{name}.move0` (`LearnableBias`), `{name}.binary_conv` (`approx_sign`,
    `scaled_sign`), `{name}.relu` (`RPReLU`), `{name}.add`. The residual
    alignment is a network property (`BinarizedUNet`).
    """
    h = L.LearnableBias(name=f"{name}.move0")(x)
    h = _binary_conv(h, name, channels_of(x), kernel_size, "approx_sign", "scaled_sign", groups)
    h = L.RPReLU(name=f"{name}.relu")(h)
    return _add(h, x, name)


#: The C -> C units of BiSRNet's backbone by name: `unit(x, name, kernel_size=3, groups=1, **options)`.
UNITS = {
    "bisr": bisr_conv,
    "plain": plain_conv,
    "vanilla": vanilla_conv,
    "biconnect": biconnect_unit,
    "bnn": bnn_unit,
    "bireal": bireal_unit,
    "irnet": irnet_unit,
    "reactnet": reactnet_unit,
    "btm": btm_unit,
    "bbcu": bbcu_unit,
}


def get_unit(unit):
    """A unit of `UNITS` by name, or a callable with the same signature, as it is."""
    if callable(unit):
        return unit
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {sorted(UNITS)} or a function, got {unit!r}")
    return UNITS[unit]


# --------------------------------------------------------------------------- BBCU's units
#
# BBCU (Xia et al., ICLR 2023), Sec. 3.1-3.2. The binary conv of every unit is
#
#     x_b = approx_sign(x + b)              Eq. 2 (threshold a = -b), Eq. 6 backward
#     W_b = mean|W|_c * sign(W)             Eq. 3 ("scaled_sign", clip STE)
#     y   = conv(x_b, W_b)                  Eq. 1
#
# with `b` a `LearnableBias` (`{name}.move0`) and RPReLU (Eq. 4, `{name}.relu`).

#: BBCU's body unit versions (Fig. 2).
BBCU_UNITS = ("v1", "v2", "v3", "v4")


def _check_bbcu_unit(unit) -> str:
    if unit not in BBCU_UNITS:
        raise ValueError(f"BBCU unit must be one of {BBCU_UNITS}, got {unit!r}")
    return unit


def _bbcu_binary_conv(x, name, filters, kernel_size, input_quantizer, kernel_quantizer):
    r"""`{name}.move0` (\(x + b\)) and `{name}.binary_conv` (Eq. 1-3): the core of every BBCU unit."""
    h = L.LearnableBias(name=f"{name}.move0")(x)
    return lq.layers.QuantConv2D(
        filters,
        kernel_size,
        padding="same",
        use_bias=False,
        input_quantizer=Q.make_quantizer(input_quantizer, "input_quantizer"),
        kernel_quantizer=Q.make_quantizer(kernel_quantizer, "kernel_quantizer"),
        name=f"{name}.binary_conv",
    )(h)


def bbcu_conv(
    x,
    name: str,
    unit: str = "v4",
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
):
    r"""A basic binary conv unit with its own residual, C -> C channels (BBCU Fig. 2; BBCU-B of Fig. 3).

    With \(B(x) = \mathrm{conv}(\mathrm{sign}(x + b),\ \overline{|W|}\,\mathrm{sign}(W))\)
    and \(f\) the RPReLU:

    | unit | output | paper |
    | --- | --- | --- |
    | `"v1"` | \(f(\kappa B(x) + \tau + x)\), BatchNorm \(\kappa, \tau\) | Eq. 5, Fig. 2a |
    | `"v2"` | \(f(B(x) + x)\) | Fig. 2b |
    | `"v3"` | \(f(B(x) + x)\), in a network with residual alignment | Fig. 2c |
    | `"v4"` | \(x + f(B(x))\) (default; the released code's `BinaryConv2d`) | Fig. 2d |

    V3's unit is V2's: residual alignment (\(\times k\) at the network input,
    \(\div k\) at its output, `larq_hsi.layers.ResidualAlignment`) is a network
    property, which the BBCU model builders switch on for V3 and V4.
    The sign's backward pass is larq's `approx_sign`, Eq. 6:
    \(\partial\,\mathrm{sign}(x+b)/\partial x = \partial/\partial b = 2 - 2|x + b|\)
    for \(|x + b| \le 1\), else 0; the weights pass the clip STE \(1_{|W|\le 1}\).

    Layers added: `{name}.move0` (`LearnableBias`), `{name}.binary_conv`
    (`QuantConv2D`, stride 1, 'same', no bias), `{name}.bn` (V1 only,
    `BatchNormalization`, eps 1e-5, momentum 0.9 as PyTorch's defaults),
    `{name}.relu` (`RPReLU`) and `{name}.add`.
    """
    unit = _check_bbcu_unit(unit)
    h = _bbcu_binary_conv(x, name, channels_of(x), kernel_size, input_quantizer, kernel_quantizer)
    if unit == "v4":
        h = L.RPReLU(name=f"{name}.relu")(h)
        return tf.keras.layers.Add(name=f"{name}.add")([h, x])
    if unit == "v1":
        h = _batch_norm(h, name)
    h = tf.keras.layers.Add(name=f"{name}.add")([h, x])
    return L.RPReLU(name=f"{name}.relu")(h)


def bbcu_head(
    x,
    name: str,
    filters: int = 64,
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
):
    r"""BBCU-H (Sec. 3.2, Fig. 3b): binarized head, c -> C channels.

    \[ y = f(B(I_{LQ})) + \mathrm{repeat}_C(I_{LQ}) \]
    The LQ image (c channels) is repeated to C channels as the residual, each
    channel C // c times in place and then the first C mod c channels once
    more (3 -> 64: 3 x 21 + 1, as the released `BinaryConv2dV2`).
    Layers: `{name}.move0`, `{name}.binary_conv`, `{name}.relu`,
    `{name}.repeat` (`RepeatChannels`, "interleave"), `{name}.add`.
    """
    if filters < 1:
        raise ValueError(f"{name}: filters must be a positive integer, got {filters!r}")
    channels_of(x)
    h = _bbcu_binary_conv(x, name, filters, kernel_size, input_quantizer, kernel_quantizer)
    h = L.RPReLU(name=f"{name}.relu")(h)
    residual = L.RepeatChannels(filters, "interleave", name=f"{name}.repeat")(x)
    return tf.keras.layers.Add(name=f"{name}.add")([h, residual])


def bbcu_upsample(
    x,
    name: str,
    factor: int = 2,
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
):
    r"""BBCU-U (Sec. 3.2, Fig. 3b): binarized sub-pixel upscaling, C x H x W -> C x rH x rW.

    \[ y = \mathrm{PS}_r\big(f(B(x)) + \mathrm{repeat}_{r^2 C}(x)\big)
         = \mathrm{PS}_r(f(B(x))) + \mathrm{nearest}_r(x) \]
    The binary conv maps C to \(r^2 C\) channels; the input, repeated r^2 times
    along channels ("tile", matching `depth_to_space`'s layout), is its
    residual, so after the pixel shuffle the residual is the input upscaled by
    nearest neighbour (the released `BinaryUpConv2d`).
    Layers: `{name}.move0`, `{name}.binary_conv`, `{name}.relu`,
    `{name}.repeat`, `{name}.add`, `{name}.shuffle` (`PixelShuffle`).
    """
    if not isinstance(factor, int) or factor < 2:
        raise ValueError(f"{name}: factor must be an integer >= 2, got {factor!r}")
    wide = factor * factor * channels_of(x)
    h = _bbcu_binary_conv(x, name, wide, kernel_size, input_quantizer, kernel_quantizer)
    h = L.RPReLU(name=f"{name}.relu")(h)
    residual = L.RepeatChannels(wide, "tile", name=f"{name}.repeat")(x)
    h = tf.keras.layers.Add(name=f"{name}.add")([h, residual])
    return L.PixelShuffle(factor, name=f"{name}.shuffle")(h)


def bbcu_tail(
    x,
    residual,
    name: str,
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
):
    r"""BBCU-T (Sec. 3.2, Fig. 3b): binarized tail, C -> c channels, the LQ image as residual.

    \[ y = f(B(x)) + I_{LQ}' \]
    `residual` is the LQ image brought to the output's size (c channels; in
    SRResNet the bilinearly upscaled, amplified LQ image, i.e. the network's
    global skip). Layers: `{name}.move0`, `{name}.binary_conv`, `{name}.relu`, `{name}.add`.
    """
    channels_of(x)
    h = _bbcu_binary_conv(x, name, channels_of(residual), kernel_size, input_quantizer, kernel_quantizer)
    h = L.RPReLU(name=f"{name}.relu")(h)
    return tf.keras.layers.Add(name=f"{name}.add")([h, residual])


# --------------------------------------------------------------------------- HS-BiNet's units

#: HS-BiNet's binary conv units (Table 4's estimators), see `hsbinet_conv`.
HSBINET_UNITS = ("atiste", "bnn", "reactnet", "btm")

#: Each HS-BiNet unit's default kernel initializer (Appendix A.2: Kaiming; BTM its published Xavier).
HSBINET_INITIALIZERS = {"atiste": "kaiming", "bnn": "kaiming", "reactnet": "kaiming", "btm": "glorot_uniform"}

_ATISTE_OPTIONS = {"alpha": 1.0, "lam": 0.1, "alpha_trainable": True, "lambda_trainable": True}


def _atiste_options(atiste):
    options = dict(_ATISTE_OPTIONS)
    if atiste is not None:
        unknown = set(atiste) - set(options)
        if unknown:
            raise ValueError(f"atiste: unknown option(s) {sorted(unknown)}, expected some of {sorted(options)}")
        options.update(atiste)
    return options


def hsbinet_conv(
    x,
    name: str,
    filters: int,
    kernel_size: int,
    unit: str = "atiste",
    norm: bool = False,
    kernel_initializer=None,
    atiste: dict | None = None,
    seed: int | None = None,
):
    r"""One binary convolution of HS-BiNet with the chosen unit (stride 1, 'same' padding, no bias).

    | unit | activations | weights | around the conv |
    | --- | --- | --- | --- |
    | `"atiste"` | ATISTE, per-input-channel alpha | \(\overline{|W|}\mathrm{sign}(W)\), ATISTE gradient, one lambda per layer (`ATISTEConv2D`) | - |
    | `"bnn"` | `ste_sign` | `ste_sign`, unscaled, `weight_clip` | - |
    | `"reactnet"` | `LearnableBias` + `approx_sign` | `scaled_sign`, `weight_clip` | RPReLU |
    | `"btm"` | `approx_sign` | `scaled_approx_sign`, `weight_clip` | PReLU, no BatchNorm |

    Layers added (only those the unit uses): `{name}.bias` (`LearnableBias`,
    ReActNet's threshold), `{name}.binary_conv` (the `QuantConv2D`;
    `ATISTEConv2D` for ATISTE), `{name}.norm` (BatchNorm, momentum 0.9 /
    eps 1e-5 as PyTorch's defaults, with `norm=True` and not for BTM),
    `{name}.act` (RPReLU for ReActNet, PReLU for BTM). `atiste`: options of
    both ATISTE quantizers (`alpha`, `lam`, `alpha_trainable`,
    `lambda_trainable`); fixed (non-trainable) parameters can be scheduled by
    `larq_hsi.training.callbacks.ATISTESchedule`. `kernel_initializer`:
    "kaiming", "xavier", or any Keras initializer; `None` is the unit's
    default (`HSBINET_INITIALIZERS`).
    """
    if unit not in HSBINET_UNITS:
        raise ValueError(f"unit must be one of {HSBINET_UNITS}, got {unit!r}")
    init = initializer(HSBINET_INITIALIZERS[unit] if kernel_initializer is None else kernel_initializer, seed)
    common = dict(padding="same", use_bias=False, kernel_initializer=init, name=f"{name}.binary_conv")
    h = x
    if unit == "atiste":
        opts = _atiste_options(atiste)
        conv = L.ATISTEConv2D(
            filters,
            kernel_size,
            input_quantizer=Q.ATISTE(per_channel=True, **opts),
            kernel_quantizer=Q.ScaledATISTE(per_channel=True, **opts),
            **common,
        )
    elif unit == "bnn":
        conv = lq.layers.QuantConv2D(
            filters, kernel_size,
            input_quantizer=lq.quantizers.SteSign(clip_value=1.0),
            kernel_quantizer=lq.quantizers.SteSign(clip_value=1.0),
            kernel_constraint="weight_clip", **common,
        )
    elif unit == "reactnet":
        h = L.LearnableBias(name=f"{name}.bias")(h)
        conv = lq.layers.QuantConv2D(
            filters, kernel_size,
            input_quantizer=lq.quantizers.ApproxSign(),
            kernel_quantizer=Q.ScaledSign(),
            kernel_constraint="weight_clip", **common,
        )
    else:  # btm
        conv = lq.layers.QuantConv2D(
            filters, kernel_size,
            input_quantizer=lq.quantizers.ApproxSign(),
            kernel_quantizer=Q.ScaledApproxSign(),
            kernel_constraint="weight_clip", **common,
        )
    h = conv(h)
    if norm and unit != "btm":
        h = _batch_norm(h, name, "norm")
    if unit == "reactnet":
        h = L.RPReLU(name=f"{name}.act")(h)
    elif unit == "btm":
        h = tf.keras.layers.PReLU(
            alpha_initializer=tf.keras.initializers.Constant(0.25), shared_axes=[1, 2], name=f"{name}.act",
        )(h)
    return h
