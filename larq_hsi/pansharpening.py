r"""Hyperspectral pan-sharpening data, metrics and training recipe (HS-BiNet).

Data follow Wald's protocol (HS-BiNet Appendix A.2): the original cube is the
reference \(X\) (`gt`); the low-resolution input (`ms`) is \(X\) blurred by a
Gaussian (an MTF-like low-pass) and decimated by the ratio \(s\) (one pixel in
every \(s\), each direction); the PAN image is \(P = \sum_b r_b X_b\) with a
spectral response \(r\) (\(\sum_b r_b = 1\)); `lms` is `ms` upsampled back by
bicubic interpolation. Samples are dicts `{"gt", "ms", "lms", "pan"}` of
channels-last float32 arrays, either one image `(H, W, C)` or a stack
`(N, H, W, C)`; `pan` has one channel. Training pairs are `((ms, pan), gt)`.

Readers: `load_pansharpening` reads the HyperPanCollection/PanCollection
layout (`.mat` or `.h5` with `gt`, `ms`, `lms`, `pan`; PyTorch's `(N, C, H, W)`
or channels-last), `simulate_from_file` reads a raw cube (any format
`larq_hsi.data.load_cube` reads) and simulates the rest.
`synthetic_pansharpening` simulates from `larq_hsi.data.synthetic_scene`
(a synthetic stand-in, not a benchmark).

Recipe (Appendix A.2): L1 loss, Adam (1e-3) with coupled weight decay 1e-5,
cosine warm restarts (T0 = 50 epochs, T_mult = 2, floor 1e-5), batch 4, no
augmentation (`compile_for_pansharpening`, `make_dataset`, `train`);
`evaluate` gives Table 1's PSNR, CC, SSIM, SAM (degrees) and ERGAS and writes
Fig. 8-style PNGs; `full_resolution_metrics` gives Table 2's D_lambda, D_s, QNR.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from larq_hsi import data as hsi_data
from larq_hsi import metrics as M
from larq_hsi import optim

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tensorflow_addons as tfa

__all__ = [
    "KEYS",
    "compile_for_pansharpening",
    "default_spectral_response",
    "evaluate",
    "extract_patches",
    "full_resolution_metrics",
    "l1_loss",
    "load_pansharpening",
    "make_dataset",
    "mtf_sigma",
    "predict",
    "save_figures",
    "simulate",
    "simulate_from_file",
    "synthetic_pansharpening",
    "train",
]

#: The arrays of a pan-sharpening sample, in the HyperPanCollection's names.
KEYS = ("gt", "ms", "lms", "pan")

#: Gain of the sensor's MTF at the Nyquist frequency of the low-resolution image.
DEFAULT_GNYQ = 0.3


# --------------------------------------------------------------------------- simulation


def mtf_sigma(ratio: int, gnyq: float = DEFAULT_GNYQ) -> float:
    r"""Std (in high-resolution pixels) of the Gaussian whose response at the LR Nyquist frequency is `gnyq`.

    A Gaussian of std \(\sigma\) has frequency response \(e^{-2\pi^2\sigma^2 f^2}\);
    at \(f = 1/(2s)\) cycles/pixel this equals \(G\) for
    \(\sigma = s\sqrt{-2\ln G}/\pi\) (1.976 px for \(s = 4\), \(G = 0.3\)).
    """
    if not 0 < gnyq < 1:
        raise ValueError(f"gnyq must be in (0, 1), got {gnyq!r}")
    return ratio * math.sqrt(-2.0 * math.log(gnyq)) / math.pi


def default_spectral_response(bands: int, wavelengths=None, pan_range=(450.0, 900.0)) -> np.ndarray:
    """A flat panchromatic response, normalised to sum 1.

    With `wavelengths` (nm, one per band): equal weights on the bands inside
    `pan_range` (a typical 450-900 nm PAN band); otherwise, or if no band falls
    inside, equal weights on all bands (the PAN is the band mean).
    """
    if bands < 1:
        raise ValueError(f"bands must be >= 1, got {bands}")
    weights = np.ones(bands)
    if wavelengths is not None:
        lam = np.asarray(wavelengths, dtype=np.float64)
        if lam.shape != (bands,):
            raise ValueError(f"expected {bands} wavelengths, got shape {lam.shape}")
        inside = (lam >= pan_range[0]) & (lam <= pan_range[1])
        if inside.any():
            weights = inside.astype(np.float64)
    return weights / weights.sum()


def _check_srf(srf, bands: int) -> np.ndarray:
    srf = np.asarray(srf, dtype=np.float64).reshape(-1)
    if srf.shape != (bands,):
        raise ValueError(f"srf: expected one response per band ({bands}), got {srf.size} values")
    if np.any(srf < 0) or not np.all(np.isfinite(srf)) or srf.sum() <= 0:
        raise ValueError("srf: responses must be finite, >= 0 and not all zero")
    return srf / srf.sum()


def simulate(
    reference,
    ratio: int = 4,
    sigma: float | None = None,
    gnyq: float = DEFAULT_GNYQ,
    kernel_size: int | None = None,
    srf=None,
    wavelengths=None,
    phase: int = 0,
    interpolation: str = "bicubic",
) -> dict:
    r"""Wald's-protocol simulation of a pan-sharpening sample from a reference cube.

    `reference`: `(H, W, B)` or `(N, H, W, B)`, cropped to a multiple of `ratio`.
    Returns `{"gt", "ms", "lms", "pan"}` (float32, same batching as the input):

    - `ms = decimate(G_sigma * gt)`: Gaussian blur (`tfa.image.gaussian_filter2d`,
      reflect padding, `kernel_size` default \(2\lceil 3\sigma\rceil + 1\),
      `sigma` default `mtf_sigma(ratio, gnyq)`), then every `ratio`-th pixel
      starting at `phase` in both directions;
    - `pan = sum_b srf_b gt_b` (`srf` normalised to sum 1; default
      `default_spectral_response(B, wavelengths)`);
    - `lms`: `ms` upsampled by `ratio` with `tf.image.resize(method=interpolation)`.
    """
    x = np.asarray(reference, dtype=np.float32)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"simulate: reference must be (H, W, B) or (N, H, W, B), got shape {np.shape(reference)}")
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        raise ValueError(f"simulate: ratio must be an integer >= 1, got {ratio!r}")
    if not 0 <= phase < ratio:
        raise ValueError(f"simulate: phase must be in [0, ratio), got {phase}")
    height, width = (x.shape[1] // ratio) * ratio, (x.shape[2] // ratio) * ratio
    if height == 0 or width == 0:
        raise ValueError(f"simulate: the reference ({x.shape[1]}x{x.shape[2]}) is smaller than the ratio {ratio}")
    x = x[:, :height, :width]
    bands = x.shape[-1]
    sigma = mtf_sigma(ratio, gnyq) if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"simulate: sigma must be > 0, got {sigma}")
    if kernel_size is None:
        kernel_size = 2 * math.ceil(3 * sigma) + 1
    blurred = tfa.image.gaussian_filter2d(
        tf.constant(x), filter_shape=(kernel_size, kernel_size), sigma=sigma, padding="REFLECT"
    ).numpy()
    ms = blurred[:, phase::ratio, phase::ratio]
    srf = default_spectral_response(bands, wavelengths) if srf is None else _check_srf(srf, bands)
    pan = np.tensordot(x.astype(np.float64), srf, axes=([-1], [0]))[..., None].astype(np.float32)
    lms = tf.image.resize(ms, (height, width), method=interpolation).numpy().astype(np.float32)
    sample = {"gt": x, "ms": ms.astype(np.float32), "lms": lms, "pan": pan}
    return {k: v[0] for k, v in sample.items()} if single else sample


def extract_patches(sample: dict, pan_size: int = 64, stride: int | None = None, ratio: int | None = None) -> dict:
    """Aligned training patches: `pan_size` at high resolution, `pan_size / ratio` at low.

    `sample`: a dict of `KEYS` (one image or a stack); `stride` (high-resolution
    pixels, default `pan_size`: no overlap) must be a multiple of the ratio,
    which is read from the sample (checked against `ratio` if given). The
    default 64 / 16 are the paper's WDC/Botswana patches. Returns a dict of
    stacks `(N, ...)`; `lms` is included when present.
    """
    sample = _check_sample(sample, ratio, "extract_patches")
    r = _ratio_of(sample)
    stride = pan_size if stride is None else stride
    if pan_size % r or stride % r or pan_size < r or stride < 1:
        raise ValueError(
            f"extract_patches: pan_size ({pan_size}) and stride ({stride}) must be positive multiples "
            f"of the ratio {r}"
        )
    stack = {k: (v if v.ndim == 4 else v[None]) for k, v in sample.items()}
    height, width = stack["pan"].shape[1:3]
    if height < pan_size or width < pan_size:
        raise ValueError(f"extract_patches: the image ({height}x{width}) is smaller than pan_size {pan_size}")
    out = {k: [] for k in stack}
    small = pan_size // r
    for n in range(stack["pan"].shape[0]):
        for i in range(0, height - pan_size + 1, stride):
            for j in range(0, width - pan_size + 1, stride):
                for k, v in stack.items():
                    if k == "ms":
                        out[k].append(v[n, i // r : i // r + small, j // r : j // r + small])
                    else:
                        out[k].append(v[n, i : i + pan_size, j : j + pan_size])
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def synthetic_pansharpening(
    count: int = 4,
    size: int = 128,
    bands: int = 31,
    ratio: int = 4,
    seed: int = 0,
    **simulate_kwargs,
) -> dict:
    """`count` synthetic scenes (`larq_hsi.data.synthetic_scenes`, 450-650 nm) simulated by `simulate`.

    A seeded stand-in for demos, tests and the estimator benchmark; says
    nothing about accuracy on real data. Returns stacks `(count, ...)`.
    """
    scenes = np.stack(hsi_data.synthetic_scenes(count, size=size, bands=bands, seed=seed))
    simulate_kwargs.setdefault("wavelengths", hsi_data.wavelengths_for(bands))
    return simulate(scenes, ratio=ratio, **simulate_kwargs)


# --------------------------------------------------------------------------- readers


def _ratio_of(sample: dict) -> int:
    return sample["pan"].shape[-3] // sample["ms"].shape[-3]


def _check_sample(sample: dict, ratio: int | None, where) -> dict:
    """Checks shapes and ratios of a sample dict; `where` (a path or a name) prefixes every error."""
    missing = [k for k in ("ms", "pan") if k not in sample]
    if missing:
        raise KeyError(f"{where}: missing {missing}; a pan-sharpening sample needs ms and pan (and gt, lms)")
    out = {k: np.asarray(sample[k], dtype=np.float32) for k in KEYS if k in sample and sample[k] is not None}
    ms, pan = out["ms"], out["pan"]
    if ms.ndim not in (3, 4) or pan.ndim != ms.ndim:
        raise ValueError(
            f"{where}: ms and pan must both be (H, W, C) or (N, H, W, C), got ms {ms.shape} and pan {pan.shape}"
        )
    if pan.shape[-1] != 1:
        raise ValueError(f"{where}: pan must have 1 channel, got shape {pan.shape}")
    if ms.ndim == 4 and ms.shape[0] != pan.shape[0]:
        raise ValueError(f"{where}: ms holds {ms.shape[0]} images and pan {pan.shape[0]}")
    (h, w), (ph, pw) = ms.shape[-3:-1], pan.shape[-3:-1]
    if ph % h or pw % w or ph // h != pw // w or ph < h:
        raise ValueError(
            f"{where}: the PAN size {ph}x{pw} is not an integer multiple (the same in both directions) "
            f"of the ms size {h}x{w}"
        )
    found = ph // h
    if ratio is not None and found != ratio:
        raise ValueError(f"{where}: expected ratio {ratio}, but pan {ph}x{pw} / ms {h}x{w} gives ratio {found}")
    for key in ("gt", "lms"):
        if key in out:
            expected = pan.shape[:-1] + (ms.shape[-1],)
            if out[key].shape != expected:
                raise ValueError(
                    f"{where}: {key} must be the PAN size with the ms bands, {expected}, got {out[key].shape}"
                )
    for key, value in out.items():
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{where}: {key} holds NaN/inf values")
    return out


def _to_channels_last(array: np.ndarray, channels_first: bool) -> np.ndarray:
    if not channels_first:
        return array
    if array.ndim == 4:
        return np.transpose(array, (0, 2, 3, 1))
    return np.transpose(array, (1, 2, 0))


def load_pansharpening(path, ratio: int | None = None, scale: float | None = None) -> dict:
    """Read a pan-sharpening file: `.mat` (v5 or v7.3) or `.h5` with `gt`, `ms`, `lms`, `pan`.

    `ms` and `pan` are required; `gt` (absent at full resolution, e.g.
    PRISMA's FR1) and `lms` (recomputed by bicubic upsampling if absent) are
    optional. Layouts: PyTorch's `(N, C, H, W)` / `(C, H, W)` as the
    HyperPanCollection `.h5` files store them, or channels-last, told apart by
    `pan`'s single channel; a 2-D `pan` is one image. `scale` divides every
    array (PanCollection-style files store digital numbers, e.g. 2047 for
    11-bit data); the default keeps the values.

    Raises `FileNotFoundError`, `KeyError` (a required key missing: lists the
    keys found) or `ValueError` (unreadable file, shapes that do not fit, a
    ratio other than `ratio`), each naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    arrays = {}
    for key in KEYS:
        try:
            arrays[key] = np.asarray(hsi_data.read_array(path, key=key), dtype=np.float64)
        except KeyError as error:
            if key in ("ms", "pan"):
                raise KeyError(
                    f"{path}: missing key {key!r}; pan-sharpening files need 'ms' and 'pan' "
                    f"(and 'gt', 'lms') ({error.args[0] if error.args else error})"
                ) from None
    pan = arrays["pan"]
    if pan.ndim == 2:
        channels_first = False
        arrays["pan"] = pan[..., None]
    elif pan.ndim in (3, 4) and pan.shape[-1] == 1:
        channels_first = False
    elif pan.ndim in (3, 4) and pan.shape[-3] == 1:
        channels_first = True
    else:
        raise ValueError(f"{path}: cannot find pan's single channel in shape {pan.shape}")
    sample = {k: _to_channels_last(v, channels_first) for k, v in arrays.items()}
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        sample = {k: v / scale for k, v in sample.items()}
    sample = _check_sample(sample, ratio, path)
    if "lms" not in sample:
        r = _ratio_of(sample)
        ms = sample["ms"] if sample["ms"].ndim == 4 else sample["ms"][None]
        lms = tf.image.resize(ms, (ms.shape[1] * r, ms.shape[2] * r), method="bicubic").numpy()
        sample["lms"] = (lms if sample["ms"].ndim == 4 else lms[0]).astype(np.float32)
    return sample


def simulate_from_file(path, ratio: int = 4, key: str | None = None, scale="auto", **simulate_kwargs) -> dict:
    """Read a raw cube with `larq_hsi.data.load_cube` (path, `key`, `scale`) and `simulate` a sample from it."""
    cube = hsi_data.load_cube(path, key=key, scale=scale)
    if min(cube.shape[:2]) < ratio:
        raise ValueError(f"{path}: the cube ({cube.shape[0]}x{cube.shape[1]}) is smaller than the ratio {ratio}")
    return simulate(cube, ratio=ratio, **simulate_kwargs)


# --------------------------------------------------------------------------- training


def l1_loss(y_true, y_pred):
    r"""The paper's reconstruction loss (Eq. 7) as PyTorch's `L1Loss`: \(\mathrm{mean}|x - x_{gt}|\)."""
    return tf.reduce_mean(tf.abs(tf.cast(y_true, y_pred.dtype) - y_pred))


def make_dataset(sample: dict, batch_size: int = 4, shuffle: bool = True, seed: int = 0,
                 drop_remainder: bool = False) -> tf.data.Dataset:
    """A `tf.data` pipeline of `((ms, pan), gt)` batches from stacked patches; no augmentation.

    Shuffling is seeded and reshuffles every epoch (deterministically).
    """
    sample = _check_sample(sample, None, "make_dataset")
    if "gt" not in sample:
        raise KeyError("make_dataset: training needs the reference 'gt'")
    if sample["ms"].ndim != 4:
        raise ValueError(f"make_dataset: expected stacks (N, H, W, C), got ms {sample['ms'].shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    data = tf.data.Dataset.from_tensor_slices(((sample["ms"], sample["pan"]), sample["gt"]))
    if shuffle:
        data = data.shuffle(len(sample["ms"]), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def compile_for_pansharpening(
    model: tf.keras.Model,
    steps_per_epoch: int,
    ratio: int = 4,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-5,
    t0_epochs: int = 50,
    t_mult: float = 2.0,
    min_learning_rate: float = 1e-5,
    metrics: bool = True,
) -> tf.keras.Model:
    """Compile `model` with the paper's recipe: L1 loss, `optim.paper_optimizer` and (optionally)
    the streaming PSNR, CC, SAM and ERGAS metrics. Returns the model."""
    optimizer = optim.paper_optimizer(
        model, steps_per_epoch, learning_rate, weight_decay, t0_epochs, t_mult, min_learning_rate
    )
    keras_metrics = [M.PSNR(), M.CC(), M.SAM(), M.ERGAS(ratio=ratio)] if metrics else None
    model.compile(optimizer=optimizer, loss=l1_loss, metrics=keras_metrics)
    return model


def train(
    model: tf.keras.Model,
    train_data: dict,
    epochs: int,
    val_data: dict | None = None,
    batch_size: int = 4,
    seed: int = 0,
    callbacks=None,
    verbose: int = 0,
    **compile_kwargs,
) -> tf.keras.callbacks.History:
    """Compile (`compile_for_pansharpening`) and fit `model` on stacked patches; returns the History."""
    data = make_dataset(train_data, batch_size, shuffle=True, seed=seed)
    steps = int(data.cardinality().numpy())
    ratio = _ratio_of(_check_sample(train_data, None, "train"))
    compile_for_pansharpening(model, steps, ratio=ratio, **compile_kwargs)
    val = None if val_data is None else make_dataset(val_data, batch_size, shuffle=False)
    return model.fit(data, epochs=epochs, validation_data=val, callbacks=callbacks, verbose=verbose)


def predict(model: tf.keras.Model, sample: dict, batch_size: int = 4) -> np.ndarray:
    """The model's output for a sample (one image or a stack), same batching as the input."""
    sample = _check_sample(sample, None, "predict")
    single = sample["ms"].ndim == 3
    ms = sample["ms"][None] if single else sample["ms"]
    pan = sample["pan"][None] if single else sample["pan"]
    out = model.predict([ms, pan], batch_size=batch_size, verbose=0)
    return out[0] if single else out


# --------------------------------------------------------------------------- evaluation


def _default_rgb_bands(bands: int):
    if bands > 80:
        return (20, 50, 80)  # Fig. 8's bands
    return tuple(int(round(f * (bands - 1))) for f in (0.2, 0.5, 0.8))


def _pseudo_colour(cube, bands, lo, hi):
    rgb = np.stack([cube[..., b] for b in bands], axis=-1)
    return np.clip((rgb - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)


def save_figures(prediction, reference, out_dir, lms=None, rgb_bands=None, error_band=None,
                 prefix: str = "", label: str = "HS-BiNet") -> dict:
    """Fig. 8-style PNGs for one image: a pseudo-colour preview and an absolute-error map.

    `{prefix}preview.png`: bands `rgb_bands` (default (20, 50, 80) as in
    Fig. 8 when there are more than 80 bands, else bands at 20/50/80 % of the
    range) of the fused image (titled `label`), the reference and, if given, the bicubic `lms`,
    stretched alike (1st-99th percentile of the reference per channel).
    `{prefix}error.png`: \\(|\\hat X_b - X_b|\\) for band `error_band` (default 25,
    or the middle band for fewer bands) with a shared colour bar. Returns the paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prediction, reference = np.asarray(prediction), np.asarray(reference)
    if prediction.shape != reference.shape or prediction.ndim != 3:
        raise ValueError(
            f"save_figures: prediction and reference must be one cube each of the same shape, got "
            f"{prediction.shape} and {reference.shape}"
        )
    bands = reference.shape[-1]
    rgb_bands = _default_rgb_bands(bands) if rgb_bands is None else tuple(rgb_bands)
    error_band = (25 if bands > 25 else bands // 2) if error_band is None else int(error_band)
    if len(rgb_bands) != 3 or any(not 0 <= b < bands for b in (*rgb_bands, error_band)):
        raise ValueError(f"save_figures: need 3 rgb bands and an error band in [0, {bands}), got {rgb_bands}, {error_band}")
    panels = [(label, prediction), ("reference", reference)]
    if lms is not None:
        panels.append(("bicubic", np.asarray(lms)))
    ref_rgb = np.stack([reference[..., b] for b in rgb_bands], axis=-1)
    lo = np.percentile(ref_rgb, 1, axis=(0, 1))
    hi = np.percentile(ref_rgb, 99, axis=(0, 1))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"preview": out_dir / f"{prefix}preview.png", "error": out_dir / f"{prefix}error.png"}

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, (title, cube) in zip(axes, panels):
        ax.imshow(_pseudo_colour(cube, rgb_bands, lo, hi))
        ax.set_title(f"{title}\nbands {rgb_bands}", fontsize=9)
        ax.axis("off")
    fig.savefig(paths["preview"], dpi=100, bbox_inches="tight")
    plt.close(fig)

    errors = [(t, np.abs(c[..., error_band] - reference[..., error_band])) for t, c in panels if t != "reference"]
    top = max(float(e.max()) for _, e in errors) or 1.0
    fig, axes = plt.subplots(1, len(errors), figsize=(3.6 * len(errors), 3.4), squeeze=False)
    for ax, (title, err) in zip(axes[0], errors):
        im = ax.imshow(err, cmap="jet", vmin=0.0, vmax=top)
        ax.set_title(f"|{title} - reference|, band {error_band}\nMAE {err.mean():.4f}", fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=list(axes[0]), fraction=0.046)
    fig.savefig(paths["error"], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def evaluate(
    model_or_prediction,
    sample: dict,
    ratio: int | None = None,
    out_dir=None,
    index: int = 0,
    batch_size: int = 4,
    rgb_bands=None,
    error_band=None,
    max_val: float = 1.0,
) -> dict:
    """Table 1's metrics of a model (or of precomputed predictions) on a reduced-resolution sample.

    Returns `{"PSNR", "CC", "SSIM", "SAM", "ERGAS"}` as floats, each the mean
    over the images of the sample (PSNR over the whole cube with peak
    `max_val`, CC the band-mean correlation, SSIM the band-mean SSIM, SAM in
    degrees, ERGAS with the sample's ratio). With `out_dir`, writes
    `save_figures` PNGs of image `index` and adds their paths under `"figures"`.
    """
    sample = _check_sample(sample, ratio, "evaluate")
    if "gt" not in sample:
        raise KeyError("evaluate: reduced-resolution evaluation needs the reference 'gt' "
                       "(use full_resolution_metrics without one)")
    ratio = _ratio_of(sample)
    if isinstance(model_or_prediction, tf.keras.Model):
        prediction = predict(model_or_prediction, sample, batch_size)
    else:
        prediction = np.asarray(model_or_prediction, dtype=np.float32)
    gt = sample["gt"]
    if prediction.shape != gt.shape:
        raise ValueError(f"evaluate: prediction shape {prediction.shape} differs from gt {gt.shape}")
    result = {
        "PSNR": float(np.mean(M.psnr(gt, prediction, max_val=max_val))),
        "CC": float(np.mean(M.cc(gt, prediction))),
        "SSIM": float(np.mean(M.ssim(gt, prediction, max_val=max_val))),
        "SAM": float(np.mean(M.sam(gt, prediction))),
        "ERGAS": float(np.mean(M.ergas(gt, prediction, ratio=ratio))),
    }
    if out_dir is not None:
        pick = (lambda a: a[index]) if gt.ndim == 4 else (lambda a: a)
        lms = sample.get("lms")
        result["figures"] = save_figures(
            pick(prediction), pick(gt), out_dir, lms=None if lms is None else pick(lms),
            rgb_bands=rgb_bands, error_band=error_band,
        )
    return result


def full_resolution_metrics(model_or_prediction, sample: dict, block_size: int = 32, batch_size: int = 4) -> dict:
    """Table 2's no-reference metrics, means over images: `{"D_lambda", "D_s", "QNR"}` (see `metrics.qnr`)."""
    sample = _check_sample(sample, None, "full_resolution_metrics")
    if isinstance(model_or_prediction, tf.keras.Model):
        prediction = predict(model_or_prediction, sample, batch_size)
    else:
        prediction = np.asarray(model_or_prediction, dtype=np.float32)
    values = M.qnr(prediction, sample["ms"], sample["pan"], block_size=block_size)
    return {k: float(np.mean(v)) for k, v in values.items()}
