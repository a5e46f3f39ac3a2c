"""The evaluation conventions of BBCU's Tables 1-3: Y-channel, RGB and grayscale PSNR/SSIM.

`y_channel`, `psnr_y`, `ssim_y`, `task_psnr`/`task_ssim` for a task, and
`evaluate_model`, a model scored on whole images with them.
"""

from __future__ import annotations

import numbers

import numpy as np
import tensorflow as tf

from larq_hsi import metrics
from larq_hsi.io import GRAY_WEIGHTS
from larq_hsi.tasks.restoration.dataset import evaluation_pairs
from larq_hsi.tasks.restoration.degrade import check_scale, check_task, image_tensor, quantize_8bit
from larq_hsi.tasks.restoration.imresize import imresize

__all__ = ["BASELINES", "evaluate_model", "psnr_y", "ssim_y", "task_psnr", "task_ssim", "y_channel"]

_Y_WEIGHTS = (65.481, 128.553, 24.966)  # MATLAB rgb2ycbcr, for RGB in [0, 1] and Y in [0, 255]


def y_channel(image):
    r"""The Y channel of YCbCr (ITU-R BT.601, MATLAB's `rgb2ycbcr`), in `[16/255, 235/255]`.

    \(Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255\) for RGB in `[0, 1]`;
    keeps a channel axis of 1. Grayscale input (one channel) is returned as is.
    """
    image = image_tensor(image, "y_channel")
    if image.shape[-1] == 1:
        return image
    if image.shape[-1] != 3:
        raise ValueError(f"y_channel: expected 1 or 3 channels, got shape {image.shape}")
    weights = tf.constant(_Y_WEIGHTS, image.dtype)
    y = tf.tensordot(image, weights, axes=[[-1], [0]])
    return ((y + 16.0) / 255.0)[..., None]


def _crop_border(image, border):
    if not isinstance(border, numbers.Integral) or border < 0:
        raise ValueError(f"crop_border must be an integer >= 0, got {border!r}")
    if border == 0:
        return image
    return image[..., border:-border, border:-border, :]


def _evaluation_inputs(y_true, y_pred, crop_border, quantize, space):
    y_true = image_tensor(y_true, "evaluation: y_true")
    y_pred = image_tensor(y_pred, "evaluation: y_pred")
    dtype = tf.float64
    y_true, y_pred = tf.cast(y_true, dtype), tf.cast(y_pred, dtype)
    if quantize:
        y_true, y_pred = quantize_8bit(y_true), quantize_8bit(y_pred)
    if space == "y":
        y_true, y_pred = y_channel(y_true), y_channel(y_pred)
    elif space == "gray" and y_true.shape[-1] == 3:
        weights = tf.constant(GRAY_WEIGHTS, dtype)
        y_true, y_pred = (tf.tensordot(t, weights, axes=[[-1], [0]])[..., None] for t in (y_true, y_pred))
    return _crop_border(y_true, crop_border), _crop_border(y_pred, crop_border)


def psnr_y(y_true, y_pred, crop_border: int = 0, quantize: bool = True):
    """PSNR (dB, peak 1) on the Y channel after cropping `crop_border` pixels (SR: the scale).

    With `quantize` both images are first rounded to 8 bits, as saved
    results are (BasicSR's `calculate_psnr(..., test_y_channel=True)`).
    One value per image (a scalar for `(H, W, C)`, `(B,)` for a batch).
    """
    t, p = _evaluation_inputs(y_true, y_pred, crop_border, quantize, "y")
    return metrics.psnr(t, p, max_val=1.0)


def ssim_y(y_true, y_pred, crop_border: int = 0, quantize: bool = True):
    """SSIM (`larq_hsi.metrics.ssim`, Gaussian 11x11) on the Y channel after cropping `crop_border` pixels."""
    t, p = _evaluation_inputs(y_true, y_pred, crop_border, quantize, "y")
    return metrics.ssim(t, p, max_val=1.0)


def _task_space(task, scale):
    task = check_task(task)
    if task == "sr":
        return "y", check_scale(scale)
    return ("rgb" if task == "denoise" else "gray"), 0


def task_psnr(task: str, y_true, y_pred, scale: int | None = None, quantize: bool = True):
    """The PSNR of the paper's tables: Y channel with `scale` border cropped for "sr",
    RGB for "denoise", grayscale (luma) for "jpeg"."""
    space, border = _task_space(task, scale)
    t, p = _evaluation_inputs(y_true, y_pred, border, quantize, space)
    return metrics.psnr(t, p, max_val=1.0)


def task_ssim(task: str, y_true, y_pred, scale: int | None = None, quantize: bool = True):
    """The SSIM counterpart of `task_psnr` (mean over channels for RGB)."""
    space, border = _task_space(task, scale)
    t, p = _evaluation_inputs(y_true, y_pred, border, quantize, space)
    return metrics.ssim(t, p, max_val=1.0)


#: Each task's trivial baseline, scored as a model would be: bicubic upscaling of the LR
#: image (MATLAB's `imresize`, rounded to 8 bits), or the degraded input itself.
BASELINES = {"bicubic": "sr", "noisy": "denoise", "jpeg": "jpeg"}


def _baseline(name, task, level):
    if BASELINES.get(name) != task:
        raise ValueError(f"the {task} task's baseline is {[b for b, t in BASELINES.items() if t == task][0]!r}, "
                         f"not {name!r}")
    if name == "bicubic":
        return lambda lr: quantize_8bit(imresize(lr, scale=level)).numpy()
    return lambda degraded: degraded


def evaluate_model(model, images, task: str, level, seed: int = 0, names=None) -> dict:
    """Per-image and mean PSNR/SSIM of `model` on `images` degraded for `task` at `level`.

    `model`: a Keras model, or a baseline name of `BASELINES` ("bicubic" for
    "sr", "noisy" for "denoise", "jpeg" for "jpeg"). The tables' conventions
    (`task_psnr`, `task_ssim`): both images rounded to 8 bits, Y channel with
    `level` border pixels shaved for "sr", RGB for "denoise", grayscale for
    "jpeg"; predictions are clipped to [0, 1]. Noise is seeded per image from
    `seed`. Returns `{"images": [{"image", "psnr", "ssim"}], "mean": {"psnr", "ssim"}}`;
    `names` label the images (default 0, 1, ...).
    """
    check_task(task)
    if isinstance(model, str):
        restore = _baseline(model, task, level)
    else:
        expected = model.inputs[0].shape[-1]
        channels = {np.asarray(im).shape[-1] for im in images}
        if channels != {expected}:
            raise ValueError(f"the model takes {expected}-channel images, got images with {sorted(channels)} "
                             "channel(s)")
        restore = lambda degraded: model.predict(degraded[None], verbose=0)[0]  # noqa: E731
    names = list(range(len(images))) if names is None else list(names)
    rows = []
    for name, (degraded, clean) in zip(names, evaluation_pairs(images, task, level, seed=seed)):
        restored = np.clip(restore(degraded), 0, 1)
        scale = level if task == "sr" else None
        rows.append({"image": name,
                     "psnr": float(task_psnr(task, clean, restored, scale=scale)),
                     "ssim": float(task_ssim(task, clean, restored, scale=scale))})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim")}
    return {"images": rows, "mean": mean}
