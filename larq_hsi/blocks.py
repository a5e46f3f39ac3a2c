r"""BiSRNet's binarized building blocks as functional-API helpers.

Every helper takes a Keras tensor and returns one, adding small named layers
to the graph, so each binary convolution is a top-level
`larq.layers.QuantConv2D` that `larq.models.summary` counts. Layer names follow
the module paths of the published BiSRNet weights (for example
`body.0.embedding.binary_conv`), which makes weight import a name lookup.

BiSR-Conv (BiSRNet Eq. 2-12), for an input \(X_f\) with C channels:
\[ X_o = X_f + \mathrm{RPReLU}\big(\mathrm{conv}(\mathrm{sign}(k X_f + b),\
   \overline{|W|}\,\mathrm{sign}(W))\big) \]
with the Tanh(alpha x) estimator for the activation sign and the clip STE for
the weights.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from larq_hsi import layers as L
from larq_hsi import quantizers as Q

__all__ = [
    "BISR_MODULES",
    "bisr_block",
    "bisr_conv",
    "bisr_downsample",
    "bisr_fusion_down",
    "bisr_fusion_up",
    "bisr_upsample",
    "make_quantizer",
    "module_functions",
    "plain_conv",
    "reference_initializer",
    "normal_downsample",
    "normal_fusion_down",
    "normal_fusion_up",
    "normal_upsample",
    # BBCU (section at the end of this file)
    "BBCU_VERSIONS",
    "BilinearUpsample",
    "PixelShuffle",
    "RepeatChannels",
    "bbcu_conv",
    "bbcu_head",
    "bbcu_tail",
    "bbcu_upsample",
    "repeat_channel_indices",
]

BISR_MODULES = ("downsample", "upsample", "fusion_down", "fusion_up")


def reference_initializer():
    """PyTorch's default conv initialisation, U(+-1/sqrt(fan_in)), as the reference BiSRNet uses.

    Keras's Glorot default is about 1.7x wider for BiSRNet's square convs; the
    binarized residual stream then starts larger and trains more slowly.
    """
    return tf.keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def make_quantizer(spec, dtype=None, argument="quantizer"):
    """A fresh quantizer instance in `dtype` from an alias, a config dict or an instance.

    An instance is used as a template: the result is a new object with the same
    config and the requested dtype, so one spec can serve many layers.
    `None` stays `None` (no quantization).
    """
    if spec is None:
        return None
    if isinstance(spec, (str, dict)):
        prototype = Q.get(spec, argument=argument)
    elif isinstance(spec, tf.keras.layers.Layer):
        prototype = spec
    else:
        raise ValueError(
            f"{argument}: expected a quantizer alias, config dict or instance, got {spec!r}"
        )
    config = prototype.get_config()
    config.pop("name", None)
    if dtype is not None:
        config["dtype"] = tf.as_dtype(dtype).name
    return type(prototype).from_config(config)


def _channels(x) -> int:
    channels = x.shape[-1]
    if channels is None:
        raise ValueError(f"the channel (last) dimension must be known, got shape {x.shape}")
    return int(channels)


def _half(x, name):
    channels = _channels(x)
    if channels % 2:
        raise ValueError(f"{name}: needs an even channel count to split in halves, got {channels}")
    return channels // 2


def bisr_conv(
    x,
    name: str,
    kernel_size: int = 3,
    groups: int = 1,
    input_quantizer="tanh_sign",
    kernel_quantizer="scaled_sign",
    redistribution: bool = True,
    residual: bool = True,
    dtype=None,
):
    r"""BiSR-Conv (BiSRNet Fig. 2c): redistribution, sign, binary conv, RPReLU, residual.

    Channels in equal channels out. Layers added: `{name}.move0`
    (`SpectralRedistribution`, skipped with `redistribution=False`),
    `{name}.binary_conv` (`QuantConv2D`, stride 1, 'same' zero padding, no bias,
    `groups` as given), `{name}.relu` (`RPReLU`) and `{name}.add` (the
    full-precision residual, skipped with `residual=False`).
    Quantizers are aliases, config dicts or template instances; each layer gets
    its own instance in `dtype`, so ablations can swap estimators.
    """
    channels = _channels(x)
    if channels % groups:
        raise ValueError(f"{name}: channels ({channels}) must be divisible by groups ({groups})")
    h = L.SpectralRedistribution(name=f"{name}.move0", dtype=dtype)(x) if redistribution else x
    conv_class = L.QuantGroupConv2D if groups > 1 else lq.layers.QuantConv2D
    h = conv_class(
        channels,
        kernel_size,
        padding="same",
        groups=groups,
        use_bias=False,
        kernel_initializer=reference_initializer(),
        input_quantizer=make_quantizer(input_quantizer, dtype, "input_quantizer"),
        kernel_quantizer=make_quantizer(kernel_quantizer, dtype, "kernel_quantizer"),
        name=f"{name}.binary_conv",
        dtype=dtype,
    )(h)
    h = L.RPReLU(name=f"{name}.relu", dtype=dtype)(h)
    if not residual:
        return h
    return tf.keras.layers.Add(name=f"{name}.add", dtype=dtype)([h, x])


def _split_halves(x, name, dtype):
    half = _half(x, name)
    first = L.ChannelSlice(0, half, name=f"{name}.split0", dtype=dtype)(x)
    second = L.ChannelSlice(half, 2 * half, name=f"{name}.split1", dtype=dtype)(x)
    return first, second


def bisr_downsample(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Binarized downsample (BiSRNet Fig. 4a): C x H x W -> 2C x H/2 x W/2.

    2x2 average pool, then two 3x3 BiSR-Convs on the pooled tensor, concatenated
    (`biconv_1` first). Both keep their full-precision residual.
    """
    conv = conv or bisr_conv
    pooled = tf.keras.layers.AveragePooling2D(2, name=f"{name}.pool", dtype=dtype)(x)
    a = conv(pooled, f"{name}.biconv_1", 3, dtype=dtype, **conv_kwargs)
    b = conv(pooled, f"{name}.biconv_2", 3, dtype=dtype, **conv_kwargs)
    return tf.keras.layers.Concatenate(name=f"{name}.concat", dtype=dtype)([a, b])


def bisr_upsample(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Binarized upsample (BiSRNet Fig. 4b): C x H x W -> C/2 x 2H x 2W.

    Bilinear x2 (half-pixel centres), split the channels in halves, a 3x3
    BiSR-Conv on each, output their mean.
    """
    conv = conv or bisr_conv
    up = L.BilinearUpsample2x(name=f"{name}.up", dtype=dtype)(x)
    first, second = _split_halves(up, name, dtype)
    a = conv(first, f"{name}.biconv_1", 3, dtype=dtype, **conv_kwargs)
    b = conv(second, f"{name}.biconv_2", 3, dtype=dtype, **conv_kwargs)
    return tf.keras.layers.Average(name=f"{name}.mean", dtype=dtype)([a, b])


def bisr_fusion_down(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Binarized fusion down (BiSRNet Fig. 4c): C -> C/2 channels.

    Split in halves, a 1x1 BiSR-Conv on each, output their mean.
    """
    conv = conv or bisr_conv
    first, second = _split_halves(x, name, dtype)
    a = conv(first, f"{name}.biconv_1", 1, dtype=dtype, **conv_kwargs)
    b = conv(second, f"{name}.biconv_2", 1, dtype=dtype, **conv_kwargs)
    return tf.keras.layers.Average(name=f"{name}.mean", dtype=dtype)([a, b])


def bisr_fusion_up(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Binarized fusion up (BiSRNet Fig. 4d): C -> 2C channels.

    Two 1x1 BiSR-Convs on the same input, concatenated.
    """
    conv = conv or bisr_conv
    a = conv(x, f"{name}.biconv_1", 1, dtype=dtype, **conv_kwargs)
    b = conv(x, f"{name}.biconv_2", 1, dtype=dtype, **conv_kwargs)
    return tf.keras.layers.Concatenate(name=f"{name}.concat", dtype=dtype)([a, b])


def _normal_binary_conv(x, name, filters, kernel_size, strides=1, dtype=None,
                        input_quantizer="tanh_sign", kernel_quantizer="scaled_sign",
                        redistribution=True):
    """A binary conv that reshapes its input: no residual can pass it (BiSRNet Fig. 4, left)."""
    h = L.SpectralRedistribution(name=f"{name}.move0", dtype=dtype)(x) if redistribution else x
    h = lq.layers.QuantConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer=reference_initializer(),
        input_quantizer=make_quantizer(input_quantizer, dtype, "input_quantizer"),
        kernel_quantizer=make_quantizer(kernel_quantizer, dtype, "kernel_quantizer"),
        name=f"{name}.binary_conv",
        dtype=dtype,
    )(h)
    return L.RPReLU(name=f"{name}.relu", dtype=dtype)(h)


def normal_downsample(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Normal binarized downsample: a strided 1-bit conv4x4, C -> 2C (blocks the residual)."""
    return _normal_binary_conv(x, name, 2 * _channels(x), 4, 2, dtype=dtype, **conv_kwargs)


def normal_upsample(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Normal binarized upsample: bilinear x2 then a 1-bit conv3x3, C -> C/2."""
    up = L.BilinearUpsample2x(name=f"{name}.up", dtype=dtype)(x)
    return _normal_binary_conv(up, name, _half(x, name), 3, dtype=dtype, **conv_kwargs)


def normal_fusion_down(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Normal binarized fusion down: a 1-bit conv1x1, C -> C/2."""
    return _normal_binary_conv(x, name, _half(x, name), 1, dtype=dtype, **conv_kwargs)


def normal_fusion_up(x, name: str, dtype=None, conv=None, **conv_kwargs):
    """Normal binarized fusion up: a 1-bit conv1x1, C -> 2C."""
    return _normal_binary_conv(x, name, 2 * _channels(x), 1, dtype=dtype, **conv_kwargs)


def plain_conv(x, name: str, kernel_size: int = 3, groups: int = 1, dtype=None, **_unused):
    """The full-precision stand-in for a BiSR-Conv: a conv of the same shape, `{name}.conv`.

    No bias, redistribution, RPReLU or residual: BiSRNet's base model (Table 2d).
    Binarization options passed for BiSR-Conv are ignored.
    """
    conv_class = L.GroupConv2D if groups > 1 else tf.keras.layers.Conv2D
    return conv_class(
        _channels(x), kernel_size, padding="same", groups=groups, use_bias=False,
        kernel_initializer=reference_initializer(),
        name=f"{name}.conv", dtype=dtype,
    )(x)


def module_functions(modules=None):
    """The module helpers for `{"downsample"|"upsample"|"fusion_down"|"fusion_up": "bisr"|"normal"}`."""
    chosen = {m: "bisr" for m in BISR_MODULES}
    chosen.update(modules or {})
    unknown = set(chosen) - set(BISR_MODULES)
    if unknown:
        raise ValueError(f"modules: unknown module(s) {sorted(unknown)}, expected {BISR_MODULES}")
    for module, kind in chosen.items():
        if kind not in ("bisr", "normal"):
            raise ValueError(f"modules[{module!r}]: expected 'bisr' or 'normal', got {kind!r}")
    return {m: globals()[f"{chosen[m]}_{m}"] for m in BISR_MODULES}


def bisr_block(x, name: str, dtype=None, conv=None, modules=None, groups=None, **conv_kwargs):
    r"""The convolutional block of the published BiSRNet: \(x + FF(\mathrm{LayerNorm}(x))\).

    LayerNorm over channels (eps 1e-5) as `{name}.norm`, and the seven-layer
    feed-forward `{name}.fn.net.{0..6}` for d channels: fusion up d -> 2d,
    fusion up 2d -> 4d, RPReLU, 3x3 conv unit with groups = d, RPReLU,
    fusion down 4d -> 2d, fusion down 2d -> d.

    `conv` is the conv unit (`bisr_conv` by default, `plain_conv` for the base
    model); `modules` picks "bisr" or "normal" fusion modules (Table 2a);
    `groups` overrides the grouped conv's d groups (1 gives an ungrouped conv,
    which larq-compute-engine can convert to a true 1-bit op).
    """
    conv = conv or bisr_conv
    fns = module_functions(modules)
    d = _channels(x)
    net = f"{name}.fn.net"
    kwargs = dict(dtype=dtype, conv=conv, **conv_kwargs)
    h = tf.keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}.norm", dtype=dtype)(x)
    h = fns["fusion_up"](h, f"{net}.0", **kwargs)
    h = fns["fusion_up"](h, f"{net}.1", **kwargs)
    h = L.RPReLU(name=f"{net}.2", dtype=dtype)(h)
    h = conv(h, f"{net}.3", 3, groups=d if groups is None else groups, dtype=dtype, **conv_kwargs)
    h = L.RPReLU(name=f"{net}.4", dtype=dtype)(h)
    h = fns["fusion_down"](h, f"{net}.5", **kwargs)
    h = fns["fusion_down"](h, f"{net}.6", **kwargs)
    return tf.keras.layers.Add(name=f"{name}.add", dtype=dtype)([x, h])


# =============================================================================
# BBCU: basic binary convolution units (Xia et al., ICLR 2023), Sec. 3.1-3.2
# =============================================================================
#
# Every unit below is a functional helper like the BiSR ones above: it adds
# small named layers around one top-level `larq.layers.QuantConv2D`
# (`{name}.binary_conv`), so `larq.models.summary` lists each binary conv
# with its MACs. The binary conv of every unit is
#
#     x_b = approx_sign(x + b)              Eq. 2 (threshold a = -b), Eq. 6 backward
#     W_b = mean|W|_c * sign(W)             Eq. 3 ("scaled_sign", clip STE)
#     y   = conv(x_b, W_b)                  Eq. 1
#
# with `b` a `LearnableBias` (`{name}.move0`) and RPReLU (Eq. 4, `{name}.relu`).
# The layers the units need besides those of `larq_hsi.layers` (pixel shuffle,
# channel repetition, integer-factor bilinear upscaling) follow.

from larq import utils as _lq_utils  # noqa: E402

BBCU_VERSIONS = ("v1", "v2", "v3", "v4")


@_lq_utils.register_keras_custom_object
class PixelShuffle(tf.keras.layers.Layer):
    r"""Sub-pixel upscaling by `factor` r: `tf.nn.depth_to_space` (channels last).

    \( y[h r + i,\ w r + j,\ c] = x[h, w, (i r + j) C + c] \) for an input with
    \(r^2 C\) channels. (PyTorch's `nn.PixelShuffle` reads channel
    \(c r^2 + i r + j\) instead; the two differ by a fixed permutation of the
    preceding conv's output channels, so trained networks are equivalent.)
    """

    def __init__(self, factor: int, **kwargs):
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"PixelShuffle: factor must be an integer >= 1, got {factor!r}")
        self.factor = factor
        super().__init__(**kwargs)

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        r = self.factor
        if shape[-1] is not None and shape[-1] % (r * r):
            raise ValueError(
                f"PixelShuffle({r}): input channels must be a multiple of {r * r}, got {shape[-1]}"
            )
        for axis in (1, 2):
            shape[axis] = None if shape[axis] is None else shape[axis] * r
        shape[-1] = None if shape[-1] is None else shape[-1] // (r * r)
        return tf.TensorShape(shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def repeat_channel_indices(in_channels: int, channels: int, mode: str = "tile") -> list[int]:
    """Which input channel feeds each of the `channels` outputs of `RepeatChannels`.

    `"tile"`: output j reads input j mod c (the input repeated as a whole).
    `"interleave"`: each input channel repeated m = channels // c times in place
    (output j < c m reads input j // m), then the first channels mod c inputs
    once more: the released BBCU-H repeats 3 -> 64 as 3 x 21 + 1.
    """
    if in_channels < 1 or channels < 1:
        raise ValueError(
            f"RepeatChannels: channel counts must be positive, got {in_channels} -> {channels}"
        )
    if mode == "tile":
        return [j % in_channels for j in range(channels)]
    if mode == "interleave":
        m = channels // in_channels
        head = [j // m for j in range(in_channels * m)] if m else []
        return head + list(range(channels - len(head)))
    raise ValueError(f"RepeatChannels: mode must be 'tile' or 'interleave', got {mode!r}")


@_lq_utils.register_keras_custom_object
class RepeatChannels(tf.keras.layers.Layer):
    """Repeats the input's channels to `channels` channels (see `repeat_channel_indices`).

    The residual of BBCU-H (the LQ image repeated to C channels, `"interleave"`)
    and of BBCU-U (the input repeated r^2 times, `"tile"`, which the pixel
    shuffle turns into nearest-neighbour upscaling).
    """

    def __init__(self, channels: int, mode: str = "tile", **kwargs):
        repeat_channel_indices(1, channels, mode)  # validates both arguments
        self.channels = int(channels)
        self.mode = mode
        super().__init__(**kwargs)

    def build(self, input_shape):
        in_channels = tf.TensorShape(input_shape)[-1]
        if in_channels is None:
            raise ValueError(f"RepeatChannels needs a known channel dimension, got {input_shape}")
        self._indices = repeat_channel_indices(int(in_channels), self.channels, self.mode)
        super().build(input_shape)

    def call(self, inputs):
        return tf.gather(inputs, self._indices, axis=-1)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.channels])

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "mode": self.mode}


@_lq_utils.register_keras_custom_object
class BilinearUpsample(tf.keras.layers.Layer):
    r"""Bilinear upscaling by an integer `factor` r, half-pixel centres, exact in any dtype.

    PyTorch's `interpolate(scale_factor=r, mode="bilinear", align_corners=False)`
    (the global skip of the released SRResNet/BBCU code): along each spatial
    axis output \(o = i r + p\) samples the input at \(s = i + d_p\),
    \(d_p = (p + \tfrac12)/r - \tfrac12\):
    \[ y_{ir+p} = (1 - |d_p|)\,x_i + |d_p|\,x_{i + \mathrm{sign}(d_p)}, \]
    the edge sample repeated outside the image. For r = 2 this is
    `larq_hsi.layers.BilinearUpsample2x`.
    """

    def __init__(self, factor: int, **kwargs):
        if not isinstance(factor, int) or factor < 1:
            raise ValueError(f"BilinearUpsample: factor must be an integer >= 1, got {factor!r}")
        self.factor = factor
        super().__init__(**kwargs)

    def _along(self, x, axis):
        r = self.factor
        n = tf.shape(x)[axis]
        prev = tf.concat([tf.gather(x, [0], axis=axis), tf.gather(x, tf.range(n - 1), axis=axis)], axis)
        nxt = tf.concat([tf.gather(x, tf.range(1, n), axis=axis), tf.gather(x, [n - 1], axis=axis)], axis)
        phases = []
        for p in range(r):
            d = (p + 0.5) / r - 0.5
            if d < 0:
                phases.append((1.0 + d) * x + (-d) * prev)
            elif d > 0:
                phases.append((1.0 - d) * x + d * nxt)
            else:
                phases.append(x)
        stacked = tf.stack(phases, axis=axis + 1)
        shape = tf.concat([tf.shape(x)[:axis], [r * n], tf.shape(x)[axis + 1 :]], 0)
        out = tf.reshape(stacked, shape)
        static = x.shape.as_list()
        if static[axis] is not None:
            static[axis] *= r
        out.set_shape(static)
        return out

    def call(self, inputs):
        if self.factor == 1:
            return inputs
        return self._along(self._along(inputs, 1), 2)

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        for axis in (1, 2):
            shape[axis] = None if shape[axis] is None else self.factor * shape[axis]
        return tf.TensorShape(shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _check_version(version) -> str:
    if version not in BBCU_VERSIONS:
        raise ValueError(f"BBCU version must be one of {BBCU_VERSIONS}, got {version!r}")
    return version


def _bbcu_binary_conv(x, name, filters, kernel_size, input_quantizer, kernel_quantizer, dtype):
    r"""`{name}.move0` (\(x + b\)) and `{name}.binary_conv` (Eq. 1-3): the core of every unit."""
    h = L.LearnableBias(name=f"{name}.move0", dtype=dtype)(x)
    return lq.layers.QuantConv2D(
        filters,
        kernel_size,
        padding="same",
        use_bias=False,
        input_quantizer=make_quantizer(input_quantizer, dtype, "input_quantizer"),
        kernel_quantizer=make_quantizer(kernel_quantizer, dtype, "kernel_quantizer"),
        name=f"{name}.binary_conv",
        dtype=dtype,
    )(h)


def bbcu_conv(
    x,
    name: str,
    version: str = "v4",
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
    dtype=None,
):
    r"""A basic binary conv unit with its own residual, C -> C channels (BBCU Fig. 2; BBCU-B of Fig. 3).

    With \(B(x) = \mathrm{conv}(\mathrm{sign}(x + b),\ \overline{|W|}\,\mathrm{sign}(W))\)
    and \(f\) the RPReLU:

    | version | output | paper |
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
    version = _check_version(version)
    channels = _channels(x)
    h = _bbcu_binary_conv(x, name, channels, kernel_size, input_quantizer, kernel_quantizer, dtype)
    if version == "v4":
        h = L.RPReLU(name=f"{name}.relu", dtype=dtype)(h)
        return tf.keras.layers.Add(name=f"{name}.add", dtype=dtype)([h, x])
    if version == "v1":
        h = tf.keras.layers.BatchNormalization(
            epsilon=1e-5, momentum=0.9, name=f"{name}.bn", dtype=dtype
        )(h)
    h = tf.keras.layers.Add(name=f"{name}.add", dtype=dtype)([h, x])
    return L.RPReLU(name=f"{name}.relu", dtype=dtype)(h)


def bbcu_head(
    x,
    name: str,
    filters: int = 64,
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
    dtype=None,
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
    _channels(x)
    h = _bbcu_binary_conv(x, name, filters, kernel_size, input_quantizer, kernel_quantizer, dtype)
    h = L.RPReLU(name=f"{name}.relu", dtype=dtype)(h)
    residual = RepeatChannels(filters, "interleave", name=f"{name}.repeat", dtype=dtype)(x)
    return tf.keras.layers.Add(name=f"{name}.add", dtype=dtype)([h, residual])


def bbcu_upsample(
    x,
    name: str,
    factor: int = 2,
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
    dtype=None,
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
    channels = _channels(x)
    wide = factor * factor * channels
    h = _bbcu_binary_conv(x, name, wide, kernel_size, input_quantizer, kernel_quantizer, dtype)
    h = L.RPReLU(name=f"{name}.relu", dtype=dtype)(h)
    residual = RepeatChannels(wide, "tile", name=f"{name}.repeat", dtype=dtype)(x)
    h = tf.keras.layers.Add(name=f"{name}.add", dtype=dtype)([h, residual])
    return PixelShuffle(factor, name=f"{name}.shuffle", dtype=dtype)(h)


def bbcu_tail(
    x,
    residual,
    name: str,
    kernel_size: int = 3,
    input_quantizer="approx_sign",
    kernel_quantizer="scaled_sign",
    dtype=None,
):
    r"""BBCU-T (Sec. 3.2, Fig. 3b): binarized tail, C -> c channels, the LQ image as residual.

    \[ y = f(B(x)) + I_{LQ}' \]
    `residual` is the LQ image brought to the output's size (c channels; in
    SRResNet the bilinearly upscaled, amplified LQ image, i.e. the network's
    global skip). Layers: `{name}.move0`, `{name}.binary_conv`, `{name}.relu`, `{name}.add`.
    """
    _channels(x)
    out_channels = _channels(residual)
    h = _bbcu_binary_conv(x, name, out_channels, kernel_size, input_quantizer, kernel_quantizer, dtype)
    h = L.RPReLU(name=f"{name}.relu", dtype=dtype)(h)
    return tf.keras.layers.Add(name=f"{name}.add", dtype=dtype)([h, residual])
