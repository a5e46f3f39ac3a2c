"""Training and evaluation of CASSI reconstruction models, as the CLI runs them.

The recipe is BiSRNet's (Sec. 4.1): RMSE loss, Adam (beta1 0.9, beta2 0.999)
with cosine annealing, random 256x256 crops with flips and rotations, batch
2, shifting step 2. The learning rate the paper leaves open; 4e-4 annealed to
1e-6 is the reference code's setting. Training writes, under its output folder:

    checkpoints/   BackupAndRestore state (an interrupted run resumes from it)
    log.csv        per-epoch loss and learning rate (CSVLogger)
    tensorboard/   TensorBoard logs
    savedmodel/    the final model, reloadable without custom_objects (reloaded and
                   checked to predict identically before the run ends)
    run.json       the settings and the final metrics
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from larq_hsi import cassi, data, metrics
from larq_hsi import models as hsi_models
from larq_hsi.checks import check_finite

__all__ = [
    "CASSI_MODELS",
    "TrainConfig",
    "build_cassi_model",
    "evaluate_cassi",
    "load_scenes",
    "rmse",
    "train_cassi",
]

CASSI_MODELS = {
    "bisrnet": lambda **kw: hsi_models.BiSRNet(**kw),
    "bisrnet-ungrouped": lambda **kw: hsi_models.BiSRNet(ff_groups=1, **kw),
    "bisr-base": lambda **kw: hsi_models.BiSRBaseModel(**kw),
    # BiSRNet's backbone with each BNN method of its Table 1 ("unet-bnn", "unet-irnet", ...).
    **{f"unet-{m}": (lambda m: lambda **kw: hsi_models.BinarizedUNet(m, **kw))(m)
       for m in hsi_models.METHODS},
}


def rmse(y_true, y_pred):
    """The BiSRNet training loss: root mean squared error over the whole batch."""
    return tf.sqrt(tf.reduce_mean(tf.square(y_true - y_pred)))


def build_cassi_model(name: str = "bisrnet", input_size=None, **kwargs) -> tf.keras.Model:
    """A CASSI reconstruction model by name (see `CASSI_MODELS`)."""
    if name not in CASSI_MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(CASSI_MODELS)}")
    return CASSI_MODELS[name](input_size=input_size, **kwargs)


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run; saved as `run.json` next to the model."""

    out_dir: str = "runs/bisrnet"
    model: str = "bisrnet"
    data: str | None = None  # a folder of cubes; None for the synthetic default
    synthetic_scenes: int = 8
    synthetic_size: int = 256
    mask: str | None = None  # a mask file; None for a seeded random mask
    crop_size: int = 256
    batch_size: int = 2
    epochs: int = 300
    steps_per_epoch: int = 100
    learning_rate: float = 4e-4
    final_learning_rate: float = 1e-6
    seed: int = 0
    shot_noise: bool = False
    validation_scenes: int = 2


def load_scenes(folder: str | None, count: int, size: int, seed: int, bands: int = 28):
    """Cubes from a folder (every readable file or PNG folder in it), or synthetic ones."""
    if folder is None:
        return data.synthetic_scenes(count, size=size, bands=bands, seed=seed)
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"data folder not found: {root}")
    entries = sorted(p for p in root.iterdir() if p.is_dir() or p.suffix.lower() in
                     (".mat", ".npy", ".npz", ".h5", ".hdf5"))
    if not entries:
        raise ValueError(f"no cubes (.mat/.npy/.npz/.h5 files or PNG folders) found in {root}")
    return [data.load_cube(p, expected_bands=bands) for p in entries]


def _mask(path: str | None, size: int, seed: int) -> np.ndarray:
    if path is None:
        return cassi.random_mask((size, size), seed=seed)
    return cassi.load_mask(path)


def _cosine(config: TrainConfig):
    steps = max(1, config.epochs * config.steps_per_epoch)
    return tf.keras.optimizers.schedules.CosineDecay(
        config.learning_rate, steps, alpha=config.final_learning_rate / config.learning_rate
    )


def evaluate_cassi(model: tf.keras.Model, cubes, mask, batch: int = 1) -> dict:
    """Per-scene and mean PSNR (whole cube and the papers' 8-bit per-band) and SSIM.

    Each cube is measured through `mask` (cropped to the cube's size), shifted
    back and reconstructed by `model` (simulation inputs `[H, Phi]`).
    """
    rows = []
    for index, cube in enumerate(cubes):
        cube = np.asarray(cube, np.float32)
        check_finite(cube, f"test cube {index}")
        h, w = cube.shape[:2]
        if mask.shape[0] < h or mask.shape[1] < w:
            raise ValueError(f"the mask {mask.shape} is smaller than test cube {index} {cube.shape[:2]}")
        sim = cassi.simulate(cube[None], mask[:h, :w])
        pred = model.predict([sim.H, sim.Phi], batch_size=batch, verbose=0)[0]
        rows.append({
            "scene": index,
            "psnr": float(metrics.psnr(cube, pred)),
            "psnr_8bit": float(metrics.psnr_per_band_8bit(cube, np.clip(pred, 0, 1), scale=256)),
            "ssim": float(metrics.ssim(cube, np.clip(pred, 0, 1))),
        })
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "psnr_8bit", "ssim")}
    return {"scenes": rows, "mean": mean}


def train_cassi(config: TrainConfig, verbose: int = 1) -> dict:
    """Train a CASSI model as configured; returns the run summary written to `run.json`."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(config.seed)
    logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

    scenes = load_scenes(config.data, config.synthetic_scenes + config.validation_scenes,
                         config.synthetic_size, config.seed)
    if config.data is None:
        train_scenes, validation = scenes[: config.synthetic_scenes], scenes[config.synthetic_scenes :]
    else:
        train_scenes, validation = scenes, []
    mask_size = max(config.crop_size, max(s.shape[0] for s in scenes), max(s.shape[1] for s in scenes))
    mask = _mask(config.mask, mask_size, config.seed)
    dataset = data.training_dataset(
        train_scenes, mask[: config.crop_size, : config.crop_size] if config.mask is None else mask,
        crop_size=config.crop_size, batch_size=config.batch_size, seed=config.seed,
        shot_noise=config.shot_noise, mask_mode="fixed" if config.mask is None else "crop",
    )

    model = build_cassi_model(config.model, input_size=None)
    # The legacy Adam applies one fused op per variable: for BiSRNet's ~900
    # variables it traces in about half the time of the new Keras Adam on CPU.
    optimizer = tf.keras.optimizers.legacy.Adam(_cosine(config), beta_1=0.9, beta_2=0.999)
    model.compile(optimizer=optimizer, loss=rmse)
    method = config.model.removeprefix("unet-") if config.model.startswith("unet-") else None
    callbacks = [
        *(hsi_models.method_callbacks(method, config.epochs) if method else []),
        tf.keras.callbacks.BackupAndRestore(str(out / "checkpoints")),
        tf.keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
        tf.keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False),
    ]
    started = time.time()
    history = model.fit(dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
                        callbacks=callbacks, verbose=verbose)
    train_seconds = time.time() - started

    saved = out / "savedmodel"
    model.save(str(saved), save_traces=False)
    reloaded = tf.keras.models.load_model(str(saved), compile=False)
    (sample_inputs, _), = dataset.take(1)
    difference = float(np.max(np.abs(
        reloaded.predict(sample_inputs, verbose=0) - model.predict(sample_inputs, verbose=0)
    )))
    if difference != 0.0:
        raise RuntimeError(f"the reloaded SavedModel predicts differently (max |diff| {difference})")
    summary = {
        "config": dataclasses.asdict(config),
        "final_loss": float(history.history["loss"][-1]) if history.history.get("loss") else None,
        "train_seconds": round(train_seconds, 1),
        "savedmodel": str(saved),
        "savedmodel_reload_max_abs_diff": difference,
    }
    if validation:
        summary["validation"] = evaluate_cassi(model, validation, mask)
    (out / "run.json").write_text(json.dumps(summary, indent=2))
    return summary
