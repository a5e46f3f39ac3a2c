"""Pan-sharpening samples: read from files, simulated from synthetic scenes, cut into patches, batched.

Readers: `load_pansharpening` reads the HyperPanCollection/PanCollection
layout (`.mat` or `.h5` with `gt`, `ms`, `lms`, `pan`; PyTorch's `(N, C, H, W)`
or channels-last). `load_pansharpening_scenes` simulates samples by Wald's
protocol from a folder of raw cubes (any `larq_hsi.io.load_cube` format, the
CAVE database as downloaded included). `synthetic_pansharpening` simulates from
`larq_hsi.synthetic.synthetic_scenes` (a synthetic stand-in, not a benchmark).
Training pairs are `((ms, pan), gt)` (`pansharpening_training_data`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from larq_hsi import io
from larq_hsi.spectra import wavelengths_for
from larq_hsi.synthetic import synthetic_scenes
from larq_hsi.tasks.pansharpening.simulate import KEYS, simulate

__all__ = [
    "check_sample",
    "extract_patches",
    "load_pansharpening",
    "load_pansharpening_scenes",
    "pansharpening_training_data",
    "ratio_of",
    "synthetic_pansharpening",
]


def ratio_of(sample: dict) -> int:
    return sample["pan"].shape[-3] // sample["ms"].shape[-3]


def check_sample(sample: dict, ratio: int | None, where) -> dict:
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
            arrays[key] = np.asarray(io.read_array(path, key=key), dtype=np.float64)
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
    sample = check_sample(sample, ratio, path)
    if "lms" not in sample:
        r = ratio_of(sample)
        ms = sample["ms"] if sample["ms"].ndim == 4 else sample["ms"][None]
        lms = tf.image.resize(ms, (ms.shape[1] * r, ms.shape[2] * r), method="bicubic").numpy()
        sample["lms"] = (lms if sample["ms"].ndim == 4 else lms[0]).astype(np.float32)
    return sample


def _centre_crop(cube: np.ndarray, height: int, width: int) -> np.ndarray:
    top, left = (cube.shape[0] - height) // 2, (cube.shape[1] - width) // 2
    return cube[top : top + height, left : left + width]


def load_pansharpening_scenes(
    folder,
    ratio: int = 4,
    crop: int | None = None,
    key: str | None = None,
    scale="auto",
    **simulate_kwargs,
) -> dict:
    r"""Wald's-protocol samples simulated from every cube of a folder, stacked `(N, h, w, B)`.

    `folder`: a folder of cubes (`larq_hsi.io.scene_entries`: `.mat`/`.npy`/
    `.npz`/`.h5` files and folders of per-band PNGs, the CAVE database as
    downloaded included, in name order), or a sequence of such paths. Each
    cube \(X\) `(H, W, B)` is read by `larq_hsi.io.load_cube` (`key`,
    `scale`) with its own band count \(B\), which must be the same for every
    cube, and is simulated by `simulate.simulate` (`ratio` \(s\), `**simulate_kwargs`):

    - `gt` \(= X\), `ms` \(= \downarrow_s(G_\sigma * X)\) (Gaussian MTF blur, decimation by \(s\)),
      `lms` \(= \mathrm{bicubic}_s(\texttt{ms})\);
    - `pan` \(P = \sum_b r_b X_b\) with `simulate.default_spectral_response`: where the cube
      knows its wavelengths \(\lambda_b\) (`larq_hsi.io.cube_wavelengths`: a CAVE folder,
      \(\lambda_n = 400 + 10(n - 1)\) nm), \(r_b \propto [450 \le \lambda_b \le 900\,\mathrm{nm}]\)
      (CAVE: the 26 bands from 450 to 700 nm, each \(1/26\)); otherwise \(r_b = 1/B\). A
      `wavelengths=` or `srf=` in `simulate_kwargs` applies to every cube instead.

    Sizes: with `crop` (a positive multiple of \(s\), at most the smallest
    cube), the centre `crop` x `crop` window of every cube; without, every cube
    is centre-cropped to the smallest height and the smallest width among the
    cubes, each rounded down to a multiple of \(s\): cubes of one size whose
    sides are multiples of \(s\) (CAVE's 512 x 512) are kept whole. The centre
    \(h \times w\) window of an \(H \times W\) cube starts at
    \((\lfloor (H - h)/2 \rfloor, \lfloor (W - w)/2 \rfloor)\).

    Returns `{"gt", "ms", "lms", "pan"}` stacks, `gt`/`lms` `(N, h, w, B)`,
    `ms` `(N, h/s, w/s, B)`, `pan` `(N, h, w, 1)`, float32, in the order of
    the cubes. Raises `ValueError` (one line, naming the file where there is
    one) for a folder without cubes, band counts that differ, a `crop` that is
    not a positive multiple of the ratio or larger than a cube, or a cube
    smaller than the ratio; the readers' errors otherwise.
    """
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        raise ValueError(f"ratio must be an integer >= 1, got {ratio!r}")
    if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < ratio or crop % ratio):
        raise ValueError(f"crop must be a positive multiple of the ratio {ratio}, got {crop!r}")
    if isinstance(folder, (str, os.PathLike)):
        entries = io.scene_entries(folder)
    else:
        entries = [Path(p) for p in folder]
        if not entries:
            raise ValueError("load_pansharpening_scenes: no cube paths given")
    cubes = []
    for path in entries:
        cube = io.load_cube(path, key=key, scale=scale)
        if cubes and cube.shape[-1] != cubes[0].shape[-1]:
            raise ValueError(f"{path}: {cube.shape[-1]} bands, but {entries[0]} has {cubes[0].shape[-1]}; "
                             "every cube of a pan-sharpening folder must have the same band count")
        if crop is not None and min(cube.shape[:2]) < crop:
            raise ValueError(f"{path}: the cube ({cube.shape[0]}x{cube.shape[1]}) is smaller than crop {crop}")
        cubes.append(cube if crop is None else _centre_crop(cube, crop, crop))
    if crop is not None:
        height = width = crop
    else:
        height = min(c.shape[0] for c in cubes) // ratio * ratio
        width = min(c.shape[1] for c in cubes) // ratio * ratio
        if height == 0 or width == 0:
            smallest = min(range(len(cubes)), key=lambda i: min(cubes[i].shape[:2]))
            raise ValueError(f"{entries[smallest]}: the cube ({cubes[smallest].shape[0]}x"
                             f"{cubes[smallest].shape[1]}) is smaller than the ratio {ratio}")
    override = "wavelengths" in simulate_kwargs or "srf" in simulate_kwargs
    samples = []
    for path, cube in zip(entries, cubes):
        kwargs = dict(simulate_kwargs)
        if not override:
            kwargs["wavelengths"] = io.cube_wavelengths(path)
        samples.append(simulate(_centre_crop(cube, height, width), ratio=ratio, **kwargs))
    return {k: np.stack([s[k] for s in samples]) for k in KEYS}


def extract_patches(sample: dict, crop_size: int = 64, stride: int | None = None, ratio: int | None = None) -> dict:
    """Aligned training patches: `crop_size` at high resolution, `crop_size / ratio` at low.

    `sample`: a dict of `KEYS` (one image or a stack); `stride` (high-resolution
    pixels, default `crop_size`: no overlap) must be a multiple of the ratio,
    which is read from the sample (checked against `ratio` if given). The
    default 64 / 16 are the paper's WDC/Botswana patches. Returns a dict of
    stacks `(N, ...)`; `lms` is included when present.
    """
    sample = check_sample(sample, ratio, "extract_patches")
    r = ratio_of(sample)
    stride = crop_size if stride is None else stride
    if crop_size % r or stride % r or crop_size < r or stride < 1:
        raise ValueError(
            f"extract_patches: crop_size ({crop_size}) and stride ({stride}) must be positive multiples "
            f"of the ratio {r}"
        )
    stack = {k: (v if v.ndim == 4 else v[None]) for k, v in sample.items()}
    height, width = stack["pan"].shape[1:3]
    if height < crop_size or width < crop_size:
        raise ValueError(f"extract_patches: the image ({height}x{width}) is smaller than crop_size {crop_size}")
    out = {k: [] for k in stack}
    small = crop_size // r
    for n in range(stack["pan"].shape[0]):
        for i in range(0, height - crop_size + 1, stride):
            for j in range(0, width - crop_size + 1, stride):
                for k, v in stack.items():
                    if k == "ms":
                        out[k].append(v[n, i // r : i // r + small, j // r : j // r + small])
                    else:
                        out[k].append(v[n, i : i + crop_size, j : j + crop_size])
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def synthetic_pansharpening(
    count: int = 4,
    size: int = 128,
    bands: int = 31,
    ratio: int = 4,
    seed: int = 0,
    **simulate_kwargs,
) -> dict:
    """`count` synthetic scenes (`larq_hsi.synthetic.synthetic_scenes`, 450-650 nm) simulated by `simulate`.

    A seeded stand-in for demos, tests and the estimator benchmark; says
    nothing about accuracy on real data. Returns stacks `(count, ...)`.
    """
    scenes = np.stack(synthetic_scenes(count, size=size, bands=bands, seed=seed))
    simulate_kwargs.setdefault("wavelengths", wavelengths_for(bands))
    return simulate(scenes, ratio=ratio, **simulate_kwargs)


def pansharpening_training_data(sample: dict, batch_size: int = 4, shuffle: bool = True, seed: int = 0,
                 drop_remainder: bool = False) -> tf.data.Dataset:
    """A `tf.data` pipeline of `((ms, pan), gt)` batches from stacked patches; no augmentation.

    Shuffling is seeded and reshuffles every epoch (deterministically).
    """
    sample = check_sample(sample, None, "pansharpening_training_data")
    if "gt" not in sample:
        raise KeyError("pansharpening_training_data: training needs the reference 'gt'")
    if sample["ms"].ndim != 4:
        raise ValueError(f"pansharpening_training_data: expected stacks (N, H, W, C), got ms {sample['ms'].shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    data = tf.data.Dataset.from_tensor_slices(((sample["ms"], sample["pan"]), sample["gt"]))
    if shuffle:
        data = data.shuffle(len(sample["ms"]), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
