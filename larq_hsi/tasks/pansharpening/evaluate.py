"""Scoring pan-sharpening: HS-BiNet Table 1's reduced-resolution metrics and Table 2's no-reference ones.

`evaluate_model` gives PSNR, CC, SSIM, SAM (degrees) and ERGAS, the same
metrics of the trivial baseline (the bicubic upsampling `lms`) beside them,
and writes Fig. 8-style PNGs (`larq_hsi.viz.save_pansharpening_figures`);
`full_resolution_metrics` gives D_lambda, D_s and QNR.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from larq_hsi import metrics as M
from larq_hsi import viz
from larq_hsi.tasks.pansharpening.dataset import check_sample, ratio_of

__all__ = ["METRICS", "evaluate_model", "full_resolution_metrics", "predict", "reduced_resolution_metrics"]


def predict(model: tf.keras.Model, sample: dict, batch_size: int = 4) -> np.ndarray:
    """The model's output for a sample (one image or a stack), same batching as the input."""
    sample = check_sample(sample, None, "predict")
    single = sample["ms"].ndim == 3
    ms = sample["ms"][None] if single else sample["ms"]
    pan = sample["pan"][None] if single else sample["pan"]
    out = model.predict([ms, pan], batch_size=batch_size, verbose=0)
    return out[0] if single else out


#: Table 1's reduced-resolution metrics, in the order they are printed.
METRICS = ("PSNR", "CC", "SSIM", "SAM", "ERGAS")


def reduced_resolution_metrics(gt, estimate, ratio: int, max_val: float = 1.0) -> dict:
    r"""Table 1's metrics of `estimate` against the reference `gt` (both `(H, W, C)` or `(N, H, W, C)`).

    Each is the mean over the \(N\) images of (`larq_hsi.metrics`), with \(X\)
    the reference, \(\hat X\) the estimate, \(C\) bands and \(s\) = `ratio`:

    - PSNR \(= 10\log_{10}(\text{max\_val}^2 / \mathrm{mean}(X - \hat X)^2)\) over the whole cube (dB);
    - CC, the mean over bands of the Pearson correlation of \(X_b\) and \(\hat X_b\);
    - SSIM, the mean over bands of single-band SSIM with peak `max_val`;
    - SAM, the mean over pixels of \(\arccos\frac{\langle x, \hat x\rangle}{\|x\|\|\hat x\|}\)
      between the spectra (degrees);
    - ERGAS \(= \frac{100}{s}\sqrt{\frac{1}{C}\sum_b(\mathrm{RMSE}_b/\mu_b)^2}\).

    Returns `{"PSNR", "CC", "SSIM", "SAM", "ERGAS"}` as floats.
    """
    return {
        "PSNR": float(np.mean(M.psnr(gt, estimate, max_val=max_val))),
        "CC": float(np.mean(M.cc(gt, estimate))),
        "SSIM": float(np.mean(M.ssim(gt, estimate, max_val=max_val))),
        "SAM": float(np.mean(M.sam(gt, estimate))),
        "ERGAS": float(np.mean(M.ergas(gt, estimate, ratio=ratio))),
    }


def evaluate_model(
    model_or_prediction,
    sample: dict,
    ratio: int | None = None,
    out_dir=None,
    index: int = 0,
    batch_size: int = 4,
    rgb_bands=None,
    error_band=None,
    max_val: float = 1.0,
    baseline: bool = True,
) -> dict:
    """Table 1's metrics of a model (or of precomputed predictions) on a reduced-resolution sample.

    Returns `{"PSNR", "CC", "SSIM", "SAM", "ERGAS"}` as floats, each the mean
    over the images of the sample (`reduced_resolution_metrics`: PSNR over the
    whole cube with peak `max_val`, CC the band-mean correlation, SSIM the
    band-mean SSIM, SAM in degrees, ERGAS with the sample's ratio). With
    `baseline` (the default), `"bicubic"` holds the same five metrics of the
    trivial baseline, the bicubic upsampling of `ms` (the sample's `lms`, or
    `tf.image.resize(ms, method="bicubic")` when it has none), which a trained
    model must beat (a fresh HS-BiNet reproduces it). With `out_dir`, writes
    `larq_hsi.viz.save_pansharpening_figures` PNGs of image `index` and adds their paths under `"figures"`.
    """
    sample = check_sample(sample, ratio, "evaluate_model")
    if "gt" not in sample:
        raise KeyError("evaluate_model: reduced-resolution evaluation needs the reference 'gt' "
                       "(use full_resolution_metrics without one)")
    ratio = ratio_of(sample)
    if isinstance(model_or_prediction, tf.keras.Model):
        prediction = predict(model_or_prediction, sample, batch_size)
    else:
        prediction = np.asarray(model_or_prediction, dtype=np.float32)
    gt = sample["gt"]
    if prediction.shape != gt.shape:
        raise ValueError(f"evaluate_model: prediction shape {prediction.shape} differs from gt {gt.shape}")
    result = reduced_resolution_metrics(gt, prediction, ratio, max_val)
    if baseline:
        result["bicubic"] = reduced_resolution_metrics(gt, _bicubic(sample, ratio), ratio, max_val)
    if out_dir is not None:
        pick = (lambda a: a[index]) if gt.ndim == 4 else (lambda a: a)
        lms = sample.get("lms")
        result["figures"] = viz.save_pansharpening_figures(
            pick(prediction), pick(gt), out_dir, lms=None if lms is None else pick(lms),
            rgb_bands=rgb_bands, error_band=error_band,
        )
    return result


def _bicubic(sample: dict, ratio: int) -> np.ndarray:
    """The sample's `lms`, or `ms` upsampled by `ratio` with bicubic interpolation when it has none."""
    if "lms" in sample:
        return sample["lms"]
    ms = sample["ms"] if sample["ms"].ndim == 4 else sample["ms"][None]
    lms = tf.image.resize(ms, (ms.shape[1] * ratio, ms.shape[2] * ratio), method="bicubic").numpy()
    return (lms if sample["ms"].ndim == 4 else lms[0]).astype(np.float32)


def full_resolution_metrics(model_or_prediction, sample: dict, block_size: int = 32, batch_size: int = 4) -> dict:
    """Table 2's no-reference metrics, means over images: `{"D_lambda", "D_s", "QNR"}` (see `metrics.qnr`)."""
    sample = check_sample(sample, None, "full_resolution_metrics")
    if isinstance(model_or_prediction, tf.keras.Model):
        prediction = predict(model_or_prediction, sample, batch_size)
    else:
        prediction = np.asarray(model_or_prediction, dtype=np.float32)
    values = M.qnr(prediction, sample["ms"], sample["pan"], block_size=block_size)
    return {k: float(np.mean(v)) for k, v in values.items()}
