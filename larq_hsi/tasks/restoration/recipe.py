"""BBCU's training recipe (Sec. 4.1) as a `RunConfig` for `larq_hsi.training.train`.

L1 loss, Adam from 1e-4, the learning rate halved every `halve_every` steps
(200,000 in the paper); batches of 16 192x192 crops for SR, 32 64x64 for
denoising and JPEG deblocking.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers

import tensorflow as tf

from larq_hsi import io
from larq_hsi.models import registry
from larq_hsi.models.bbcu import TASK_CHANNELS
from larq_hsi.tasks.restoration.dataset import load_images, restoration_training_data, sample_images
from larq_hsi.tasks.restoration.evaluate import evaluate_model
from larq_hsi.training.runs import RunConfig

__all__ = ["DEFAULT_LEVEL", "DEFAULT_MODEL", "RestorationConfig", "halving_schedule", "held_out_images"]

def halving_schedule(initial_learning_rate: float = 1e-4, halve_every: int = 200_000):
    r"""The paper's learning rate (Sec. 4.1): \(\eta_t = \eta_0 \cdot 2^{-\lfloor t / N \rfloor}\).

    A Keras `LearningRateSchedule` (`ExponentialDecay` with rate 1/2 and
    `staircase=True`, so it saves with the optimizer). Denoising and
    deblocking: \(\eta_0 = 10^{-4}\), N = 200,000 iterations; SR halves every
    200 epochs (pass N = 200 x steps per epoch).
    """
    if not isinstance(initial_learning_rate, numbers.Real) or not initial_learning_rate > 0:
        raise ValueError(f"initial_learning_rate must be a number > 0, got {initial_learning_rate!r}")
    if not isinstance(halve_every, numbers.Integral) or halve_every < 1:
        raise ValueError(f"halve_every must be a positive number of iterations, got {halve_every!r}")
    return tf.keras.optimizers.schedules.ExponentialDecay(
        float(initial_learning_rate), int(halve_every), 0.5, staircase=True
    )


#: Each task's default degradation level: SR scale 4, noise sigma 25, JPEG quality 10.
DEFAULT_LEVEL = {"sr": 4, "denoise": 25, "jpeg": 10}

#: Each task's default network (a name of `larq_hsi.models.registry`).
DEFAULT_MODEL = {"sr": "bbcu-srresnet-l", "denoise": "bbcu-dncnn", "jpeg": "bbcu-dncnn3"}

#: The paper's crop (HQ side) and batch size per task.
DEFAULT_BATCH = {"sr": (192, 16), "denoise": (64, 32), "jpeg": (64, 32)}


def _images(folder, task):
    if folder is None:
        return sample_images(("astronaut", "coffee"), channels=TASK_CHANNELS[task])
    return load_images(folder, task)


def held_out_images(folder, task) -> list:
    """The evaluation images: a folder's (`load_images`), or scikit-image's photographs not used for training."""
    if folder is None:
        return sample_images(("camera",) if task == "jpeg" else ("chelsea", "rocket"), channels=TASK_CHANNELS[task])
    return load_images(folder, task)


@dataclasses.dataclass(kw_only=True)
class RestorationConfig(RunConfig):
    """Settings of a BBCU restoration run (`task` "sr", "denoise" or "jpeg"); saved in `run.json`.

    `level` is the SR scale, noise sigma or JPEG quality (default per task,
    `DEFAULT_LEVEL`); `model` a registry name of the task (default
    `DEFAULT_MODEL`); `data` a folder of images (`None`: scikit-image's
    bundled photographs); `test_data` a folder of held-out images to score
    the trained model on (`None`: other bundled photographs when `data` is
    `None`, else no evaluation). `crop_size`/`batch_size` default to the paper's.
    """

    task: str = "denoise"
    out_dir: str = "runs/bbcu"
    model: str | None = None
    level: int | None = None
    data: str | None = None
    test_data: str | None = None
    crop_size: int | None = None
    batch_size: int | None = None
    epochs: int = 300
    steps_per_epoch: int | None = 100
    learning_rate: float = 1e-4
    halve_every: int = 200_000

    def __post_init__(self):
        task = self.task
        if task not in DEFAULT_LEVEL:
            raise ValueError(f"restoration task must be one of {tuple(DEFAULT_LEVEL)}, got {task!r}")
        self.level = DEFAULT_LEVEL[task] if self.level is None else self.level
        self.model = DEFAULT_MODEL[task] if self.model is None else self.model
        if self.model not in registry.names(task):
            raise ValueError(f"unknown {task} model {self.model!r}; expected one of {registry.names(task)}")
        crop, batch = DEFAULT_BATCH[task]
        self.crop_size = crop if self.crop_size is None else self.crop_size
        self.batch_size = batch if self.batch_size is None else self.batch_size

    def build_model(self) -> tf.keras.Model:
        if self.task == "sr":
            return registry.build(self.model, input_size=None, scale=self.level)
        if self.task == "denoise":  # the colour DnCNN on colour images, the grey one on grey ones
            return registry.build(self.model, input_size=None, channels=self._images[0].shape[-1])
        return registry.build(self.model, input_size=None)

    @functools.cached_property
    def _images(self) -> list:
        return _images(self.data, self.task)

    def training_data(self) -> tf.data.Dataset:
        return restoration_training_data(self._images, self.task,
                                         self.level, crop_size=self.crop_size, batch_size=self.batch_size,
                                         seed=self.seed)

    def compile(self, model: tf.keras.Model) -> None:
        schedule = halving_schedule(self.learning_rate, max(1, self.halve_every))
        model.compile(optimizer=tf.keras.optimizers.legacy.Adam(schedule), loss="mae")

    def evaluate(self, model: tf.keras.Model) -> dict | None:
        if self.test_data is None and self.data is not None:  # a training folder holds no held-out images
            return None
        names = None if self.test_data is None else [f.name for f in io.image_files(self.test_data)]
        return evaluate_model(model, held_out_images(self.test_data, self.task), self.task, self.level,
                              names=names)
