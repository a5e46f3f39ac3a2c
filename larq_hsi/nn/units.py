r"""Binary convolution units: one binary conv and the small layers around it.

Every unit is a functional helper: it takes a Keras tensor and returns one,
adding named layers around exactly one top-level `larq.layers.QuantConv2D`
(`{name}.binary_conv`), so `larq.models.summary` lists each binary conv with
its MACs and weight import is a lookup by layer name. The layers take the
dtype of the model being built (`larq_hsi.nn.dtype.default_dtype`).

Four families, each behind an explicit table:

- `UNITS`: the C -> C units of BiSRNet's U-shaped backbone, by name. BiSR-Conv
  (`"bisr"`), the full-precision stand-in of the base model (`"plain"`) and Table
  2a's vanilla 1-bit conv (`"vanilla"`). Signature `unit(x, name, kernel_size=3, groups=1, **options)`.
- `BASELINES`: BiSRNet's seven Table 1 baselines as the reference code builds
  them (`Baseline`: each method's unit, downsample, upsample, embedding and
  mapping, which change the channel count themselves; `baseline_block`). The
  binary convs there are named by the reference's module paths (`conv1`,
  `binary_3x3`, `binary_pw_down1`, ...), not `{name}.binary_conv`.
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

import dataclasses
from collections.abc import Callable

import larq as lq
import tensorflow as tf

from larq_hsi.nn import layers as L
from larq_hsi.nn import quantizers as Q

__all__ = [
    "BASELINES",
    "BBCU_UNITS",
    "Baseline",
    "HSBINET_UNITS",
    "UNITS",
    "baseline_block",
    "bbcu_conv",
    "bbcu_head",
    "bbcu_tail",
    "bbcu_upsample",
    "bisr_conv",
    "channels_of",
    "get_baseline",
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


# --------------------------------------------------------------------------- Table 1's baselines
#
# BiSRNet's seven Table 1 baselines as the authors' code builds them (BiSCI,
# `simulation/train_code/architecture/{BBCU,BiConnect,BirealNet,BTM,ReActNet,IRNet,BNN}.py`;
# `../shared/docs/bisci-baselines-reference.md`). Each method changes the
# structure around its binary convs, not only the conv: every module is one
# conv that changes the channel count itself (the BTM and ReActNet downsamples
# excepted: two C -> C convs, concatenated), the block's activations are
# parameter-free GELUs, the only residual inside a block is at `net.3`, and
# the embedding and mapping are bare (binary or full-precision) convs.
# Layer names are the reference's module paths, so each state-dict tensor
# maps to one Keras variable by name (`larq_hsi.models.pretrained`).

_GELU = "gelu"  # tf.keras.activations.gelu(approximate=False): PyTorch's exact erf form


def _quant_conv(x, name, filters, kernel_size, input_quantizer, kernel_quantizer, groups=1,
                strides=1, kernel_initializer=None, flat=False):
    """A top-level binary conv named `name`, no bias.

    Stride 1: 'same' zero padding ((k - 1) / 2 on every side). Stride 2: the
    reference's padding (k - 1) / 2 on all four sides (`{name}.pad`, output
    (i, j) centred on input (2i, 2j)), which Keras's 'same' (bottom/right only
    for even sizes) is not. `flat`: Bi-Real's flat reference kernel layout.
    """
    channels = channels_of(x)
    if channels % groups or filters % groups:
        raise ValueError(
            f"{name}: channels ({channels} in, {filters} out) must be divisible by groups ({groups})"
        )
    if flat:
        conv_class = L.FlatQuantGroupConv2D if groups > 1 else L.FlatQuantConv2D
    else:
        conv_class = L.QuantGroupConv2D if groups > 1 else lq.layers.QuantConv2D
    padding = "same"
    if strides != 1:
        pad = (kernel_size - 1) // 2
        if pad:
            x = tf.keras.layers.ZeroPadding2D(pad, name=f"{name}.pad")(x)
        padding = "valid"
    return conv_class(
        filters, kernel_size, strides=strides, padding=padding, groups=groups, use_bias=False,
        kernel_initializer=kernel_initializer or reference_initializer(),
        input_quantizer=Q.make_quantizer(input_quantizer, "input_quantizer"),
        kernel_quantizer=Q.make_quantizer(kernel_quantizer, "kernel_quantizer"),
        name=name,
    )(x)


def _float_conv(x, name, filters, kernel_size, strides=1):
    """A full-precision conv named `name`, no bias, padding as `_quant_conv`."""
    padding = "same"
    if strides != 1:
        pad = (kernel_size - 1) // 2
        if pad:
            x = tf.keras.layers.ZeroPadding2D(pad, name=f"{name}.pad")(x)
        padding = "valid"
    return tf.keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                                  kernel_initializer=reference_initializer(), name=name)(x)


def _pool(x, name):
    return tf.keras.layers.AveragePooling2D(2, name=name)(x)


def _bilinear(x, name):
    return L.BilinearUpsample(2, name=name)(x)


def _binary_name(kernel_size):
    return f"binary_{kernel_size}x{kernel_size}"


def _uniform_small():
    """U[0, 0.001): the reference init of Bi-Real's, ReActNet's and BTM's binary kernels (all +1 binary)."""
    return tf.keras.initializers.RandomUniform(0.0, 0.001)


# ---- BBCU (`BBCU.py`)

def _bbcu_unit(x, name, filters, kernel_size=1, groups=1, residual=False):
    r"""\(U(x) = A(\mathrm{conv}(\mathrm{sign}(x + b), a\,\mathrm{sign}(W)))\) (+ x with `residual`).

    Layers `{name}.move0` (threshold), `{name}.binary_kxk`, `{name}.relu` (RPReLU-form A), `{name}.add`.
    """
    h = L.LearnableBias(name=f"{name}.move0")(x)
    h = _quant_conv(h, f"{name}.{_binary_name(kernel_size)}", filters, kernel_size, "torch_ste_sign",
                    "torch_scaled_sign", groups)
    h = L.RPReLU(name=f"{name}.relu")(h)
    return _add(h, x, name) if residual else h


def _bbcu_down(x, name):
    return _bbcu_unit(_pool(x, f"{name}.pool"), name, 2 * channels_of(x), 3)


def _bbcu_up(x, name):
    return _bbcu_unit(_bilinear(x, f"{name}.up"), name, channels_of(x) // 2, 3)


def _bbcu_embedding(x, name):
    return _quant_conv(x, name, channels_of(x), 3, "torch_ste_sign", "torch_scaled_sign")


def _bbcu_mapping(fea, x, name):
    return _add(_bbcu_embedding(fea, name), x, name)


# ---- BiConnect (`BiConnect.py`)

def _biconnect_unit(x, name, filters, kernel_size=1, groups=1, residual=False):
    r"""\(\mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}(z, \mathrm{sign}(W))))\): \(z = \mathrm{sign}(x)\)
    at `net.3` (`residual=True`, which adds **no** residual: BiConnect has none), else \(z = x\).

    Layers `{name}.conv1` (`FrozenSign(zero_value=1)` kernels), `{name}.bn1`, `{name}.relu`.
    """
    h = _quant_conv(x, f"{name}.conv1", filters, kernel_size, "torch_ste_sign" if residual else None,
                    Q.FrozenSign(zero_value=1.0), groups)
    h = _batch_norm(h, name, "bn1")
    return tf.keras.layers.ReLU(name=f"{name}.relu")(h)


def _biconnect_down(x, name):
    return _biconnect_unit(_pool(x, f"{name}.pool"), name, 2 * channels_of(x), 3)


def _biconnect_up(x, name):
    return _biconnect_unit(_bilinear(x, f"{name}.up"), name, channels_of(x) // 2, 3)


def _biconnect_embedding(x, name):
    return _quant_conv(x, name, channels_of(x), 3, "torch_ste_sign", Q.FrozenSign(zero_value=1.0))


def _biconnect_mapping(fea, x, name):
    return _add(_biconnect_embedding(fea, name), x, name)


# ---- Bi-Real (`BirealNet.py`)

def _bireal_conv(x, name, filters, kernel_size, input_quantizer="torch_approx_sign", strides=1):
    return _quant_conv(x, name, filters, kernel_size, input_quantizer, "torch_scaled_sign",
                       strides=strides, kernel_initializer=_uniform_small(), flat=True)


def _bireal_unit(x, name, filters, kernel_size=1, groups=1, residual=False):
    r"""\(\mathrm{BN}(\mathrm{conv}(\mathrm{sign}(x), a\,\mathrm{sign}(W)))\) (+ x with `residual`).

    Layers `{name}.binary_kxk` (flat reference kernel), `{name}.bn1`, `{name}.add`.
    """
    h = _quant_conv(x, f"{name}.{_binary_name(kernel_size)}", filters, kernel_size, "torch_approx_sign",
                    "torch_scaled_sign", groups, kernel_initializer=_uniform_small(), flat=True)
    h = _batch_norm(h, name, "bn1")
    return _add(h, x, name) if residual else h


def _bireal_down(x, name):
    r"""\(\mathrm{BN}_1(\mathrm{conv}_{3\times3,/2}(\mathrm{sign}\,x)) +
    \mathrm{BN}'(\mathrm{conv}_{1\times1}(\mathrm{avgpool}(x), a\,\mathrm{sign}(W)))\): the shortcut's
    kernel is binary, its input the real-valued pooled x."""
    c2 = 2 * channels_of(x)
    h = _bireal_conv(x, f"{name}.binary_3x3", c2, 3, strides=2)
    h = _batch_norm(h, name, "bn1")
    s = _pool(x, f"{name}.downsample.0")
    s = _bireal_conv(s, f"{name}.downsample.1", c2, 1, input_quantizer=None)
    s = _batch_norm(s, name, "downsample.2")
    return _add(h, s, name)


def _bireal_up(x, name):
    return _bireal_unit(_bilinear(x, f"{name}.up"), name, channels_of(x) // 2, 3)


def _bireal_embedding(x, name):
    return _bireal_conv(x, name, channels_of(x), 3)


def _bireal_mapping(fea, x, name):
    """`conv(fea, a sign(W)) + x`: the mapping's input is not binarized."""
    return _add(_bireal_conv(fea, name, channels_of(fea), 3, input_quantizer=None), x, name)


# ---- BTM (`BTM.py`)

BTM_ALPHA = 0.2  # the reference's constant alpha (beta = 1 is a no-op)


def _btm_conv(x, name, filters, kernel_size, groups=1, input_quantizer="torch_ste_sign"):
    return _quant_conv(x, name, filters, kernel_size, input_quantizer, "scaled_standardized_sign", groups,
                       kernel_initializer=_uniform_small())


def _btm_unit(x, name, filters, kernel_size=1, groups=1, residual=False, alpha=BTM_ALPHA):
    r"""\(A(0.2\,\mathrm{conv}(\mathrm{sign}(x + b), W_b))\); with `residual`
    \(A(x + 0.2\,\mathrm{conv}(\ldots))\); `alpha=None` drops the 0.2 (the upsample).

    Layers `{name}.move11` (threshold), `{name}.binary_kxk` (`ScaledStandardizedSign` with its
    gain), `{name}.alpha` (`Scale`), `{name}.add`, `{name}.act1` (RPReLU-form A:
    `move12`, `prelu1`, `move13`).
    """
    h = L.LearnableBias(name=f"{name}.move11")(x)
    h = _btm_conv(h, f"{name}.{_binary_name(kernel_size)}", filters, kernel_size, groups)
    if alpha is not None:
        h = L.Scale(alpha, name=f"{name}.alpha")(h)
    if residual:
        h = _add(x, h, name)
    return L.RPReLU(name=f"{name}.act1")(h)


def _two_conv_down(x, name, conv, after):
    r"""BTM's and ReActNet's downsample: \(z = \mathrm{avgpool}(x)\), \(s = \mathrm{sign}(z + b)\),
    \(A_2(\mathrm{concat}[f_1(\mathrm{conv}_1(s)) + z, f_2(\mathrm{conv}_2(s)) + z])\)."""
    c = channels_of(x)
    z = _pool(x, f"{name}.pool")
    s = L.LearnableBias(name=f"{name}.move21")(z)
    halves = []
    for i in (1, 2):
        h = conv(s, f"{name}.binary_pw_down{i}", c, 3)
        h = after(h, name, i)
        halves.append(tf.keras.layers.Add(name=f"{name}.add{i}")([h, z]))
    h = tf.keras.layers.Concatenate(name=f"{name}.concat")(halves)
    return L.RPReLU(name=f"{name}.act2")(h)


def _btm_down(x, name):
    return _two_conv_down(x, name, _btm_conv, lambda h, n, i: L.Scale(BTM_ALPHA, name=f"{n}.alpha{i}")(h))


def _btm_up(x, name):
    return _btm_unit(_bilinear(x, f"{name}.up"), name, channels_of(x) // 2, 3, alpha=None)


def _btm_embedding(x, name):
    return _btm_conv(x, name, channels_of(x), 3)


def _btm_mapping(fea, x, name):
    return _add(_btm_embedding(fea, name), x, name)


# ---- ReActNet (`ReActNet.py`)

def _reactnet_conv(x, name, filters, kernel_size, groups=1, input_quantizer="torch_approx_sign"):
    return _quant_conv(x, name, filters, kernel_size, input_quantizer, "torch_scaled_sign", groups,
                       kernel_initializer=_uniform_small())


def _reactnet_unit(x, name, filters, kernel_size=1, groups=1, residual=False):
    r"""\(A(\mathrm{BN}(\mathrm{conv}(\mathrm{sign}(x + b), a\,\mathrm{sign}(W))))\); with `residual`
    \(A(x + \mathrm{BN}(\ldots))\).

    Layers `{name}.move11`, `{name}.binary_kxk`, `{name}.bn1`, `{name}.add`, `{name}.act1`.
    """
    h = L.LearnableBias(name=f"{name}.move11")(x)
    h = _reactnet_conv(h, f"{name}.{_binary_name(kernel_size)}", filters, kernel_size, groups)
    h = _batch_norm(h, name, "bn1")
    if residual:
        h = _add(x, h, name)
    return L.RPReLU(name=f"{name}.act1")(h)


def _reactnet_down(x, name):
    return _two_conv_down(x, name, _reactnet_conv, lambda h, n, i: _batch_norm(h, n, f"bn2_{i}"))


def _reactnet_up(x, name):
    return _reactnet_unit(_bilinear(x, f"{name}.up"), name, channels_of(x) // 2, 3)


def _reactnet_embedding(x, name):
    return _reactnet_conv(x, name, channels_of(x), 3)


def _reactnet_mapping(fea, x, name):
    """`conv(fea, a sign(W)) + x`: the mapping's input is not binarized."""
    return _add(_reactnet_conv(fea, name, channels_of(fea), 3, input_quantizer=None), x, name)


# ---- IRNet (`IRNet.py`)

def _irnet_conv(x, name, filters, kernel_size, groups=1, strides=1):
    return _quant_conv(x, name, filters, kernel_size, "torch_ede_sign", "torch_libra_pb_sign", groups,
                       strides=strides)


def _irnet_unit(x, name, filters, kernel_size=1, groups=1, residual=False):
    r"""\(\mathrm{Hardtanh}(\mathrm{BN}(\mathrm{IRConv}(x)))\); with `residual`
    \(\mathrm{Hardtanh}(\mathrm{BN}(\ldots) + x)\).

    Layers `{name}.conv1` (`TorchEDESign`, `TorchLibraPBSign`), `{name}.bn1`, `{name}.add`, `{name}.hardtanh`.
    """
    h = _irnet_conv(x, f"{name}.conv1", filters, kernel_size, groups)
    h = _batch_norm(h, name, "bn1")
    if residual:
        h = _add(h, x, name)
    return L.Hardtanh(name=f"{name}.hardtanh")(h)


def _irnet_down(x, name):
    r"""\(\mathrm{Hardtanh}(\mathrm{BN}_1(\mathrm{IRConv}_{3\times3,/2}(x)) + \mathrm{BN}'(\mathrm{conv}_{1\times1,/2}(x)))\),
    the shortcut a full-precision conv, no pooling."""
    c2 = 2 * channels_of(x)
    h = _batch_norm(_irnet_conv(x, f"{name}.conv1", c2, 3, strides=2), name, "bn1")
    s = _batch_norm(_float_conv(x, f"{name}.downsample.0", c2, 1, strides=2), name, "downsample.1")
    return L.Hardtanh(name=f"{name}.hardtanh")(_add(h, s, name))


def _irnet_up(x, name):
    return _irnet_unit(_bilinear(x, f"{name}.up"), name, channels_of(x) // 2, 3)


def _float_embedding(x, name):
    """IRNet's and BNN's embedding: a full-precision 3x3 conv."""
    return _float_conv(x, name, channels_of(x), 3)


def _float_mapping(fea, x, name):
    """IRNet's and BNN's mapping: a full-precision 3x3 conv, plus the body input."""
    return _add(_float_conv(fea, name, channels_of(fea), 3), x, name)


# ---- BNN (`BNN.py`)

def _bnn_kernel_initializer():
    """The reference's `init_model`: binary kernels N(0, 2 / (k k out))."""
    return tf.keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def _bnn_conv(x, name, filters, kernel_size, groups=1, strides=1):
    return _quant_conv(x, name, filters, kernel_size, "torch_identity_sign", Q.FrozenSign(zero_value=0.0),
                       groups, strides=strides, kernel_initializer=_bnn_kernel_initializer())


def _bnn_unit(x, name, filters, kernel_size=1, groups=1, residual=False):
    r"""\(\mathrm{Hardtanh}(\mathrm{BN}(\mathrm{conv}(\mathrm{sign}(x), \mathrm{sign}(W))))\); with
    `residual` the unit plus x, added after the Hardtanh.

    Layers `{name}.conv1` (`TorchIdentitySign`, `FrozenSign(zero_value=0)`), `{name}.bn1`,
    `{name}.hardtanh`, `{name}.add`.
    """
    h = _bnn_conv(x, f"{name}.conv1", filters, kernel_size, groups)
    h = L.Hardtanh(name=f"{name}.hardtanh")(_batch_norm(h, name, "bn1"))
    return _add(h, x, name) if residual else h


def _bnn_down(x, name):
    r"""\(\mathrm{Hardtanh}(\mathrm{BN}_2(\mathrm{Hardtanh}(\mathrm{BN}_1(\mathrm{conv}_{3\times3,/2}(s)))
    + \mathrm{BN}'(\mathrm{conv}_{1\times1,/2}(s))))\), \(s = \mathrm{sign}(x)\), both kernels binary."""
    c2 = 2 * channels_of(x)
    h = _batch_norm(_bnn_conv(x, f"{name}.conv1", c2, 3, strides=2), name, "bn1")
    h = L.Hardtanh(name=f"{name}.hardtanh1")(h)
    s = _batch_norm(_bnn_conv(x, f"{name}.downsample.0", c2, 1, strides=2), name, "downsample.1")
    h = _batch_norm(_add(h, s, name), name, "bn2")
    return L.Hardtanh(name=f"{name}.hardtanh")(h)


def _bnn_up(x, name):
    return _bnn_unit(_bilinear(x, f"{name}.up"), name, channels_of(x) // 2, 3)


@dataclasses.dataclass(frozen=True)
class Baseline:
    r"""How one Table 1 method builds each part of BiSRNet's body (the reference's structure).

    - `unit(x, name, filters, kernel_size=1, groups=1, residual=False)`: the block's
      `net.0/1/5/6` (d -> 2d -> 4d, 4d -> 2d -> d, 1x1), `net.3` (4d -> 4d, 3x3, groups d,
      `residual=True`: the method's one block residual) and the decoder fusion (C -> C/2, 1x1);
    - `downsample(x, name)`: C -> 2C, H x W -> H/2 x W/2;
    - `upsample(x, name)`: bilinear x2, then C -> C/2;
    - `embedding(x, name)`, `mapping(fea, x, name)` (the latter adds the body input x);
    - `scale`: the constant the network input is multiplied by after `fution` and the
      output divided by (BBCU's k = 14), or `None`.
    """

    unit: Callable
    downsample: Callable
    upsample: Callable
    embedding: Callable
    mapping: Callable
    scale: float | None = None


#: BiSRNet's seven Table 1 baselines by method name, as the reference builds them.
BASELINES = {
    "bbcu": Baseline(_bbcu_unit, _bbcu_down, _bbcu_up, _bbcu_embedding, _bbcu_mapping, scale=14.0),
    "biconnect": Baseline(_biconnect_unit, _biconnect_down, _biconnect_up, _biconnect_embedding,
                          _biconnect_mapping),
    "bireal": Baseline(_bireal_unit, _bireal_down, _bireal_up, _bireal_embedding, _bireal_mapping),
    "btm": Baseline(_btm_unit, _btm_down, _btm_up, _btm_embedding, _btm_mapping),
    "reactnet": Baseline(_reactnet_unit, _reactnet_down, _reactnet_up, _reactnet_embedding, _reactnet_mapping),
    "irnet": Baseline(_irnet_unit, _irnet_down, _irnet_up, _float_embedding, _float_mapping),
    "bnn": Baseline(_bnn_unit, _bnn_down, _bnn_up, _float_embedding, _float_mapping),
}


def get_baseline(method) -> Baseline:
    """The `Baseline` of a method name of `BASELINES`."""
    if method not in BASELINES:
        raise ValueError(f"method must be one of {sorted(BASELINES)}, got {method!r}")
    return BASELINES[method]


def baseline_block(x, name: str, method, groups=None):
    r"""A block of a Table 1 baseline: \(x + FF(\mathrm{LayerNorm}(x))\) with the method's units.

    LayerNorm over channels (eps 1e-5, `{name}.norm`) and `{name}.fn.net.{0..6}`
    for d channels: unit d -> 2d (1x1), unit 2d -> 4d (1x1), GELU (exact erf form,
    no parameters), unit 4d -> 4d (3x3, groups d unless `groups`, with the
    method's residual), GELU, unit 4d -> 2d (1x1), unit 2d -> d (1x1).
    `method`: a name of `BASELINES` or a `Baseline`.
    """
    spec = method if isinstance(method, Baseline) else get_baseline(method)
    d = channels_of(x)
    net = f"{name}.fn.net"
    h = tf.keras.layers.LayerNormalization(epsilon=1e-5, name=f"{name}.norm")(x)
    h = spec.unit(h, f"{net}.0", 2 * d, 1)
    h = spec.unit(h, f"{net}.1", 4 * d, 1)
    h = tf.keras.layers.Activation(_GELU, name=f"{net}.2")(h)
    h = spec.unit(h, f"{net}.3", 4 * d, 3, groups=d if groups is None else groups, residual=True)
    h = tf.keras.layers.Activation(_GELU, name=f"{net}.4")(h)
    h = spec.unit(h, f"{net}.5", 2 * d, 1)
    h = spec.unit(h, f"{net}.6", d, 1)
    return tf.keras.layers.Add(name=f"{name}.add")([h, x])


#: The C -> C units of BiSRNet's backbone by name: `unit(x, name, kernel_size=3, groups=1, **options)`.
UNITS = {
    "bisr": bisr_conv,
    "plain": plain_conv,
    "vanilla": vanilla_conv,
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
