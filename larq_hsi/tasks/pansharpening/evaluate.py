"""Scoring pan-sharpening: HS-BiNet Table 1's reduced-resolution metrics and Table 2's no-reference ones.

`evaluate_model` gives PSNR, CC, SSIM, SAM (degrees) and ERGAS and writes
Fig. 8-style PNGs (`larq_hsi.viz.save_pansharpening_figures`);
`full_resolution_metrics` gives D_lambda, D_s and QNR.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from larq_hsi import metrics as M
from larq_hsi import viz
from larq_hsi.tasks.pansharpening.dataset import check_sample, ratio_of

__all__ = ["evaluate_model", "full_resolution_metrics", "predict"]


def predict(model: tf.keras.Model, sample: dict, batch_size: int = 4) -> np.ndarray:
    """The model's output for a sample (one image or a stack), same batching as the input."""
    sample = check_sample(sample, None, "predict")
    single = sample["ms"].ndim == 3
    ms = sample["ms"][None] if single else sample["ms"]
    pan = sample["pan"][None] if single else sample["pan"]
    out = model.predict([ms, pan], batch_size=batch_size, verbose=0)
    return out[0] if single else out


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
) -> dict:
    """Table 1's metrics of a model (or of precomputed predictions) on a reduced-resolution sample.

    Returns `{"PSNR", "CC", "SSIM", "SAM", "ERGAS"}` as floats, each the mean
    over the images of the sample (PSNR over the whole cube with peak
    `max_val`, CC the band-mean correlation, SSIM the band-mean SSIM, SAM in
    degrees, ERGAS with the sample's ratio). With `out_dir`, writes
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
        result["figures"] = viz.save_pansharpening_figures(
            pick(prediction), pick(gt), out_dir, lms=None if lms is None else pick(lms),
            rgb_bands=rgb_bands, error_band=error_band,
        )
    return result


def full_resolution_metrics(model_or_prediction, sample: dict, block_size: int = 32, batch_size: int = 4) -> dict:
    """Table 2's no-reference metrics, means over images: `{"D_lambda", "D_s", "QNR"}` (see `metrics.qnr`)."""
    sample = check_sample(sample, None, "full_resolution_metrics")
    if isinstance(model_or_prediction, tf.keras.Model):
        prediction = predict(model_or_prediction, sample, batch_size)
    else:
        prediction = np.asarray(model_or_prediction, dtype=np.float32)
    values = M.qnr(prediction, sample["ms"], sample["pan"], block_size=block_size)
    return {k: float(np.mean(v)) for k, v in values.items()}
