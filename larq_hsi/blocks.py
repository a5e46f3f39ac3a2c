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
    if isinstance(spec, str):
        prototype = Q.get(spec, argument=argument)
    elif isinstance(spec, dict):
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
    conv = conv or bisr_conv
    """Binarized downsample (BiSRNet Fig. 4a): C x H x W -> 2C x H/2 x W/2.

    2x2 average pool, then two 3x3 BiSR-Convs on the pooled tensor, concatenated
    (`biconv_1` first). Both keep their full-precision residual.
    """
    pooled = tf.keras.layers.AveragePooling2D(2, name=f"{name}.pool", dtype=dtype)(x)
    a = conv(pooled, f"{name}.biconv_1", 3, dtype=dtype, **conv_kwargs)
    b = conv(pooled, f"{name}.biconv_2", 3, dtype=dtype, **conv_kwargs)
    return tf.keras.layers.Concatenate(name=f"{name}.concat", dtype=dtype)([a, b])


def bisr_upsample(x, name: str, dtype=None, conv=None, **conv_kwargs):
    conv = conv or bisr_conv
    """Binarized upsample (BiSRNet Fig. 4b): C x H x W -> C/2 x 2H x 2W.

    Bilinear x2 (half-pixel centres), split the channels in halves, a 3x3
    BiSR-Conv on each, output their mean.
    """
    up = L.BilinearUpsample2x(name=f"{name}.up", dtype=dtype)(x)
    first, second = _split_halves(up, name, dtype)
    a = conv(first, f"{name}.biconv_1", 3, dtype=dtype, **conv_kwargs)
    b = conv(second, f"{name}.biconv_2", 3, dtype=dtype, **conv_kwargs)
    return tf.keras.layers.Average(name=f"{name}.mean", dtype=dtype)([a, b])


def bisr_fusion_down(x, name: str, dtype=None, conv=None, **conv_kwargs):
    conv = conv or bisr_conv
    """Binarized fusion down (BiSRNet Fig. 4c): C -> C/2 channels.

    Split in halves, a 1x1 BiSR-Conv on each, output their mean.
    """
    first, second = _split_halves(x, name, dtype)
    a = conv(first, f"{name}.biconv_1", 1, dtype=dtype, **conv_kwargs)
    b = conv(second, f"{name}.biconv_2", 1, dtype=dtype, **conv_kwargs)
    return tf.keras.layers.Average(name=f"{name}.mean", dtype=dtype)([a, b])


def bisr_fusion_up(x, name: str, dtype=None, conv=None, **conv_kwargs):
    conv = conv or bisr_conv
    """Binarized fusion up (BiSRNet Fig. 4d): C -> 2C channels.

    Two 1x1 BiSR-Convs on the same input, concatenated.
    """
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
