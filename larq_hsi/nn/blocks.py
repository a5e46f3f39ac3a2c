r"""BiSRNet's four modules and its convolutional block, as functional-API helpers.

Every helper takes a Keras tensor and returns one, adding small named layers
to the graph around binary conv units (`larq_hsi.nn.units`), so each binary
convolution is a top-level `larq.layers.QuantConv2D` that `larq.models.summary`
counts. Layer names follow the module paths of the published BiSRNet weights
(for example `body.0.encoder_layers.0.1.biconv_1.binary_conv`).

| module | BiSR (Fig. 4, right) | normal (Fig. 4, left) |
| --- | --- | --- |
| downsample, C -> 2C, /2 | avg pool 2x2, two 3x3 units, concat | strided 4x4 binary conv |
| upsample, C -> C/2, x2 | bilinear x2, split in halves, a 3x3 unit on each, mean | bilinear x2, 3x3 binary conv |
| fusion down, C -> C/2 | split in halves, a 1x1 unit on each, mean | 1x1 binary conv |
| fusion up, C -> 2C | two 1x1 units on the input, concat | 1x1 binary conv |

Each BiSR module keeps the full-precision residual of its units; a normal
module's reshaping conv blocks it. `MODULES` holds both kinds by name.
"""

from __future__ import annotations

import tensorflow as tf

from larq_hsi.nn import layers as L
from larq_hsi.nn.units import bisr_conv, channels_of, normal_conv

__all__ = [
    "BISR_MODULES",
    "MODULES",
    "bisr_block",
    "bisr_downsample",
    "bisr_fusion_down",
    "bisr_fusion_up",
    "bisr_upsample",
    "module_functions",
    "normal_downsample",
    "normal_fusion_down",
    "normal_fusion_up",
    "normal_upsample",
]

BISR_MODULES = ("downsample", "upsample", "fusion_down", "fusion_up")


def _half(x, name):
    channels = channels_of(x)
    if channels % 2:
        raise ValueError(f"{name}: needs an even channel count to split in halves, got {channels}")
    return channels // 2


def _split_halves(x, name):
    _half(x, name)
    first, second = L.ChannelSplit(2, name=f"{name}.split")(x)
    return first, second


def bisr_downsample(x, name: str, unit=None, **options):
    """Binarized downsample (BiSRNet Fig. 4a): C x H x W -> 2C x H/2 x W/2.

    2x2 average pool, then two 3x3 units (BiSR-Conv by default) on the pooled
    tensor, concatenated (`biconv_1` first). Both keep their full-precision residual.
    """
    unit = unit or bisr_conv
    pooled = tf.keras.layers.AveragePooling2D(2, name=f"{name}.pool")(x)
    a = unit(pooled, f"{name}.biconv_1", 3, **options)
    b = unit(pooled, f"{name}.biconv_2", 3, **options)
    return tf.keras.layers.Concatenate(name=f"{name}.concat")([a, b])


def bisr_upsample(x, name: str, unit=None, **options):
    """Binarized upsample (BiSRNet Fig. 4b): C x H x W -> C/2 x 2H x 2W.

    Bilinear x2 (half-pixel centres), split the channels in halves, a 3x3
    unit on each, output their mean.
    """
    unit = unit or bisr_conv
    up = L.BilinearUpsample(2, name=f"{name}.up")(x)
    first, second = _split_halves(up, name)
    a = unit(first, f"{name}.biconv_1", 3, **options)
    b = unit(second, f"{name}.biconv_2", 3, **options)
    return tf.keras.layers.Average(name=f"{name}.mean")([a, b])


def bisr_fusion_down(x, name: str, unit=None, **options):
    """Binarized fusion down (BiSRNet Fig. 4c): C -> C/2 channels.

    Split in halves, a 1x1 unit on each, output their mean.
    """
    unit = unit or bisr_conv
    first, second = _split_halves(x, name)
    a = unit(first, f"{name}.biconv_1", 1, **options)
    b = unit(second, f"{name}.biconv_2", 1, **options)
    return tf.keras.layers.Average(name=f"{name}.mean")([a, b])


def bisr_fusion_up(x, name: str, unit=None, **options):
    """Binarized fusion up (BiSRNet Fig. 4d): C -> 2C channels.

    Two 1x1 units on the same input, concatenated.
    """
    unit = unit or bisr_conv
    a = unit(x, f"{name}.biconv_1", 1, **options)
    b = unit(x, f"{name}.biconv_2", 1, **options)
    return tf.keras.layers.Concatenate(name=f"{name}.concat")([a, b])


def normal_downsample(x, name: str, unit=None, **options):
    """Normal binarized downsample: a strided 1-bit conv4x4, C -> 2C (blocks the residual)."""
    return normal_conv(x, name, 2 * channels_of(x), 4, 2, **options)


def normal_upsample(x, name: str, unit=None, **options):
    """Normal binarized upsample: bilinear x2 then a 1-bit conv3x3, C -> C/2."""
    up = L.BilinearUpsample(2, name=f"{name}.up")(x)
    return normal_conv(up, name, _half(x, name), 3, **options)


def normal_fusion_down(x, name: str, unit=None, **options):
    """Normal binarized fusion down: a 1-bit conv1x1, C -> C/2."""
    return normal_conv(x, name, _half(x, name), 1, **options)


def normal_fusion_up(x, name: str, unit=None, **options):
    """Normal binarized fusion up: a 1-bit conv1x1, C -> 2C."""
    return normal_conv(x, name, 2 * channels_of(x), 1, **options)


#: Every module helper by kind and module name.
MODULES = {
    "bisr": {
        "downsample": bisr_downsample,
        "upsample": bisr_upsample,
        "fusion_down": bisr_fusion_down,
        "fusion_up": bisr_fusion_up,
    },
    "normal": {
        "downsample": normal_downsample,
        "upsample": normal_upsample,
        "fusion_down": normal_fusion_down,
        "fusion_up": normal_fusion_up,
    },
}


def module_functions(modules=None):
    """The module helpers for `{"downsample"|"upsample"|"fusion_down"|"fusion_up": "bisr"|"normal"}`.

    Modules not named are BiSR modules.
    """
    chosen = {m: "bisr" for m in BISR_MODULES}
    chosen.update(modules or {})
    unknown = set(chosen) - set(BISR_MODULES)
    if unknown:
        raise ValueError(f"modules: unknown module(s) {sorted(unknown)}, expected {BISR_MODULES}")
    for module, kind in chosen.items():
        if kind not in MODULES:
            raise ValueError(f"modules[{module!r}]: expected 'bisr' or 'normal', got {kind!r}")
    return {m: MODULES[chosen[m]][m] for m in BISR_MODULES}


def bisr_block(x, name: str, unit=None, modules=None, groups=None, **options):
    r"""The convolutional block of the published BiSRNet: \(x + FF(\mathrm{LayerNorm}(x))\).

    LayerNorm over channels (eps 1e-5) as `{name}.norm`, and the seven-layer
    feed-forward `{name}.fn.net.{0..6}` for d channels: fusion up d -> 2d,
    fusion up 2d -> 4d, RPReLU, 3x3 unit with groups = d, RPReLU,
    fusion down 4d -> 2d, fusion down 2d -> d.

    `unit` is the conv unit (`bisr_conv` by default, `plain_conv` for the base
    model); `modules` picks "bisr" or "normal" fusion modules (Table 2a);
    `groups` overrides the grouped conv's d groups (1 gives an ungrouped conv,
    which larq-compute-engine can convert to a true 1-bit op); `options` go to
    every unit (its quantizers, redistribution).
    """
    unit = unit or bisr_conv
    fns = module_functions(modules)
    d = channels_of(x)
    net = f"{name}.fn.net"
    h = tf.keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}.norm")(x)
    h = fns["fusion_up"](h, f"{net}.0", unit=unit, **options)
    h = fns["fusion_up"](h, f"{net}.1", unit=unit, **options)
    h = L.RPReLU(name=f"{net}.2")(h)
    h = unit(h, f"{net}.3", 3, groups=d if groups is None else groups, **options)
    h = L.RPReLU(name=f"{net}.4")(h)
    h = fns["fusion_down"](h, f"{net}.5", unit=unit, **options)
    h = fns["fusion_down"](h, f"{net}.6", unit=unit, **options)
    return tf.keras.layers.Add(name=f"{name}.add")([x, h])
