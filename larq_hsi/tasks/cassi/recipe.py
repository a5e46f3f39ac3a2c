"""BiSRNet's training recipe (Sec. 4.1) as a `RunConfig` for `larq_hsi.training.train`.

RMSE loss, Adam (beta1 0.9, beta2 0.999) with cosine annealing, random
256x256 crops with flips and rotations, batch 2, shifting step 2. The
learning rate the paper leaves open; 4e-4 annealed to 1e-6 is the reference
code's setting. Without `data` the run trains on synthetic scenes and
evaluates on held-out synthetic scenes. `variant="real"` trains the
real-system network (`bisrnet-real`, Sec. 4.3): no mask input, random
windows of the (660x660) mask, 11-bit shot noise on the scaled measurement.

    from larq_hsi import training
    from larq_hsi.tasks.cassi.recipe import CassiConfig
    run = training.train(CassiConfig(out_dir="runs/x", epochs=2, steps_per_epoch=10, crop_size=64))
    run = training.train(CassiConfig(out_dir="runs/r", variant="real", mask="mask_real_660.mat", crop_size=64))
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from larq_hsi import io
from larq_hsi.models import registry
from larq_hsi.models.bisrnet import start_at_input
from larq_hsi.models.pretrained import PUBLISHED
from larq_hsi.synthetic import LAYOUTS
from larq_hsi.tasks.cassi import physics
from larq_hsi.tasks.cassi.dataset import SYNTHETIC_LAYOUT, cassi_training_data, load_scenes
from larq_hsi.tasks.cassi.evaluate import evaluate_model
from larq_hsi.training import optim
from larq_hsi.training.callbacks import EDESchedule
from larq_hsi.training.runs import RunConfig

__all__ = ["CassiConfig", "REAL_MASK_SIZE", "START", "STARTS", "VARIANT_MODELS", "rmse"]

#: The starts of `CassiConfig.init` that are not published weights.
STARTS = ("reference", "input")
#: The start of a run that gives no `init` (see docs/cassi.md, "Training on CAVE").
START = "input"
#: The model of each `CassiConfig.variant` when `model` is not given; the real variant trains only this one.
VARIANT_MODELS = {"simulation": "bisrnet", "real": "bisrnet-real"}
#: The side of the real system's mask (`mask_real_660.mat`); without `mask`, the real
#: variant draws a seeded random stand-in of this size (or of the scenes', if larger).
REAL_MASK_SIZE = 660


def rmse(y_true, y_pred):
    """The BiSRNet training loss: root mean squared error over the whole batch."""
    return tf.sqrt(tf.reduce_mean(tf.square(y_true - y_pred)))


@dataclasses.dataclass(kw_only=True)
class CassiConfig(RunConfig):
    """Settings of a CASSI reconstruction run; saved in `run.json` next to the model.

    `model` is a name of `larq_hsi.models.registry` for the "cassi" task;
    `data` a folder of cubes (`None`: `synthetic_scenes` synthetic scenes of
    `synthetic_size` in `synthetic_layout`, one of `larq_hsi.synthetic.LAYOUTS`);
    `validation_scenes` are held out and scored after
    training beside the input alone (synthetic: 2 more scenes by default; a
    data folder: its last `validation_scenes` cubes in name order, none by
    default), centre-cropped to the mask if they are larger; `mask` a mask
    file (`None`: a seeded random binary mask). `init` is where the weights
    start: "reference" (the authors' initialisation), "input"
    (`larq_hsi.models.bisrnet.start_at_input`: the untrained model outputs its
    input), or published weights (BiSRNet only: "simulation", "real" or a
    `.pth`/`.npz` path); `None` is `START`. The learning rate rises linearly
    from 0 over `warmup_steps` steps (0: no warm-up, the reference code's),
    then anneals from `learning_rate` to `final_learning_rate` by a cosine
    (`training.optim.cosine_decay`).

    `variant` is the network's input (BiSRNet Sec. 4.1, 4.3; `docs/cassi.md`,
    "Training the real-system model"):

    - "simulation": `[H, Phi]`, \\(H = \\mathrm{shift\\_back}(Y \\cdot 2/N)\\)
      and the 3-D mask, through the whole random mask for every sample, or
      random crop-size windows of a `mask` file; no noise by default.
    - "real": the raw measurement \\(y = Y \\cdot 2/N \\cdot 1.2\\)
      (`physics.real_network_input`, `(B, S, S + 2 (28 - 1))`), the scaling
      of the reference's real training input. The released real weights have
      no mask input and leave `fution` unused (`bisrnet-reference.md`: "its
      input is the raw 660x714 measurement `y`"), so the network learns the
      real system's mask from the data; every sample sees a random crop-size
      window of it (`mask_mode="crop"`; `mask`: the real system's
      `mask_real_660.mat`, else a seeded random `REAL_MASK_SIZE` stand-in),
      as the real measurements are 660x660 scenes through one 660x660
      aperture. Sec. 4.3: "To simulate the noise disturbance in real imaging
      scenes, we inject 11-bit shot noise into measurements during training"
      (`physics.shot_noise`, 11 bits, QE 0.4, on \\(y\\)). `model` must be
      `bisrnet-real` (the default); `init` "real" starts from the published
      real weights. Sec. 4.1's crops are "256×256 and 96×96 ... for
      simulation and real experiments"; `crop_size` stays 256 for both
      (set 96 for the literal reading).

    `model=None` is the variant's `VARIANT_MODELS` entry and `shot_noise=None`
    is on for "real", off for "simulation"; both are resolved when the config
    is made, so `run.json` records what ran. The held-out scenes are measured
    without noise through the mask's top-left window and fed as the variant's
    network input (`evaluate.network_inputs`).
    """

    task = "cassi"

    out_dir: str = "runs/bisrnet"
    variant: str = "simulation"
    model: str | None = None
    data: str | None = None
    synthetic_scenes: int = 8
    synthetic_size: int = 256
    synthetic_layout: str = SYNTHETIC_LAYOUT
    mask: str | None = None
    crop_size: int = 256
    batch_size: int = 2
    epochs: int = 300
    steps_per_epoch: int | None = 100
    learning_rate: float = 4e-4
    final_learning_rate: float = 1e-6
    warmup_steps: int = 0
    shot_noise: bool | None = None
    validation_scenes: int | None = None
    init: str | None = None

    def __post_init__(self):
        if self.variant not in VARIANT_MODELS:
            raise ValueError(f"variant must be one of {tuple(VARIANT_MODELS)}, got {self.variant!r}")
        expected = VARIANT_MODELS[self.variant]
        if self.model is None:
            self.model = expected
        if self.shot_noise is None:
            self.shot_noise = self.variant == "real"
        if self.model not in registry.names("cassi"):
            raise ValueError(f"unknown CASSI model {self.model!r}; expected one of {registry.names('cassi')}")
        if self.variant == "real" and self.model != expected:
            raise ValueError(f"variant 'real' trains the real-system BiSRNet, model {expected!r} "
                             f"(input: the measurement, no mask), not {self.model!r}")
        if self.variant == "simulation" and self.model == VARIANT_MODELS["real"]:
            raise ValueError(f"model {self.model!r} is the real-system network (input: the measurement); "
                             "train it with variant 'real'")
        if self.init not in (None, *STARTS) and self.model not in VARIANT_MODELS.values():
            raise ValueError(f"init: published weights exist for bisrnet and bisrnet-real, not {self.model!r}; "
                             f"other models start from one of {STARTS}")
        if self.init in PUBLISHED and PUBLISHED[self.init].variant != self.variant:
            raise ValueError(f"init {self.init!r} is the published {PUBLISHED[self.init].variant} BiSRNet; "
                             f"variant {self.variant!r} takes init {self.variant!r} or one of {STARTS}")
        if self.synthetic_layout not in LAYOUTS:
            raise ValueError(f"synthetic_layout must be one of {LAYOUTS}, got {self.synthetic_layout!r}")
        if self.steps_per_epoch is None or self.steps_per_epoch < 1 or self.epochs < 1:
            raise ValueError(f"need epochs >= 1 and steps_per_epoch >= 1 (the CASSI training data is endless, "
                             f"so an epoch needs a length), got epochs={self.epochs}, "
                             f"steps_per_epoch={self.steps_per_epoch}")
        self._schedule()  # a warm-up or rates it cannot schedule fail here, before any model is built
        if self.validation_scenes is not None and self.validation_scenes < 0:
            raise ValueError(f"validation_scenes must be >= 0, got {self.validation_scenes}")

    @property
    def _held_out_count(self) -> int:
        if self.validation_scenes is not None:
            return self.validation_scenes
        return 2 if self.data is None else 0

    @functools.cached_property
    def _scenes(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(training scenes, held-out scenes)."""
        held_out = self._held_out_count
        if self.data is None:
            scenes = load_scenes(None, self.synthetic_scenes + held_out, self.synthetic_size, self.seed,
                                 layout=self.synthetic_layout)
            return scenes[: self.synthetic_scenes], scenes[self.synthetic_scenes :]
        scenes = load_scenes(self.data, 0, 0, self.seed)
        if held_out >= len(scenes):
            raise ValueError(f"validation_scenes={held_out} leaves no training scene: {self.data} holds "
                             f"{len(scenes)} cube(s)")
        return scenes[: len(scenes) - held_out], scenes[len(scenes) - held_out :]

    @functools.cached_property
    def mask_array(self) -> np.ndarray:
        """The run's mask: the `mask` file, or the seeded random mask that synthetic training and
        scoring share."""
        if self.mask is not None:
            return io.load_mask(self.mask)
        train, held_out = self._scenes
        size = max([self.crop_size] + [max(s.shape[:2]) for s in train + held_out])
        if self.variant == "real":
            size = max(size, REAL_MASK_SIZE)
        return physics.random_mask((size, size), seed=self.seed)

    @property
    def held_out_scenes(self) -> list[np.ndarray]:
        """The scenes `evaluate` scores, split off exactly as training splits them: the synthetic
        scenes after the `synthetic_scenes` training ones, or the data folder's last
        `validation_scenes` cubes in name order."""
        return self._scenes[1]

    def build_model(self) -> tf.keras.Model:
        init = START if self.init is None else self.init
        if init not in STARTS:
            return registry.build(self.model, input_size=None, weights=init)
        model = registry.build(self.model, input_size=None)
        return start_at_input(model) if init == "input" else model

    def training_data(self) -> tf.data.Dataset:
        fixed = self.mask is None and self.variant == "simulation"  # the whole random mask, every sample
        mask = self.mask_array[: self.crop_size, : self.crop_size] if fixed else self.mask_array
        return cassi_training_data(
            self._scenes[0], mask, crop_size=self.crop_size, batch_size=self.batch_size, seed=self.seed,
            variant=self.variant, shot_noise=self.shot_noise, mask_mode="fixed" if fixed else "crop",
        )

    def _schedule(self) -> tf.keras.optimizers.schedules.CosineDecay:
        return optim.cosine_decay(self.learning_rate, self.epochs * self.steps_per_epoch,
                                  self.final_learning_rate, self.warmup_steps)

    def compile(self, model: tf.keras.Model) -> None:
        schedule = self._schedule()
        # The legacy Adam applies one fused op per variable: for BiSRNet's ~900
        # variables it traces in about half the time of the new Keras Adam on CPU.
        model.compile(optimizer=tf.keras.optimizers.legacy.Adam(schedule, beta_1=0.9, beta_2=0.999), loss=rmse)

    def callbacks(self, model: tf.keras.Model) -> list[tf.keras.callbacks.Callback]:
        return [EDESchedule(self.epochs)] if self.model == "unet-irnet" else []

    def evaluate(self, model: tf.keras.Model) -> dict | None:
        held_out = self.held_out_scenes
        if not held_out:
            return None
        mask_size = min(self.mask_array.shape)
        crop = mask_size if any(max(s.shape[:2]) > mask_size for s in held_out) else None
        return evaluate_model(model, held_out, self.mask_array, crop=crop)
