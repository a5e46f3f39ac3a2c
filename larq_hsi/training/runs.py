"""The one training path: a task's config in, a run folder out.

Every task (CASSI reconstruction, pan-sharpening, restoration) describes its
recipe as a config dataclass deriving from `RunConfig`
(`larq_hsi.tasks.<task>.recipe`): how to build the model, the training data,
the compilation (loss, optimizer, schedule), extra callbacks and a held-out
evaluation. `train(config)` runs any of them the same way and writes, under
`config.out_dir`:

    checkpoints/   BackupAndRestore state (an interrupted run resumes from it)
    log.csv        per-epoch loss, learning rate and callback logs (CSVLogger)
    tensorboard/   TensorBoard logs
    savedmodel/    the final model, reloadable without custom_objects, reloaded and
                   checked against the trained model before the run ends
    run.json       the task, the settings, the training time and the evaluation

The command line, the demo, the examples and the benchmarks all train through it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import warnings

import numpy as np
import tensorflow as tf

with warnings.catch_warnings():  # TensorFlow Addons announces its end of life on import
    warnings.simplefilter("ignore")
    import tensorflow_addons as tfa

from larq_hsi.deploy.savedmodel import to_savedmodel

__all__ = ["RunConfig", "TracingProgress", "create_optimizer_slots", "train", "write_run"]


@dataclasses.dataclass(kw_only=True)
class RunConfig:
    """What every run has; each task's config adds its recipe's settings and hooks.

    `steps_per_epoch=None` runs each epoch over the whole (finite) training data.
    `max_seconds` ends training after the first epoch that ends past this
    wall-clock budget (`tfa.callbacks.TimeStopping`), for runs compared at an
    equal CPU budget.
    """

    task = "none"

    out_dir: str = "runs/run"
    model: str = ""
    epochs: int = 1
    steps_per_epoch: int | None = 100
    seed: int = 0
    max_seconds: float | None = None

    def build_model(self) -> tf.keras.Model:
        """The untrained model."""
        raise NotImplementedError

    def training_data(self) -> tf.data.Dataset:
        """Batches of `(inputs, target)`."""
        raise NotImplementedError

    def compile(self, model: tf.keras.Model) -> None:
        """`model.compile` with the recipe's loss and optimizer."""
        raise NotImplementedError

    def callbacks(self, model: tf.keras.Model) -> list[tf.keras.callbacks.Callback]:
        """Callbacks the recipe needs besides the run's own (checkpoints, logs)."""
        return []

    def evaluate(self, model: tf.keras.Model) -> dict | None:
        """Held-out metrics written to `run.json` (`None`: no held-out data)."""
        return None

    def settings(self) -> dict:
        """The config as plain data, for `run.json`."""
        return {"task": self.task, **dataclasses.asdict(self)}


class TracingProgress(tf.keras.callbacks.Callback):
    """Says that the first step traces the graph, and how long that took.

    Keras's progress bar estimates the time left from the first step, which
    includes tracing the whole training graph (about 10 s for BiSRNet's
    ~900 variables), so it shows a wildly long ETA until the second step.
    """

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose
        self.trace_seconds = None
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        if self.verbose:
            print("tracing the training graph (the first step includes it; the ETA settles after it)...",
                  flush=True)

    def on_train_batch_end(self, batch, logs=None):
        if self.trace_seconds is None:
            self.trace_seconds = time.perf_counter() - self._start
            if self.verbose:
                print(f"\nfirst step (tracing included) took {self.trace_seconds:.1f} s", flush=True)


def create_optimizer_slots(model: tf.keras.Model) -> None:
    """Creates the compiled optimizer's slot variables (Adam's m and v) now, eagerly.

    `fit` would otherwise create them while tracing the first step, inside the
    graph: for BiSRNet's 914 Adam slots that cost about 4 s of a 10 s trace, and
    1 s eagerly (`benchmarks/bisrnet_train_step.py --trace` measures it).
    Wrappers that hold other optimizers (`tfa.optimizers.MultiOptimizer`,
    `larq.optimizers.CaseOptimizer`) get only their step counter here; their
    inner optimizers still make their slots in the trace.
    """
    optimizer = model.optimizer
    if isinstance(optimizer, tf.keras.optimizers.legacy.Optimizer):
        # The legacy optimizer (frozen in TF 2.15) has no public build(); this is what apply_gradients calls.
        optimizer._create_all_weights(model.trainable_variables)
    else:
        optimizer.build(model.trainable_variables)


def write_run(out_dir, summary: dict) -> Path:
    """Write `summary` as `run.json` under `out_dir`; returns its path."""
    path = Path(out_dir) / "run.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    return path


def _first_inputs(dataset: tf.data.Dataset):
    inputs, _ = next(iter(dataset.take(1)))
    flat = [np.asarray(t)[:1] for t in tf.nest.flatten(inputs)]
    return flat if len(flat) > 1 else flat[0]


def train(config: RunConfig, verbose: int = 1) -> dict:
    """Train as `config` describes; returns the run summary written to `run.json`."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(config.seed)
    logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

    model = config.build_model()
    dataset = config.training_data()
    config.compile(model)
    create_optimizer_slots(model)
    tracing = TracingProgress(verbose)
    callbacks = [
        tracing,
        *config.callbacks(model),
        tf.keras.callbacks.BackupAndRestore(str(out / "checkpoints")),
        tf.keras.callbacks.CSVLogger(str(out / "log.csv"), append=True),
        tf.keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False),
    ]
    if config.max_seconds is not None:
        callbacks.append(tfa.callbacks.TimeStopping(seconds=int(config.max_seconds), verbose=0))
    started = time.perf_counter()
    history = model.fit(dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
                        callbacks=callbacks, verbose=verbose)
    train_seconds = time.perf_counter() - started

    saved = to_savedmodel(model, out / "savedmodel", verify=True, inputs=_first_inputs(dataset))
    losses = history.history.get("loss") or [None]
    summary = {
        "task": config.task,
        "config": config.settings(),
        "epochs_run": len(history.history.get("loss", [])),
        "final_loss": None if losses[-1] is None else float(losses[-1]),
        "train_seconds": round(train_seconds, 1),
        "trace_seconds": None if tracing.trace_seconds is None else round(tracing.trace_seconds, 1),
        "savedmodel": saved.path,
        "savedmodel_reload_max_abs_diff": saved.max_abs_diff,
    }
    evaluation = config.evaluate(model)
    if evaluation is not None:
        summary["validation"] = evaluation
    write_run(out, summary)
    return summary
