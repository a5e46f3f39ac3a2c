r"""BNN baselines and ablations on the BiSRNet backbone (BiSRNet Table 1, Table 2a-2d).

`BinarizedUNet(unit=...)` puts one binarization method's binary conv unit
(`larq_hsi.nn.units.UNITS`) into BiSRNet's U-shaped backbone (`BiSRNet(unit=...)`): the same
fution/conv_in/conv_out, the same body, blocks and the four BiSR modules,
every binary conv with the same kernel shape, groups and input size. So all
methods have the same binary-kernel MACs (9.44 G at 256x256, 1.175 G OPs in
the papers' convention) and, up to each unit's few per-channel parameters,
the same parameters (paper Sec. 4.2: "we set the Params and OPs of BNN-based
methods to the same values"). Only what happens around each binary conv
differs. With \(s(\cdot)\) the activation sign, \(q(W)\) the weight
binarization, \(B(x) = \mathrm{conv}(s(x), q(W))\) and C channels in and out:

| method | unit (per binary conv) | \(s\): forward sign, backward | \(q(W)\) |
| --- | --- | --- | --- |
| `biconnect` (Courbariaux et al. 2015) | \(\mathrm{BN}(\mathrm{conv}(x, q(W)))\) | none: full-precision activations | \(\mathrm{sign}(W)\), clip STE, latent W clipped to [-1, 1] |
| `bnn` (Hubara et al. 2016) | \(\mathrm{BN}(B(x))\) | clip STE \(1_{\lvert x\rvert\le1}\) (`ste_sign`) | as BiConnect |
| `bireal` (Liu et al. 2018) | \(x + \mathrm{BN}(B(x))\) | ApproxSign \(2-2\lvert x\rvert\) (`approx_sign`) | \(\overline{\lvert W\rvert}_c\mathrm{sign}(W)\), gradient \(\overline{\lvert W\rvert}_c 1_{\lvert W\rvert\le1}\) (`magnitude_aware_sign`) |
| `irnet` (Qin et al. 2020) | \(x + \mathrm{BN}(B(x))\) | EDE \(k t (1-\tanh^2(tx))\) (`EDESign`) | Libra-PB: \(2^{\mathrm{round}\log_2\overline{\lvert\hat W\rvert}}\mathrm{sign}(\hat W)\), \(\hat W\) standardized, EDE gradient (`LibraPBSign`) |
| `reactnet` (Liu et al. 2020) | \(\mathrm{RPReLU}(\mathrm{BN}(B(x + b)) + x)\) | RSign \(\mathrm{sign}(x - \alpha_c)\), \(b = -\alpha\) learnable, ApproxSign gradient | \(\overline{\lvert W\rvert}_c\mathrm{sign}(W)\), clip STE (`scaled_sign`) |
| `btm` (Jiang et al. 2021) | \(x + \mathrm{PReLU}(B(\mathrm{FN}(x)))\), no BatchNorm | ApproxSign | \(\overline{\lvert W\rvert}_c\mathrm{sign}(W)\) with the ApproxSign gradient (`scaled_approx_sign`); Xavier-uniform init |
| `bbcu` (Xia et al. 2023, BBCU-V4) | \(x + \mathrm{RPReLU}(B(x + b))\), plus residual alignment | ApproxSign of \(x + b\) | `scaled_sign` |
| `bisr` (BiSRNet) | \(x + \mathrm{RPReLU}(B(kx + b))\) (BiSR-Conv) | Tanh(\(\alpha x\)) (`tanh_sign`) | `scaled_sign` |

Formulas and the choices made where a paper leaves a detail open:

- **BiConnect** (BinaryConnect, deterministic variant): \(W_b = \mathrm{sign}(W)\),
  \(\partial W_b/\partial W = 1_{|W|\le1}\), latent weights clipped to [-1, 1]
  after every update (larq's `weight_clip`), activations and the MACs stay
  full precision (1-bit weights x 32-bit activations: additions only; the
  papers' convention still counts them /64, as Table 1 does). BatchNorm after
  every conv as in its CNNs. BinaryConnect's ReLU is left out: the unit feeds
  the backbone's LayerNorm/RPReLU blocks and fusions, and BNN's unit has no
  other nonlinearity either.
- **BNN**: \(a_b = \mathrm{sign}(a)\), \(\partial a_b/\partial a = 1_{|a|\le1}\)
  (the HardTanh STE); weights as BiConnect, no scaling factor; BatchNorm after
  every binary conv (BNN's own layers; without it an unscaled \(\pm1\) conv
  outputs values of order \(\sqrt{9C}\)); no shortcut around the conv.
- **Bi-Real**: ApproxSign, \(\partial a_b/\partial a = 2 - 2|a|\) on
  \([-1, 1]\), 0 elsewhere; magnitude-aware weights
  \(W_b = \frac{\lVert W\rVert_1}{n}\mathrm{sign}(W)\) per output channel with
  gradient \(\frac{\lVert W\rVert_1}{n}1_{|W|\le1}\); the real-valued shortcut
  around every binary conv, after its BatchNorm (the Bi-Real block).
- **IRNet**: Libra-PB weights \(\hat W = (W - \overline W)/\sigma(W - \overline W)\)
  per output channel, \(Q_w = s\,\mathrm{sign}(\hat W)\),
  \(s = 2^{\mathrm{round}(\log_2 \overline{|\hat W|})}\); activations
  \(\mathrm{sign}(a)\); both signs take the EDE gradient of
  \(g(x) = k\tanh(tx)\) with \(t = T_{min}10^{\frac iN\log_{10}(T_{max}/T_{min})}\),
  \(k = \max(1/t, 1)\), \(T_{min} = 0.1\), \(T_{max} = 10\), i the epoch of N:
  t and k are non-trainable variables set each epoch by
  `larq_hsi.training.callbacks.EDESchedule` (the CASSI recipe adds it for IRNet). Unit topology: IRNet's ResNets use
  the Bi-Real shortcut per conv, \(x + \mathrm{BN}(B(x))\); their HardTanh on
  the residual stream is left out (clamping the full-precision stream to
  [-1, 1] would cap the hyperspectral features).
- **ReActNet**: RSign \(x_b = \mathrm{sign}(x - \alpha_c)\) with a learnable
  per-channel threshold (`LearnableBias` b = -alpha, then `approx_sign`, the
  ApproxSign gradient of ReActNet's release); weights
  \(\overline{|W|}_c\mathrm{sign}(W)\) with the clip STE; RPReLU
  \(\mathrm{PReLU}_\beta(y - \gamma) + \zeta\) after the BatchNorm and the
  shortcut, as ReActNet's basic block (move, sign, conv, BN, + x, move, PReLU,
  move). This is also BBCU's "V1" unit.
- **BTM** (binary training mechanism, no BatchNorm): XNOR scaling of the
  weights with BTM's "higher-order" (ApproxSign) estimator for weights and
  activations, Xavier-uniform initialisation, PReLU (slope 0.25) instead of
  BatchNorm's re-centring, and BTM's data normalisation as a feature
  normalisation in place of BatchNorm: FN standardizes each binary conv's
  input per sample and channel over space,
  \(\mathrm{FN}(x) = (x - \mu_{hw})/\sqrt{\sigma^2_{hw} + 10^{-5}}\), with no
  parameters, no running statistics and no batch dependence (BTM normalises
  the network's input by the data set's mean and std; in a body whose every
  unit binarizes its own input, that normalisation belongs before each sign,
  where it sets the sign threshold at the feature's mean). Its distillation
  and multi-receptive-field block are not part of the unit.
- **BBCU** (V4, the released code's `BinaryConv2d`):
  \(x + \mathrm{RPReLU}(\mathrm{conv}(\mathrm{sign}(x + b), \overline{|W|}\mathrm{sign}(W)))\)
  with ApproxSign (BBCU Eq. 6) and residual alignment of the network input:
  every input is multiplied by \(k^* = 130 n / 64\) (n = 28 features: 56.875)
  and the output divided by it (`alignment=`), so the full-precision residual
  stream is large next to the binary convs' outputs.
- **BiSRNet**: `BiSRNet(...)` itself.

The weights of every method but BTM start from the backbone's
`reference_initializer()` (PyTorch's default conv init).

Measured at 256x256 with the published structure (`larq_hsi.complexity.paper_figures`), against Table 1:

| method | binary-kernel MACs | OPs (G) | Params (K), trainable | Params (K), all weights | Table 1 |
| --- | --- | --- | --- | --- | --- |
| biconnect | 9,439,281,152 (0 XNOR: 32-bit activations) | 1.175 | 35.35 | 35.66 | 35 K, 1.18 G |
| bnn | 9,439,281,152 | 1.175 | 35.35 | 35.66 | 35 K, 1.18 G |
| bireal | 9,439,281,152 | 1.175 | 35.35 | 35.66 | 35 K, 1.18 G |
| irnet | 9,439,281,152 | 1.175 | 35.35 | 35.67 | 35 K, 1.18 G |
| reactnet | 9,439,281,152 | 1.175 | 35.98 | 36.29 | 36 K, 1.18 G |
| btm | 9,439,281,152 | 1.175 | 35.19 | 35.19 | 36 K, 1.18 G |
| bbcu | 9,439,281,152 | 1.175 | 35.66 | 35.66 | 36 K, 1.18 G |
| bisr | 9,439,281,152 | 1.175 | 35.82 | 35.82 | 36 K, 1.18 G |

"Trainable" counts what PyTorch's `parameters()` counts (BatchNorm's running
statistics and IRNet's t, k are buffers there), the convention the BiSRNet
tables follow: it reproduces Table 1's 35/36 K split for seven of the eight
methods. BTM rounds to 35 K, not 36 K: its unit here holds one PReLU slope per
channel and nothing else per channel (the paper does not say what the
compared BTM held besides).

Ablations of Table 2 are named configurations, `ablation(name)`; see `ABLATIONS`.
"""

from __future__ import annotations

import dataclasses
import numbers

import tensorflow as tf

from larq_hsi import complexity
from larq_hsi.nn import blocks as B
from larq_hsi.nn import layers as L
from larq_hsi.models.bisrnet import BiSRBaseModel, BiSRNet, part_prefixes

__all__ = [
    "ABLATIONS",
    "Ablation",
    "BinarizedUNet",
    "METHODS",
    "PAPER_TABLE1",
    "ablation",
    "ablation_names",
    "model_bodies",
]

#: Table 1's order: the seven BNN baselines, then BiSRNet.
METHODS = ("biconnect", "bnn", "bireal", "irnet", "reactnet", "btm", "bbcu", "bisr")

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

_UNIT_OPTIONS = ("input_quantizer", "kernel_quantizer", "redistribution", "modules")
_DEFAULT = object()


def _align_network(model: tf.keras.Model, factor: float) -> tf.keras.Model:
    """`model` with every input multiplied by `factor` and the output divided by it (one flat graph).

    The layers of `model` are called again on the scaled inputs (the graph
    Keras itself runs for `model(inputs)`), so the result lists the same layer
    objects at the top level, between `align_in.*` and `align_out`
    (`ResidualAlignment` layers); `model` is not used afterwards.
    """
    dtype = model.inputs[0].dtype
    inputs = [tf.keras.Input(t.shape[1:], dtype=t.dtype, name=n)
              for t, n in zip(model.inputs, model.input_names)]
    scaled = [L.ResidualAlignment(factor, name=f"align_in.{n}", dtype=dtype)(t)
              for t, n in zip(inputs, model.input_names)]
    out = model._run_internal_graph(scaled)  # noqa: SLF001 (Keras's own functional replay)
    out = L.ResidualAlignment(factor, inverse=True, name="align_out", dtype=dtype)(out)
    return tf.keras.Model(inputs, out, name=model.name)


def BinarizedUNet(unit: str = "bisr", *, input_size=(256, 256), alignment=_DEFAULT,
                  name: str | None = None, **kwargs) -> tf.keras.Model:
    """BiSRNet's backbone with the binary conv unit of a Table 1 method (see the module docstring).

    # Arguments
        unit: one of `METHODS`: "biconnect", "bnn", "bireal", "irnet",
            "reactnet", "btm", "bbcu" or "bisr" (BiSRNet itself).
        input_size: `(height, width)`, `None` for any size (as `BiSRNet`).
        alignment: BBCU's residual-alignment factor k: "k*" (default for
            "bbcu": 130 n / 64 with n = `bands`), a number > 0, or `None` (no
            alignment). Only for "bbcu".
        kwargs: `BiSRNet` arguments (`variant`, `bands`, `num_blocks`,
            `ff_groups`, `dtype`, ...). For "bisr" all of them; the baselines
            define their own unit, so `input_quantizer`, `kernel_quantizer`,
            `redistribution` and `modules` are refused there.

    IRNet's EDE schedule needs `larq_hsi.training.callbacks.EDESchedule(epochs)` in `fit`.
    """
    if unit not in METHODS:
        raise ValueError(f"unit must be one of {METHODS}, got {unit!r}")
    name = name or ("bisrnet" if unit == "bisr" else f"bnn_unet_{unit}")
    if alignment is not _DEFAULT and unit != "bbcu":
        raise ValueError(f"alignment is BBCU's residual alignment; not an option of unit {unit!r}")
    if unit == "bisr":
        return BiSRNet(input_size=input_size, name=name, **kwargs)
    refused = sorted(set(kwargs) & set(_UNIT_OPTIONS))
    if refused:
        raise ValueError(
            f"unit {unit!r} defines its own binary conv; {refused} only apply to "
            "unit='bisr' (BiSRNet's ablations: see `ablation`)"
        )
    model = BiSRNet(input_size=input_size, unit=unit, name=name, **kwargs)
    if unit != "bbcu":
        return model
    if alignment is _DEFAULT or alignment in ("k*", "k_star"):
        factor = L.alignment_factor(kwargs.get("bands", 28))
    elif alignment is None:
        return model
    elif isinstance(alignment, numbers.Real) and not isinstance(alignment, bool) and alignment > 0:
        factor = float(alignment)
    else:
        raise ValueError(f"alignment must be 'k*', a number > 0 or None, got {alignment!r}")
    return _align_network(model, factor)


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


