"""HS-BiNet's training recipe (Appendix A.2) as a `RunConfig` for `larq_hsi.training.train`.

L1 loss, Adam (1e-3) with coupled weight decay 1e-5 on the weights only,
cosine warm restarts (T0 = 50 epochs, T_mult = 2, floor 1e-5), batch 4, no
augmentation. Without `data` the run trains on synthetic samples and
evaluates on two held-out synthetic samples; with a folder of cubes (the CAVE
database, say) it simulates samples by Wald's protocol, trains on all but the
last two and evaluates on those, beside the bicubic upsampling.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import tensorflow as tf

from larq_hsi import io
from larq_hsi import metrics as M
from larq_hsi.models import registry
from larq_hsi.tasks.pansharpening.dataset import (
    extract_patches,
    load_pansharpening,
    load_pansharpening_scenes,
    pansharpening_training_data,
    ratio_of,
    synthetic_pansharpening,
)
from larq_hsi.tasks.pansharpening.evaluate import evaluate_model
from larq_hsi.training import optim
from larq_hsi.training.runs import RunConfig

__all__ = ["PansharpeningConfig", "compile_for_pansharpening", "l1_loss"]


def l1_loss(y_true, y_pred):
    r"""The paper's reconstruction loss (Eq. 7) as PyTorch's `L1Loss`: \(\mathrm{mean}|x - x_{gt}|\)."""
    return tf.reduce_mean(tf.abs(tf.cast(y_true, y_pred.dtype) - y_pred))


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


@dataclasses.dataclass(kw_only=True)
class PansharpeningConfig(RunConfig):
    """Settings of an HS-BiNet run; saved in `run.json` next to the model.

    `data`: `None` (`scenes` synthetic samples of `scene_size` with `bands`
    bands), a `.mat`/`.h5` file with `gt`/`ms`/`lms`/`pan` (trained on whole,
    nothing held out), or a folder of cubes (`larq_hsi.io.scene_entries`:
    `.mat`/`.npy`/`.npz`/`.h5` files or per-band PNG folders, the CAVE
    database as downloaded included), each simulated by Wald's protocol at
    ratio 4 (`dataset.load_pansharpening_scenes`: native band count, PAN from
    the cube's wavelengths where known, every cube centre-cropped to the
    smallest common size). `validation_scenes` are held out and scored after
    training beside the bicubic upsampling (`evaluate.evaluate_model`):
    synthetic, that many more samples (2 by default); a folder, its last
    `validation_scenes` cubes in name order (2 by default; at least one cube
    must be left to train on); a file, none (only 0 is accepted). The model's
    band count comes from the data (`bands` sets the synthetic samples' only).
    `crop_size`: the PAN-size side of training patches (`None`: whole images;
    a multiple of 4). `steps_per_epoch=None` (the default) passes over all
    patches each epoch.
    """

    task = "pansharpening"

    out_dir: str = "runs/hsbinet"
    model: str = "hsbinet"
    unit: str = "atiste"
    data: str | None = None
    scenes: int = 8
    scene_size: int = 256
    bands: int = 31
    crop_size: int | None = None
    batch_size: int = 4
    epochs: int = 300
    steps_per_epoch: int | None = None
    learning_rate: float = 1e-3
    validation_scenes: int | None = None

    def __post_init__(self):
        if self.model not in registry.names("pansharpening"):
            raise ValueError(f"unknown pan-sharpening model {self.model!r}; "
                             f"expected one of {registry.names('pansharpening')}")
        if self.validation_scenes is not None and self.validation_scenes < 0:
            raise ValueError(f"validation_scenes must be >= 0, got {self.validation_scenes}")

    @property
    def _data_is_folder(self) -> bool:
        return self.data is not None and Path(self.data).is_dir()

    @property
    def _held_out_count(self) -> int:
        if self.validation_scenes is not None:
            return self.validation_scenes
        return 2 if self.data is None or self._data_is_folder else 0

    @functools.cached_property
    def _samples(self) -> tuple[dict, dict | None]:
        """(training patches, held-out samples or None)."""
        held = self._held_out_count
        if self.data is None:
            train = synthetic_pansharpening(self.scenes, size=self.scene_size, bands=self.bands, seed=self.seed)
            held_out = (synthetic_pansharpening(held, size=self.scene_size, bands=self.bands,
                                                seed=self.seed + 10_000) if held else None)
        elif self._data_is_folder:
            entries = io.scene_entries(self.data)
            if held >= len(entries):
                raise ValueError(f"validation_scenes={held} leaves no training scene: {self.data} holds "
                                 f"{len(entries)} cube(s)")
            sample = load_pansharpening_scenes(entries)
            cut = len(entries) - held
            train = {k: v[:cut] for k, v in sample.items()}
            held_out = {k: v[cut:] for k, v in sample.items()} if held else None
        else:
            if held:
                raise ValueError(f"validation_scenes={held}: {self.data} is a file of samples, trained on "
                                 "whole; hold out scenes from a folder of cubes instead")
            train, held_out = load_pansharpening(self.data), None
        if self.crop_size is not None:
            train = extract_patches(train, crop_size=self.crop_size)
        return train, held_out

    def build_model(self) -> tf.keras.Model:
        train, _ = self._samples
        # Patches train a model for any size, so the held-out whole images can be scored.
        size = None if self.crop_size is not None else train["ms"].shape[1:3]
        return registry.build(self.model, input_size=size, bands=train["ms"].shape[-1],
                              ratio=ratio_of(train), unit=self.unit, seed=self.seed)

    def training_data(self) -> tf.data.Dataset:
        data = pansharpening_training_data(self._samples[0], self.batch_size, shuffle=True, seed=self.seed)
        # Keras restarts a finite dataset each epoch only when steps_per_epoch is its length; otherwise it
        # runs out and stops early. Repeated, every epoch gets steps_per_epoch batches (reshuffled each pass).
        return data if self.steps_per_epoch is None else data.repeat()

    def compile(self, model: tf.keras.Model) -> None:
        train, _ = self._samples
        steps = self.steps_per_epoch or -(-len(train["ms"]) // self.batch_size)
        compile_for_pansharpening(model, steps, ratio=ratio_of(train), learning_rate=self.learning_rate)

    def evaluate(self, model: tf.keras.Model) -> dict | None:
        held_out = self._samples[1]
        return None if held_out is None else evaluate_model(model, held_out, out_dir=self.out_dir)
