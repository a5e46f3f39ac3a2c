"""Draws the user guide's figures from larq_hsi's own code (run by `make docs` before mkdocs).

Nothing here is drawn by hand: every curve, bar and box comes from calling the
package (its quantizers under `tf.GradientTape`, its layers and blocks on
synthetic data, its model builders and `complexity.profile`). The PNGs go to
`docs/figures/`, which is git-ignored and rewritten on every build, so the
pages always show what the current code does.

    .venv/bin/python docs/make_figures.py              # every figure
    .venv/bin/python docs/make_figures.py estimators   # only the named ones

Each figure takes a second or two on two cores; the whole script about 20 s,
most of it TensorFlow's import and building BiSRNet once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

# A docs build wants no TensorFlow chatter (the Makefile's level 2 still lets the
# CUDA-plugin registration errors of a CPU-only machine through).
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
warnings.filterwarnings("ignore")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from anywhere, against this checkout
    sys.path.insert(0, str(ROOT))

FIGURES = {}

# Colours used across figures: 1-bit compute, full-precision compute, shape ops, shortcuts.
BINARY = "#c0392b"
FLOAT = "#2e86c1"
SHAPE = "#7f8c8d"
SHORTCUT = "#27ae60"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
})


def figure(function):
    """Registers a figure function under its name (the PNG's name)."""
    FIGURES[function.__name__] = function
    return function


def _save(fig, name: str) -> Path:
    path = OUT / f"{name}.png"
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- estimators


def _forward_backward(quantizer, x):
    """The quantizer's forward output and its derivative d q(x) / d x, through `tf.GradientTape`."""
    import tensorflow as tf

    x = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = quantizer(x)
    return y.numpy(), tape.gradient(y, x).numpy()


def _surrogate(quantizer, x):
    """The function whose derivative the backward pass uses (`training.callbacks.surrogate_of`), checked
    against the integral of the measured derivative, so the forward curve drawn is the one the
    backward pass actually differentiates."""
    import tensorflow as tf

    from larq_hsi.training.callbacks import surrogate_of

    f = surrogate_of(quantizer)(tf.constant(x, tf.float32)).numpy()
    _, grad = _forward_backward(quantizer, x)
    integral = np.concatenate([[0.0], np.cumsum((grad[1:] + grad[:-1]) / 2 * np.diff(x))])
    integral -= np.interp(0.0, x, integral)  # every surrogate here is odd: f(0) = 0
    error = np.max(np.abs(integral - f))
    if error > 2e-2:
        raise AssertionError(f"{quantizer.name}: surrogate and measured gradient disagree by {error:.3g}")
    return f


def _area(quantizer) -> float:
    """The approximation error: the integral of |sign(x) - f(x)| (BiSRNet Eq. 8), numerically."""
    x = np.linspace(-12.0, 12.0, 48001)
    f = _surrogate(quantizer, x)
    return float(np.trapz(np.abs(np.sign(x) + (x == 0) - f), x))


@figure
def estimators():
    """BiSRNet Fig. 3: Sign, Clip, Quad and Tanh(alpha x); forward surrogates and backward derivatives."""
    import larq as lq
    from larq.math import sign

    from larq_hsi.nn.quantizers import TanhSign

    x = np.linspace(-2.5, 2.5, 2001)
    columns = [
        ("Clip (larq `ste_sign`)", [("Clip(x)", lq.quantizers.SteSign())]),
        ("Quad (larq `approx_sign`)", [("Quad(x)", lq.quantizers.ApproxSign())]),
        ("Tanh(αx) (`TanhSign`)", [(f"α = {a:g}", TanhSign(alpha=a)) for a in (1.0, 2.0, 4.0)]),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(12.5, 5.0), sharex=True)
    s = sign(x).numpy()
    axes[0, 0].plot(x, s, color="k", lw=1.6)
    axes[0, 0].set_title("Sign(x): the forward pass of every estimator")
    axes[1, 0].axhline(0.0, color="k", lw=1.6)
    axes[1, 0].annotate("", xy=(0, 3.6), xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color="k", lw=1.6))
    axes[1, 0].text(0.12, 3.2, "δ(x): zero almost\neverywhere", fontsize=8)
    axes[1, 0].set_title("∂Sign/∂x")
    for column, (title, entries) in enumerate(columns, start=1):
        top, bottom = axes[0, column], axes[1, column]
        top.plot(x, s, color="k", lw=1.0, ls="--")
        for i, (label, quantizer) in enumerate(entries):
            forward, grad = _forward_backward(quantizer, x)
            assert np.array_equal(forward, s), "every estimator's forward pass is sign(x)"
            f = _surrogate(quantizer, x)
            colour = PALETTE[i] if len(entries) > 1 else BINARY
            area = _area(quantizer)
            top.plot(x, f, color=colour, lw=1.6, label=f"{label}: area {area:.3f}")
            if i == 0:
                top.fill_between(x, f, s, color=colour, alpha=0.18, lw=0)
            bottom.plot(x, grad, color=colour, lw=1.6, label=label)
        top.set_title(title.replace("`", ""))
        top.legend(loc="upper left", fontsize=7, handlelength=1.2, borderaxespad=0.2)
        bottom.set_title("backward: d q / d x (GradientTape)")
    for ax in axes[0]:
        ax.set_ylim(-1.35, 1.35)
    for ax in axes[1]:
        ax.set_ylim(-0.2, 4.2)
        ax.set_xlabel("x")
    axes[0, 0].set_ylabel("forward")
    axes[1, 0].set_ylabel("backward")
    fig.suptitle("Sign estimators: the forward pass is always sign(x); each differs only in its gradient "
                 "(dashed: sign; solid: the function the gradient comes from; area: the shaded error "
                 "∫|sign - f|)", fontsize=9.5)
    fig.tight_layout()
    return _save(fig, "estimators")


@figure
def atiste():
    """HS-BiNet Fig. 7: ATISTE's surrogate and derivative for alpha 1-4 and lambda 0.1-0.3."""
    from larq_hsi.nn.quantizers import ATISTE

    x = np.linspace(-2.5, 2.5, 2001)
    lams = (0.1, 0.2, 0.3)
    alphas = (1.0, 2.0, 3.0, 4.0)
    fig, axes = plt.subplots(2, len(lams), figsize=(11.0, 5.4), sharex=True, sharey="row")
    for column, lam in enumerate(lams):
        for i, alpha in enumerate(alphas):
            quantizer = ATISTE(alpha=alpha, lam=lam, per_channel=False)
            _, grad = _forward_backward(quantizer, x)
            f = _surrogate(quantizer, x)
            axes[0, column].plot(x, f, color=PALETTE[i], lw=1.5, label=f"α = {alpha:g}")
            axes[1, column].plot(x, grad, color=PALETTE[i], lw=1.5, label=f"α = {alpha:g}")
        axes[0, column].plot(x, np.sign(x) + (x == 0), color="k", lw=1.0, ls="--", label="sign(x)")
        axes[1, column].axhline(lam, color="k", lw=0.9, ls=":", label=f"gradient floor λ = {lam:g}")
        axes[1, column].legend(loc="upper right", handles=axes[1, column].get_lines()[-1:])
        axes[0, column].set_title(f"forward surrogate (1-λ) tanh(αx) + λx, λ = {lam:g}")
        axes[1, column].set_title(f"backward d q / d x, λ = {lam:g}")
        axes[1, column].set_xlabel("x")
    axes[0, 0].legend(loc="upper left")
    axes[0, 0].set_ylabel("f(x)")
    axes[1, 0].set_ylabel("d q / d x")
    fig.suptitle("ATISTE (larq_hsi.nn.quantizers.ATISTE): the forward pass is sign(x); the gradient blends "
                 "tanh's peak with an identity floor λ", fontsize=9.5)
    fig.tight_layout()
    return _save(fig, "atiste")


# --------------------------------------------------------------------------- spectral redistribution


@figure
def spectral_redistribution():
    """Learns SpectralRedistribution's k and b on a synthetic cube: which activations become +1 per band."""
    import tensorflow as tf

    from larq_hsi.nn.layers import SpectralRedistribution
    from larq_hsi.nn.quantizers import TanhSign
    from larq_hsi.spectra import CASSI_WAVELENGTHS
    from larq_hsi.synthetic import synthetic_scene

    tf.keras.utils.set_random_seed(0)
    cube = synthetic_scene(40, seed=7).astype(np.float32)  # (40, 40, 28), all values >= 0
    bands = cube.shape[-1]
    x = tf.constant(cube[None])
    redistribute = SpectralRedistribution()
    binarize = TanhSign()
    # The best 1-bit code of each band: x_hat = a_c sign(k_c x + b_c) + c_c, fitted by gradient
    # descent through TanhSign's estimator (a toy objective that shows what k and b can learn).
    a = tf.Variable(tf.fill([bands], 0.1))
    c = tf.Variable(tf.reduce_mean(x, axis=[0, 1, 2]))
    redistribute.build(x.shape)
    binarize.build(x.shape)
    before = binarize(redistribute(x)).numpy()[0]
    variables = [*redistribute.trainable_variables, *binarize.trainable_variables, a, c]
    optimizer = tf.keras.optimizers.legacy.Adam(0.05)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            code = binarize(redistribute(x))
            loss = tf.reduce_mean(tf.square(a * code + c - x))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    losses = [float(step()) for _ in range(200)]
    after = binarize(redistribute(x)).numpy()[0]
    k, b = redistribute.k.numpy(), redistribute.b.numpy()
    threshold = -b / k
    lam = CASSI_WAVELENGTHS

    fig = plt.figure(figsize=(12.5, 5.9))
    grid = fig.add_gridspec(1, 2, top=0.9, bottom=0.5, wspace=0.2)
    ax = fig.add_subplot(grid[0, 0])
    low, q1, median, q3, high = np.percentile(cube.reshape(-1, bands), [2, 25, 50, 75, 98], axis=0)
    ax.vlines(lam, low, high, color=SHAPE, lw=1.0)
    ax.vlines(lam, q1, q3, color=SHAPE, lw=4.0, alpha=0.6, label="activations per band (25-75 %, 2-98 %)")
    ax.plot(lam, np.zeros(bands), color="k", ls="--", lw=1.0, label="threshold 0 (no redistribution)")
    ax.plot(lam, threshold, "o", color=BINARY, ms=4, label="learned threshold -b/k")
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("activation value")
    ax.set_title("Where each band is cut: sign(k x + b) = +1 exactly where x > -b/k")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_ylim(-0.08, max(1.0, float(high.max()) + 0.3))

    ax = fig.add_subplot(grid[0, 1])
    ax.plot(lam, (before > 0).mean(axis=(0, 1)), "s-", color=SHAPE, ms=3, label="k = 1, b = 0 (initial)")
    ax.plot(lam, (after > 0).mean(axis=(0, 1)), "o-", color=BINARY, ms=3, label="learned k, b")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("fraction of +1")
    ax.set_title(f"Share of activations binarized to +1 (toy loss {losses[0]:.4f} -> {losses[-1]:.4f})")
    ax.legend(loc="center right", fontsize=7)

    shown = [int(np.argmin(np.abs(lam - w))) for w in (460, 550, 640)]
    # Three groups of three images (x, sign(x), sign(kx + b)), with a spacer column between groups.
    images = fig.add_gridspec(1, 11, top=0.37, bottom=0.02, wspace=0.08,
                              width_ratios=[1, 1, 1, 0.35, 1, 1, 1, 0.35, 1, 1, 1])
    for group, band in enumerate(shown):
        for j, (image, label) in enumerate(((cube[..., band], "x"), (before[..., band], "sign(x)"),
                                            (after[..., band], "sign(kx + b)"))):
            ax = fig.add_subplot(images[0, 4 * group + j])
            binary = j > 0
            ax.imshow(image, cmap="gray", vmin=-1 if binary else 0,
                      vmax=1 if binary else max(float(image.max()), 1e-6), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color("#bbbbbb")
            ax.set_title(label if j else f"band {band} ({lam[band]:g} nm): x", fontsize=8)
    fig.suptitle("SpectralRedistribution + TanhSign on a synthetic 28-band cube (all values >= 0): without "
                 "k, b every activation is +1 (white)", fontsize=9.5)
    return _save(fig, "spectral_redistribution")


# --------------------------------------------------------------------------- residual alignment


@figure
def residual_alignment():
    """BBCU's residual alignment: the binary branch's range does not depend on k, the residual's does."""
    import tensorflow as tf

    from larq_hsi.nn.layers import RepeatChannels, ResidualAlignment, alignment_factor
    from larq_hsi.nn.units import bbcu_conv
    from larq_hsi.tasks.restoration.dataset import sample_images

    tf.keras.utils.set_random_seed(0)
    features = 64
    image = sample_images(("camera",), channels=1)[0][168:216, 208:256]  # 48x48, [0, 1]
    # Head-like features: the zero-mean image repeated to 64 channels (BBCU-H's residual layout).
    x = RepeatChannels(features, "interleave")(tf.constant((image - image.mean())[None]))
    units = {}
    for version in ("v2", "v4"):  # V2: f(B(x) + x), no BatchNorm; V4: x + f(B(x))
        unit_in = tf.keras.Input(tuple(x.shape[1:]))
        unit_out = bbcu_conv(unit_in, "unit", unit=version)
        unit = tf.keras.Model(unit_in, unit_out)
        units[version] = tf.keras.Model(unit_in, [unit.get_layer("unit.binary_conv").output, unit_out])
    units["v4"].set_weights(units["v2"].get_weights())  # the same binary conv in both

    def run(k, version="v2"):
        scaled = ResidualAlignment(k)(x)  # align_in: k x
        branch, y = units[version](scaled)
        back = ResidualAlignment(k, inverse=True)(y)  # align_out: y / k
        return scaled.numpy(), branch.numpy(), back.numpy()

    target = x.numpy().ravel()
    ks = np.geomspace(0.1, 3000, 24)
    share, fidelity = [], {"v2": [], "v4": []}
    for k in ks:
        for version in ("v2", "v4"):
            scaled, branch, back = run(float(k), version)
            fidelity[version].append(np.corrcoef(back.ravel(), target)[0, 1])
        share.append(np.std(scaled) / (np.std(scaled) + np.std(branch)))
    k_star = alignment_factor(features)

    fig = plt.figure(figsize=(12.5, 6.4))
    grid = fig.add_gridspec(2, 3, hspace=0.45, wspace=0.28)
    for row, k in enumerate((1.0, 130.0)):
        scaled, branch, back = run(k)
        ax = fig.add_subplot(grid[row, 0])
        top = max(np.abs(scaled).max(), np.abs(branch).max())
        bins = np.linspace(-top, top, 81)
        ax.hist(branch.ravel(), bins=bins, color=BINARY, alpha=0.65, label="binary conv B(k·x)")
        ax.hist(scaled.ravel(), bins=bins, color=SHORTCUT, alpha=0.65, label="residual k·x")
        ax.set_yscale("log")
        ax.set_title(f"k = {k:g}: the two terms of the unit's sum")
        ax.set_xlabel("value")
        ax.legend(fontsize=7, loc="upper left")
        ax = fig.add_subplot(grid[row, 2])
        ax.imshow(back[0, ..., 0], cmap="gray")
        ax.set_title(f"unit output / k, k = {k:g} (channel 0)", fontsize=8.5)
        ax.axis("off")
    ax = fig.add_subplot(grid[0, 1])
    ax.imshow(x.numpy()[0, ..., 0], cmap="gray")
    ax.set_title("unit input x (channel 0)", fontsize=8.5)
    ax.axis("off")
    ax = fig.add_subplot(grid[1, 1])
    ax.semilogx(ks, share, color=SHORTCUT, lw=1.8, label="std(k·x) / (std(k·x) + std(B))")
    ax.semilogx(ks, fidelity["v2"], color=FLOAT, lw=1.8, label="corr(output / k, x), V2 f(B(x) + x)")
    ax.semilogx(ks, fidelity["v4"], color=FLOAT, lw=1.4, ls="--", label="corr(output / k, x), V4 x + f(B(x))")
    ax.axvline(k_star, color="k", lw=0.9, ls=":")
    ax.text(k_star * 1.15, 0.03, f"k* = {k_star:g}", fontsize=7.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("amplification factor k")
    ax.set_title("How much of the full-precision input survives")
    ax.legend(fontsize=6.5, loc="center right", frameon=True, framealpha=0.95, edgecolor="white")
    fig.suptitle("ResidualAlignment around a BBCU unit (nn.units.bbcu_conv, 64 channels, fresh weights): "
                 "B sees only sign(k·x + b), so its range ignores k", fontsize=9.5)
    return _save(fig, "residual_alignment")


# --------------------------------------------------------------------------- BiSR modules


_LABELS = {
    "AveragePooling2D": lambda l: "avg pool\n2×2",
    "SpectralRedistribution": lambda l: "redistribute\nk·x + b",
    "RPReLU": lambda l: "RPReLU",
    "Add": lambda l: "+",
    "Concatenate": lambda l: "concat",
    "Average": lambda l: "mean",
    "BilinearUpsample": lambda l: f"bilinear\n×{l.factor}",
    "ChannelSplit": lambda l: f"split\nin {l.parts}",
}


def _label(layer) -> str:
    kind = type(layer).__name__
    if kind in ("QuantConv2D", "QuantGroupConv2D"):
        k = layer.kernel_size[0]
        stride = f", /{layer.strides[0]}" if layer.strides[0] > 1 else ""
        return f"1-bit conv\n{k}×{k}{stride}"
    if kind == "InputLayer":
        return "input"
    return _LABELS.get(kind, lambda l: kind)(layer)


def _colour(layer) -> str:
    kind = type(layer).__name__
    if kind in ("QuantConv2D", "QuantGroupConv2D"):
        return BINARY
    if kind in ("SpectralRedistribution", "RPReLU", "Add", "Average"):
        return FLOAT
    return SHAPE


def _graph(model):
    """(layers by name, edges (source, target)) of a functional model, from its config."""
    layers = {layer.name: layer for layer in model.layers}
    edges = []
    for entry in model.get_config()["layers"]:
        for node in entry["inbound_nodes"]:
            for inbound in node:
                edges.append((inbound[0], entry["name"]))
    return layers, edges


def _layout(model):
    """Layers, edges and box centres of a module: one column per depth, one lane per branch."""
    layers, edges = _graph(model)
    rank = {}
    for name in layers:  # the config lists layers in topological order
        sources = [s for s, t in edges if t == name]
        rank[name] = 1 + max((rank[s] for s in sources), default=-1)

    def lane(name):
        if ".biconv_1" in name:
            return 0.75
        if ".biconv_2" in name:
            return -0.75
        return 0.0

    position = {n: (rank[n] * 1.3, lane(n)) for n in layers}
    return layers, edges, position


def _span(position) -> float:
    xs = [p[0] for p in position.values()]
    return max(xs) - min(xs) + 1.4


def _draw_module(ax, model, title):
    layers, edges, position = _layout(model)
    width, height = 1.05, 0.62
    for source, target in edges:
        (x0, y0), (x1, y1) = position[source], position[target]
        residual = type(layers[target]).__name__ == "Add" and type(layers[source]).__name__ != "RPReLU"
        colour, lw, bend = ("#555555", 1.0, 0.0)
        if residual:  # the shortcut: an arc outside the branch it bypasses
            colour, lw, bend = SHORTCUT, 2.2, (-0.45 if y1 >= 0 else 0.45)
        ax.add_patch(FancyArrowPatch((x0 + width / 2, y0), (x1 - width / 2, y1),
                                     connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                     mutation_scale=8, color=colour, lw=lw, zorder=1))
    for name, (x, y) in position.items():
        layer = layers[name]
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                    boxstyle="round,pad=0.02,rounding_size=0.08",
                                    fc="white", ec=_colour(layer), lw=1.6, zorder=2))
        ax.text(x, y + 0.03, _label(layer), ha="center", va="center", fontsize=6.4, zorder=3)
        shape = layer.output_shape[0] if isinstance(layer.output_shape, list) else layer.output_shape
        ax.text(x, y - height / 2 - 0.08, "×".join(str(v) for v in shape[1:]), ha="center", va="top",
                fontsize=6.2, color="#333333", zorder=3)
    xs = [p[0] for p in position.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(-1.85, 1.8)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=8.5)


@figure
def bisr_modules():
    """The four BiSR modules and their "normal" counterparts, drawn from the built Keras graphs."""
    import tensorflow as tf

    from larq_hsi.nn import blocks

    channels, size = 8, 16
    rows = []
    for module in blocks.BISR_MODULES:
        models = []
        for kind in ("normal", "bisr"):
            inputs = tf.keras.Input((size, size, channels), name="input")
            outputs = getattr(blocks, f"{kind}_{module}")(inputs, module)
            model = tf.keras.Model(inputs, outputs)
            binary = [l for l in model.layers if type(l).__name__.startswith("Quant")]
            weights = sum(int(np.prod(l.kernel.shape)) for l in binary)
            out = "×".join(str(v) for v in model.output_shape[1:])
            models.append((model, f"nn.blocks.{kind}_{module}: {size}×{size}×{channels} -> {out}, "
                                  f"{weights:,} 1-bit weights"))
        rows.append(models)
    widths = [max(_span(_layout(row[c][0])[2]) for row in rows) for c in (0, 1)]
    fig, axes = plt.subplots(len(rows), 2, figsize=(15.0, 2.75 * len(rows)),
                             gridspec_kw={"width_ratios": widths, "wspace": 0.05})
    for row, models in enumerate(rows):
        for column, (model, title) in enumerate(models):
            _draw_module(axes[row, column], model, title)
    handles = [
        plt.Line2D([], [], color=BINARY, lw=2, label="1-bit convolution (sign of its input, mean|W| sign(W))"),
        plt.Line2D([], [], color=FLOAT, lw=2, label="full-precision elementwise op"),
        plt.Line2D([], [], color=SHAPE, lw=2, label="shape op (pool, split, upsample, concat)"),
        plt.Line2D([], [], color=SHORTCUT, lw=2.2, label="full-precision shortcut into a sum"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8)
    fig.suptitle("Left: the normal binarized modules of BiSRNet Fig. 4 (the 1-bit conv changes the shape, "
                 "so no shortcut can pass).  Right: the BiSR modules (every 1-bit conv keeps its channel "
                 "count and its shortcut).", fontsize=9.5)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.06, hspace=0.25)
    return _save(fig, "bisr_modules")


# --------------------------------------------------------------------------- full-precision paths


@figure
def full_precision_paths():
    """Stacks of BiSR-Convs with and without their full-precision shortcut, at initialisation."""
    import tensorflow as tf

    from larq_hsi.nn import units
    from larq_hsi.synthetic import synthetic_scene

    tf.keras.utils.set_random_seed(0)
    cube = synthetic_scene(32, seed=11)
    x = tf.constant((cube - cube.mean(axis=(0, 1)))[None], tf.float32)  # zero-mean features, 28 channels
    depth = 12
    results = {}
    for residual in (True, False):
        inputs = tf.keras.Input((32, 32, 28))
        h, outputs = inputs, []
        for i in range(depth):
            h = units.bisr_conv(h, f"unit{i}", residual=residual)
            outputs.append(h)
        model = tf.keras.Model(inputs, outputs)
        rng = np.random.default_rng(0)
        probes = [tf.constant(rng.standard_normal((1, 32, 32, 28)), tf.float32) for _ in range(depth)]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            hs = model(x)
            objectives = [tf.reduce_mean(hd * p) for hd, p in zip(hs, probes)]
        cosine, grads, scaled = [], [], []
        hs2 = model(2.0 * x)
        xv = x.numpy().ravel()
        for d in range(depth):
            hd = hs[d].numpy().ravel()
            cosine.append(float(hd @ xv / (np.linalg.norm(hd) * np.linalg.norm(xv))))
            grads.append(float(tf.norm(tape.gradient(objectives[d], x))))
            # Does the output notice that the input's contrast doubled?
            scaled.append(float(np.linalg.norm(hs2[d].numpy().ravel() - hd) / np.linalg.norm(hd)))
        del tape
        results[residual] = (cosine, grads, scaled)

    d = np.arange(1, depth + 1)
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 3.6))
    for residual, colour, label in ((True, SHORTCUT, "BiSR-Conv with its shortcut x + RPReLU(conv(...))"),
                                    (False, BINARY, "same layers without the shortcut")):
        cosine, grads, scaled = results[residual]
        axes[0].plot(d, cosine, "o-", color=colour, ms=3.5, label=label)
        axes[1].semilogy(d, grads, "o-", color=colour, ms=3.5, label=label)
        axes[2].plot(d, scaled, "o-", color=colour, ms=3.5, label=label)
    axes[0].set_title("cosine(features at depth d, input)")
    axes[1].set_title("‖∂ objective_d / ∂ input‖ (GradientTape)")
    axes[2].set_title("relative change of the output when the input is doubled")
    for ax in axes:
        ax.set_xlabel("depth d (BiSR-Convs stacked)")
    axes[0].set_ylim(-0.2, 1.05)
    axes[2].set_ylim(-0.05, 0.8)
    axes[2].legend(loc="upper right", fontsize=7.5)
    fig.suptitle("Why binarized layers keep a full-precision path: 12 BiSR-Convs (nn.units.bisr_conv, "
                 "28 channels, fresh weights) on a zero-mean synthetic cube", fontsize=9.5)
    fig.tight_layout()
    return _save(fig, "full_precision_paths")


# --------------------------------------------------------------------------- CASSI


@figure
def cassi_forward():
    """The CASSI forward model and the network inputs, from `larq_hsi.tasks.cassi.physics` on a synthetic scene."""
    from larq_hsi.spectra import CASSI_WAVELENGTHS
    from larq_hsi.synthetic import synthetic_scene
    from larq_hsi.tasks.cassi import physics
    from larq_hsi.viz import false_colour

    cube = synthetic_scene(96, seed=5)
    mask = physics.random_mask((96, 96), seed=1)
    sim = physics.simulate(cube[None], mask)
    y = sim.measurement.numpy()[0]
    h = sim.H.numpy()[0]
    fig = plt.figure(figsize=(12.5, 3.3))
    grid = fig.add_gridspec(1, 6, width_ratios=[1, 1, 1.56, 1, 1, 1], wspace=0.15)
    panels = [
        (false_colour(cube), "scene X (false colour)", None),
        (mask, "coded aperture M", "gray"),
        (y, f"measurement Y, {y.shape[0]}×{y.shape[1]}\n(bands shifted by 2 px and summed)", "gray"),
    ]
    lam = CASSI_WAVELENGTHS
    for band in (0, 13, 27):
        panels.append((h[..., band], f"network input H, band {band}\n({lam[band]:g} nm)", "gray"))
    for column, (image, title, cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[0, column])
        ax.imshow(image, cmap=cmap, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle("physics.simulate: Y = Σ_n shift_{2n}(M ⊙ X_n); the simulation BiSRNet reads "
                 "H = shift_back(Y · 2/N) and Φ = M repeated over the 28 bands", fontsize=9.5)
    return _save(fig, "cassi_forward")


# --------------------------------------------------------------------------- complexity


@figure
def complexity_bisrnet():
    """Where BiSRNet's MACs and storage are, per part, in both conventions (`complexity.profile`)."""
    import larq as lq  # noqa: F401  (quantizers registered before the model is built)

    from larq_hsi import complexity
    from larq_hsi.models import BiSRNet

    model = BiSRNet()
    profile = complexity.profile(model)
    parts = {
        "input & output convs": lambda n: not n.startswith("body."),
        "encoder": lambda n: n.startswith(("body.0.embedding", "body.0.encoder_layers")),
        "bottleneck": lambda n: n.startswith("body.0.bottleneck"),
        "decoder": lambda n: n.startswith(("body.0.decoder_layers", "body.0.mapping")),
    }
    rows = {}
    for part, member in parts.items():
        layers = [r for r in profile.layers if member(r.name)]
        rows[part] = dict(
            binary_macs=sum(r.macs for r in layers if r.binary_macs) / 1e9,
            float_macs=sum(r.macs for r in layers if not r.binary_macs) / 1e9,
            binary_kb=sum(r.kernel_params for r in layers if r.binary_kernel) / 8 / 1e3,
            float_kb=4 * sum(r.other_params + (0 if r.binary_kernel else r.kernel_params) for r in layers) / 1e3,
        )
    names = list(rows)
    y = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 3.0))
    for ax, (b, f, unit, title) in zip(axes, (
        ("binary_macs", "float_macs", "G MACs", f"MACs at 256×256 (total {(profile.binary_macs + profile.float_macs) / 1e9:.2f} G; "
                                                 f"papers' OPs {profile.paper_ops / 1e9:.3f} G)"),
        ("binary_kb", "float_kb", "KB", f"true storage (total {profile.storage_bytes / 1e3:.1f} KB; "
                                        f"papers' params {profile.paper_params / 1e3:.2f} K)"),
    )):
        binary = np.array([rows[n][b] for n in names])
        floats = np.array([rows[n][f] for n in names])
        ax.barh(y, binary, color=BINARY, label="1-bit (binary MACs / 1-bit kernel weights)")
        ax.barh(y, floats, left=binary, color=FLOAT, label="32-bit (float MACs / every other parameter)")
        for i in range(len(names)):
            ax.text(binary[i] + floats[i], i, f"  {binary[i]:.2f} + {floats[i]:.2f}", va="center", fontsize=7.5)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
        ax.set_title(title)
        ax.set_xlim(0, 1.35 * max(binary + floats))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle("The published BiSRNet (BiSRNet(), simulation variant) by part, from complexity.profile",
                 fontsize=9.5)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, "complexity_bisrnet")


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"figures to draw (default all: {', '.join(FIGURES)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figure(s) {unknown}; expected some of {list(FIGURES)}")
    started = time.time()
    import tensorflow as tf

    import larq_hsi  # noqa: F401  (registers the quantizers by alias)

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("larq.layers_base").setLevel(logging.ERROR)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.names or FIGURES:
        t = time.time()
        path = FIGURES[name]()
        print(f"{path.relative_to(ROOT)}  {time.time() - t:5.1f} s")
    print(f"figures done in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
