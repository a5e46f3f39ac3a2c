r"""BNN baselines and ablations on the BiSRNet backbone (BiSRNet Table 1, Table 2a-2d).

`BinarizedUNet(method)` builds one of BiSRNet's seven Table 1 baselines
exactly as the authors' code does (BiSCI `simulation/train_code/architecture/`,
`model_generator(method)` with one body and `num_blocks=[1, 1, 1]`; layer by
layer in `../shared/docs/bisci-baselines-reference.md`): BiSRNet's top level
(`fution`, reflect padding, `conv_in`, one body, `conv_out(h) + x`, crop) and
body skeleton (embedding, per scale a block and a downsample, a bottleneck
block, per scale an upsample, a fusion of `concat[upsampled, skip]` and a
block, `mapping(fea) + x`), with each method's own modules
(`larq_hsi.nn.units.BASELINES`). Every block is \(x + FF(\mathrm{LN}(x))\)
with parameter-free GELUs at `net.2`/`net.4`, every module is one conv that
changes the channel count itself, and the only residual inside a block is at
`net.3`. With sign(0) = 0 (`torch.sign`) throughout:

| method | unit \(U(x)\) (`net.0/1/5/6`, fusion) | `net.3` | downsample C -> 2C | embedding / mapping | signs: activations / weights |
| --- | --- | --- | --- | --- | --- |
| `bbcu` | \(A(\mathrm{conv}(s(x + b), a\,\mathrm{sign} W))\) | \(U(x) + x\) | \(U(\mathrm{pool}\,x)\) | binary conv of \(s(x)\) | clip STE / scaled, clip STE |
| `biconnect` | \(\mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}(x, \mathrm{sign} W)))\) | \(U\) of \(s(x)\), no residual | \(U(\mathrm{pool}\,x)\) | binary conv of \(s(x)\) | clip STE (net.3, emb., map.) / frozen \(\pm1\) |
| `bireal` | \(\mathrm{BN}(\mathrm{conv}(s(x), a\,\mathrm{sign} W))\) | \(U(x) + x\) | stride-2 unit + BN(binary-kernel 1x1 of pool x) | binary conv of \(s(x)\) / of \(x\) | ApproxSign / scaled, clip STE, flat kernels |
| `btm` | \(A(0.2\,\mathrm{conv}(s(x + b), W_b))\) | \(A(x + 0.2\,\ldots)\) | \(A_2[0.2\,c_1(s) + z, 0.2\,c_2(s) + z]\) | binary conv of \(s(x)\) | clip STE / standardized, scaled, gain |
| `reactnet` | \(A(\mathrm{BN}(\mathrm{conv}(s(x + b), a\,\mathrm{sign} W)))\) | \(A(x + \mathrm{BN}(\ldots))\) | \(A_2[\mathrm{BN}(c_1(s)) + z, \mathrm{BN}(c_2(s)) + z]\) | binary conv of \(s(x)\) / of \(x\) | ApproxSign / scaled, clip STE |
| `irnet` | \(\mathrm{Hardtanh}(\mathrm{BN}(\mathrm{IRConv}(x)))\) | \(\mathrm{Hardtanh}(\ldots + x)\) | Hardtanh(stride-2 core + BN(fp 1x1 /2)) | full precision | EDE (t = 0.1, k = 10) / Libra-PB |
| `bnn` | \(\mathrm{Hardtanh}(\mathrm{BN}(\mathrm{conv}(s(x), \mathrm{sign} W)))\) | \(U(x) + x\) | double-BN stride-2 with binary 1x1 | full precision | identity STE / frozen sign |

(\(A\): the RPReLU form \(\mathrm{PReLU}(y + b_0) + b_1\); \(z = \mathrm{pool}\,x\),
\(s = \mathrm{sign}(z + b)\) in the two-conv downsamples; the upsample is
bilinear x2, then the unit C -> C/2, without BTM's 0.2.) BBCU multiplies
`fution`'s output by k = 14 and divides the output by it.

Reference behaviours kept as they are (each documented where it lives):

- **BiConnect and BNN kernels never train.** The reference overwrites each
  binary conv's weight with the sign of a copy taken at its first forward, so
  optimizer updates are thrown away (`larq_hsi.nn.quantizers.FrozenSign`:
  zero gradient; the latent kernels stay trainable variables, as they are
  parameters there). BiConnect maps 0 to +1, BNN to 0.
- **BNN's activation sign is written into its input tensor**, so its backward
  is the identity (`TorchIdentitySign`).
- **IRNet's EDE parameters are fixed** at k = 10, t = 0.1 (`TorchEDESign`,
  `TorchLibraPBSign`, which keep them as variables: an `EDESchedule`
  callback still moves them, the paper's schedule, not the reference's).
- **Bi-Real's kernels are stored flat** `(O * I/g * k * k, 1)`
  (`larq_hsi.nn.layers.FlatQuantConv2D`) and start U[0, 0.001), all +1
  binary; ReActNet's and BTM's too (4-D).
- Stride-2 convs (Bi-Real, IRNet, BNN downsamples) pad 1 on all four sides.

`larq_hsi.models.pretrained.load_reference(model, state)` loads a reference
state dict (the fixture's `method/` tensors, prefix stripped) and
`reference_state_dict(model)` is its inverse. Parameter counts
(`sum(p.numel() for p in model.parameters())` of the reference: Keras's
trainable weights; BatchNorm's running statistics and IRNet's t, k are
non-trainable): bbcu 643,328, biconnect 635,292, bireal 643,468, btm
647,360, reactnet 651,280, irnet 643,468, bnn 643,804. `"bisr"` is
`BiSRNet` itself.

Ablations of Table 2 are named configurations, `ablation(name)`; see `ABLATIONS`.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence

import tensorflow as tf

from larq_hsi import complexity
from larq_hsi.checks import check_input_size
from larq_hsi.nn import blocks as B
from larq_hsi.nn import layers as L
from larq_hsi.nn import units as U
from larq_hsi.models.bisrnet import BiSRBaseModel, BiSRNet, input_stage, part_prefixes
from larq_hsi.models.pretrained import load_reference, read_state
from larq_hsi.nn.dtype import default_dtype

__all__ = [
    "ABLATIONS",
    "Ablation",
    "BASELINE_METHODS",
    "BinarizedUNet",
    "METHODS",
    "PAPER_TABLE1",
    "REFERENCE_PARAMS",
    "ablation",
    "ablation_names",
    "model_bodies",
]

#: Table 1's order: the seven BNN baselines, then BiSRNet.
METHODS = ("biconnect", "bnn", "bireal", "irnet", "reactnet", "btm", "bbcu", "bisr")

#: The seven baselines (`METHODS` without BiSRNet itself).
BASELINE_METHODS = tuple(m for m in METHODS if m != "bisr")

#: `sum(p.numel() for p in model.parameters())` of the reference baselines (running statistics excluded).
REFERENCE_PARAMS = {"bbcu": 643_328, "biconnect": 635_292, "bireal": 643_468, "btm": 647_360,
                    "reactnet": 651_280, "irnet": 643_468, "bnn": 643_804}

#: BiSRNet Table 1 (KAIST, 10 scenes, 256x256): the papers' Params (K) and OPs (G)
#: conventions, and the mean PSNR (dB) / SSIM. For reference only: other data.
PAPER_TABLE1 = {
    "biconnect": dict(label="BiConnect", params_k=35, ops_g=1.18, psnr=22.19, ssim=0.575),
    "bnn": dict(label="BNN", params_k=35, ops_g=1.18, psnr=23.88, ssim=0.593),
    "bireal": dict(label="Bi-Real", params_k=35, ops_g=1.18, psnr=26.26, ssim=0.664),
    "irnet": dict(label="IRNet", params_k=35, ops_g=1.18, psnr=26.30, ssim=0.665),
    "reactnet": dict(label="ReActNet", params_k=36, ops_g=1.18, psnr=26.48, ssim=0.671),
    "btm": dict(label="BTM", params_k=36, ops_g=1.18, psnr=27.21, ssim=0.716),
    "bbcu": dict(label="BBCU", params_k=36, ops_g=1.18, psnr=26.51, ssim=0.673),
    "bisr": dict(label="BiSRNet", params_k=36, ops_g=1.18, psnr=29.76, ssim=0.837),
}

_DEFAULT = object()
_SIZES = {"simulation": (256, 256), "real": (660, 660)}


def _body(x, name, spec, num_blocks, ff_groups):
    """A baseline's U-shaped body `name`: len(num_blocks) - 1 scales."""
    stages = len(num_blocks) - 1

    def blocks(h, prefix, count):
        for j in range(count):
            h = U.baseline_block(h, f"{prefix}.blocks.{j}", spec, groups=ff_groups)
        return h

    fea = spec.embedding(x, f"{name}.embedding")
    skips = []
    for i in range(stages):
        fea = blocks(fea, f"{name}.encoder_layers.{i}.0", num_blocks[i])
        skips.append(fea)
        fea = spec.downsample(fea, f"{name}.encoder_layers.{i}.1")
    fea = blocks(fea, f"{name}.bottleneck", num_blocks[-1])
    for i in range(stages):
        prefix = f"{name}.decoder_layers.{i}"
        fea = spec.upsample(fea, f"{prefix}.0")
        fea = tf.keras.layers.Concatenate(name=f"{prefix}.skip")([fea, skips[stages - 1 - i]])
        fea = spec.unit(fea, f"{prefix}.1", U.channels_of(fea) // 2, 1)
        fea = blocks(fea, f"{prefix}.2", num_blocks[stages - 1 - i])
    return spec.mapping(fea, x, f"{name}.mapping")


def _baseline_network(method, variant, input_size, bands, num_bodies, num_blocks, step, ff_groups,
                      scale, name):
    """The reference's network for `method` (see the module docstring)."""
    spec = U.get_baseline(method)
    if variant not in _SIZES:
        raise ValueError(f"variant must be 'simulation' or 'real', got {variant!r}")
    num_blocks = [int(n) for n in num_blocks]
    stages = len(num_blocks) - 1
    if stages < 0 or any(n < 0 for n in num_blocks):
        raise ValueError(f"num_blocks must list non-negative counts per scale, got {num_blocks!r}")
    if bands % 2 ** stages or bands % 2:
        raise ValueError(f"bands ({bands}) must be divisible by 2 * 2**{stages} for the U-Net")
    if ff_groups is not None and ff_groups < 1:
        raise ValueError(f"ff_groups must be None or a positive integer, got {ff_groups!r}")
    if input_size is _DEFAULT:
        input_size = _SIZES[variant]
    size = check_input_size(input_size)
    height, width = size if size is not None else (None, None)
    inputs, x, reference = input_stage(variant, height, width, bands, step)
    x = L.PadToMultiple(2 ** max(stages, 3), name="pad")(x)
    if scale is not None:
        x = L.ResidualAlignment(scale, name="align_in")(x)
    x = tf.keras.layers.Conv2D(bands, 3, padding="same", use_bias=False, name="conv_in",
                               kernel_initializer=U.reference_initializer())(x)
    h = x
    for i in range(num_bodies):
        h = _body(h, f"body.{i}", spec, num_blocks, ff_groups)
    h = tf.keras.layers.Conv2D(bands, 3, padding="same", use_bias=False, name="conv_out",
                               kernel_initializer=U.reference_initializer())(h)
    h = tf.keras.layers.Add(name="residual")([h, x])
    if scale is not None:
        h = L.ResidualAlignment(scale, inverse=True, name="align_out")(h)
    out = L.CropLike(name="crop")([h, reference])
    return tf.keras.Model(inputs, out, name=name)


def BinarizedUNet(unit: str = "bisr", *, input_size=(256, 256), variant: str = "simulation",
                  bands: int = 28, num_bodies: int = 1, num_blocks: Sequence[int] = (1, 1, 1),
                  step: int = 2, ff_groups: int | None = None, alignment=_DEFAULT, weights=None,
                  dtype="float32", name: str | None = None, **kwargs) -> tf.keras.Model:
    """A Table 1 method on BiSRNet's backbone, as the reference builds it (see the module docstring).

    # Arguments
        unit: one of `METHODS`: "biconnect", "bnn", "bireal", "irnet",
            "reactnet", "btm", "bbcu" or "bisr" (`BiSRNet` itself, which takes
            every `BiSRNet` argument through `kwargs`).
        input_size: `(height, width)`, `None` for any size (reflect padding to a
            multiple of 8 and cropping back, as `BiSRNet`).
        variant: "simulation" (inputs `H`, `Phi`) or "real" (the measurement,
            shifted back inside; the reference baselines are simulation models).
        bands, num_bodies, num_blocks, step: as `BiSRNet` (the reference: 28, 1, (1, 1, 1), 2).
        ff_groups: groups of each block's `net.3` conv (`None`: the reference's d groups).
        alignment: BBCU's input/output scale k (the reference's 14; a number > 0
            or `None` for none). Only for "bbcu".
        weights: `None` (initialised as the reference does) or a path to a
            `.npz`/`.pth` reference state dict (`larq_hsi.models.pretrained.load_reference`).
        dtype: every layer's dtype ("float64" for parity tests).
    """
    if unit not in METHODS:
        raise ValueError(f"unit must be one of {METHODS}, got {unit!r}")
    name = name or ("bisrnet" if unit == "bisr" else f"bnn_unet_{unit}")
    if alignment is not _DEFAULT and unit != "bbcu":
        raise ValueError(f"alignment is BBCU's input/output scale; not an option of unit {unit!r}")
    if unit == "bisr":
        return BiSRNet(input_size=input_size, variant=variant, bands=bands, num_bodies=num_bodies,
                       num_blocks=num_blocks, step=step, ff_groups=ff_groups, weights=weights, dtype=dtype,
                       name=name, **kwargs)
    if kwargs:
        raise ValueError(
            f"unit {unit!r} is the reference's structure; {sorted(kwargs)} only apply to "
            "unit='bisr' (BiSRNet's options and ablations: see `ablation`)"
        )
    scale = U.get_baseline(unit).scale
    if unit == "bbcu" and alignment is not _DEFAULT:
        if alignment is None:
            scale = None
        elif isinstance(alignment, numbers.Real) and not isinstance(alignment, bool) and alignment > 0:
            scale = float(alignment)
        else:
            raise ValueError(f"alignment must be a number > 0 or None, got {alignment!r}")
    with default_dtype(dtype):
        model = _baseline_network(unit, variant, input_size, bands, num_bodies, num_blocks, step, ff_groups,
                                  scale, name)
    if weights is not None:
        load_reference(model, read_state(weights), where=str(weights))
    return model


# --------------------------------------------------------------------------- Table 2 ablations

_ALL_NORMAL = {m: "normal" for m in B.BISR_MODULES}


def _modules(*bisr):
    return {m: ("bisr" if m in bisr else "normal") for m in B.BISR_MODULES}


@dataclasses.dataclass(frozen=True)
class Ablation:
    """One row/column of BiSRNet's Table 2: how to build it and the paper's figures.

    `builder` is "bisrnet" (`BiSRNet(**kwargs)`) or "base" (`BiSRBaseModel(**kwargs)`).
    `paper` holds the table's PSNR/SSIM and, where printed, OPs (M) / Params (K)
    (Table 2a) or OPs_f (M), OPs_b (M), Params_f, Params_b of the binarized part (Table 2d).
    """

    name: str
    description: str
    builder: str
    kwargs: dict
    paper: dict

    def build(self, **overrides) -> tf.keras.Model:
        kwargs = {**self.kwargs, **overrides}
        kwargs.setdefault("name", self.name.replace("/", "_").replace("+", "plus_").replace("-", "_"))
        if self.builder == "base":
            return BiSRBaseModel(**kwargs)
        return BiSRNet(**kwargs)

    def profile(self, model: tf.keras.Model):
        """`complexity.profile` with this row's binarized part (Table 2d: the binarized part only)."""
        if self.builder == "base":
            parts = self.kwargs.get("binarize", ())
            return complexity.profile(model, binarized=part_prefixes(parts, model_bodies(model)))
        return complexity.profile(model)


def model_bodies(model: tf.keras.Model) -> int:
    """How many U-shaped bodies `model` has (layer names `body.i.*`)."""
    bodies = {l.name.split(".")[1] for l in model.layers if l.name.startswith("body.")}
    return max(1, len(bodies))


def _row(name, description, paper, builder="bisrnet", **kwargs):
    return name, Ablation(name, description, builder, kwargs, paper)


_VANILLA = dict(input_quantizer="ste_sign", redistribution=False)

#: Every row/column of BiSRNet Table 2a-2d as a named configuration (see `ablation`).
#:
#: Table 2a's "successively" is cumulative: each row adds one BiSR module to the previous.
#: Measured Params (K) / OPs (M), papers' convention at 256x256, against the table:
#:
#: | row | measured | Table 2a |
#: | --- | --- | --- |
#: | baseline-1 | 37.12 K / 1181 M | 34.82 K / 1176 M |
#: | +BiSR-Conv | 37.38 K / 1181 M | 35.48 K / 1176 M |
#: | +BiDS | 35.67 K / 1175 M | 35.49 K / 1176 M |
#: | +BiUS | 35.68 K / 1175 M | 35.51 K / 1176 M |
#: | +BiFD | 35.77 K / 1175 M | 35.72 K / 1176 M |
#: | +BiFU (BiSRNet) | 35.82 K / 1175 M | 35.81 K / 1176 M |
#:
#: From +BiDS on the rows agree within 0.2 K. The first two are about 2 K above the
#: table because their normal downsample is the strided 1-bit conv4x4 C -> 2C the
#: paper describes (Sec. 3.3): 125,440 binary weights against the 70,560 of BiDS's two
#: 3x3 BiSR-Convs, +1.7 K at /32, while the table rises by only 0.01 K from +BiSR-Conv
#: to +BiDS, which no conv4x4 C -> 2C allows; its OPs column (1176 M in every row) does
#: not follow the modules' MACs either (the normal modules' are 1181 M here).
#: Table 2b/2c rows differ only in per-channel vectors: 35.50 K (baseline-2), 35.82 K
#: (+SR, Clip, Quad), 35.51 K (+Tanh), 35.82 K (BiSRNet), 35.98 K (ATISTE); 1175 M each.
#: Table 2d (the binarized part's OPs_f / Params_f): encoder 3376 M / 178,019,
#: bottleneck 1094 M / 278,889, decoder 4969 M / 186,703 against 3390 M / 177,878,
#: 1096 M / 278,889 and 5005 M / 186,562 (within 0.8 %); the base model 634 K params,
#: 10.47 G MACs (the text: 634 K, 10.52 G).
ABLATIONS = dict([
    _row("2a/baseline-1",
         "vanilla 1-bit conv (sign with clip STE, scaled binary conv, RPReLU; no redistribution, "
         "no residual) and the normal modules of Fig. 4",
         dict(psnr=23.90, ssim=0.594, ops_m=1176, params_k=34.82),
         modules=_ALL_NORMAL, unit="vanilla", **_VANILLA),
    _row("2a/+BiSR-Conv", "BiSR-Conv with the normal modules",
         dict(psnr=27.80, ssim=0.737, ops_m=1176, params_k=35.48), modules=_ALL_NORMAL),
    _row("2a/+BiDS", "+ binarized downsample",
         dict(psnr=27.97, ssim=0.729, ops_m=1176, params_k=35.49), modules=_modules("downsample")),
    _row("2a/+BiUS", "+ binarized upsample",
         dict(psnr=28.07, ssim=0.758, ops_m=1176, params_k=35.51),
         modules=_modules("downsample", "upsample")),
    _row("2a/+BiFD", "+ binarized fusion down",
         dict(psnr=28.31, ssim=0.776, ops_m=1176, params_k=35.72),
         modules=_modules("downsample", "upsample", "fusion_down")),
    _row("2a/+BiFU", "+ binarized fusion up: BiSRNet",
         dict(psnr=29.76, ssim=0.837, ops_m=1176, params_k=35.81),
         modules=_modules(*B.BISR_MODULES)),
    _row("2b/baseline-2", "BiSRNet without spectral redistribution, sign with the clip STE",
         dict(psnr=27.68, ssim=0.723), redistribution=False, input_quantizer="ste_sign"),
    _row("2b/+SR", "baseline-2 + spectral redistribution",
         dict(psnr=28.97, ssim=0.783), redistribution=True, input_quantizer="ste_sign"),
    _row("2b/+Tanh", "baseline-2 + Tanh(alpha x)",
         dict(psnr=28.74, ssim=0.782), redistribution=False, input_quantizer="tanh_sign"),
    _row("2b/+SR+Tanh", "baseline-2 + both: BiSRNet",
         dict(psnr=29.76, ssim=0.837), redistribution=True, input_quantizer="tanh_sign"),
    _row("2c/clip", "Clip(x): ste_sign, gradient 1 on [-1, 1]",
         dict(psnr=28.97, ssim=0.783), input_quantizer="ste_sign"),
    _row("2c/quad", "Quad(x): approx_sign, gradient 2 - 2|x| on [-1, 1] (Bi-Real's form)",
         dict(psnr=29.02, ssim=0.794), input_quantizer="approx_sign"),
    _row("2c/tanh", "Tanh(alpha x): BiSRNet", dict(psnr=29.76, ssim=0.837),
         input_quantizer="tanh_sign"),
    _row("2c/atiste", "ATISTE (HS-BiNet): (1 - lambda) tanh(alpha x) + lambda x, per-channel alpha "
         "(not in the paper's table)", dict(), input_quantizer="atiste"),
    _row("2d/encoder", "base model with the encoder binarized",
         dict(psnr=32.28, ssim=0.905, ops_f_m=3390, ops_b_m=53, params_f=177878, params_b=5559),
         builder="base", binarize=("encoder",)),
    _row("2d/bottleneck", "base model with the bottleneck binarized",
         dict(psnr=33.80, ssim=0.932, ops_f_m=1096, ops_b_m=17, params_f=278889, params_b=8715),
         builder="base", binarize=("bottleneck",)),
    _row("2d/decoder", "base model with the decoder binarized",
         dict(psnr=33.03, ssim=0.919, ops_f_m=5005, ops_b_m=78, params_f=186562, params_b=5830),
         builder="base", binarize=("decoder",)),
    _row("2d/full-precision", "the full-precision base model (Table 2d's caption, Sec. 4.4 text)",
         dict(psnr=34.11, ssim=0.936, ops_g=10.52, params_k=634), builder="base", binarize=()),
])


def ablation_names(table: str | None = None) -> list[str]:
    """The names of `ABLATIONS`, optionally of one table ("2a", "2b", "2c", "2d")."""
    return [n for n in ABLATIONS if table is None or n.split("/")[0] == table]


def ablation(name: str, **overrides) -> tf.keras.Model:
    """Build the Table 2 configuration `name` (e.g. "2a/+BiDS", "2c/quad", "2d/encoder").

    `overrides` go to the builder (`input_size`, `num_blocks`, `dtype`, ...);
    the default input size is the paper's 256x256.
    """
    if name not in ABLATIONS:
        raise ValueError(f"unknown ablation {name!r}; expected one of {list(ABLATIONS)}")
    return ABLATIONS[name].build(**overrides)


