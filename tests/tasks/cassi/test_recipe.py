"""BiSRNet's recipe through the one training path: `training.train(CassiConfig(...))` on tiny synthetic data.

The command line's run (`larq-hsi train`) is tested in tests/test_cli.py; this is the API.
"""

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from larq_hsi import training
from larq_hsi.deploy import savedmodel
from larq_hsi.synthetic import synthetic_scenes
from larq_hsi.tasks.cassi import physics
from larq_hsi.tasks.cassi.evaluate import evaluate_model
from larq_hsi.tasks.cassi.recipe import CassiConfig

RUN_KEYS = {"task", "config", "epochs_run", "final_loss", "train_seconds", "trace_seconds", "savedmodel",
            "savedmodel_reload_max_abs_diff", "validation"}


@pytest.fixture(scope="module")
def eager_functions():
    """Run tf.functions eagerly: this checks the run plumbing, not graph-mode training.

    Tracing a training graph pays off only over many steps; graph-mode training is
    tested in tests/models/test_bisrnet.py.
    """
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(previous)


@pytest.fixture(scope="module")
def run(tmp_path_factory, eager_functions):
    # BiSRNet's full-precision base model keeps the SavedModel export and reload short; the CLI test
    # (tests/test_cli.py) trains BiSRNet itself through the same path.
    config = CassiConfig(out_dir=str(tmp_path_factory.mktemp("cassi_run")), model="bisr-base", synthetic_scenes=2,
                         synthetic_size=32, crop_size=16, epochs=1, steps_per_epoch=2, validation_scenes=1)
    return config, training.train(config, verbose=0)


def test_run_json_holds_the_task_settings_and_results(run):
    config, summary = run
    out = Path(config.out_dir)
    written = json.loads((out / "run.json").read_text())
    assert set(written) == RUN_KEYS
    assert written == json.loads(json.dumps(summary, default=str))  # what train returned, as written
    assert written["task"] == "cassi"
    assert written["config"] == {"task": "cassi", **dataclasses.asdict(config)}
    assert written["config"]["model"] == "bisr-base" and written["config"]["crop_size"] == 16
    assert written["config"]["epochs"] == 1 and written["config"]["steps_per_epoch"] == 2
    assert math.isfinite(written["final_loss"]) and written["final_loss"] > 0
    assert written["train_seconds"] >= 0 and written["trace_seconds"] >= 0
    assert Path(written["savedmodel"]) == out / "savedmodel"
    assert (out / "savedmodel" / "saved_model.pb").is_file()
    assert written["savedmodel_reload_max_abs_diff"] == 0.0


def test_log_csv_has_one_row_per_epoch_with_the_final_loss(run):
    config, summary = run
    with open(Path(config.out_dir) / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["epoch"] == "0"
    assert float(rows[0]["loss"]) == pytest.approx(summary["final_loss"], rel=1e-6)
    assert any((Path(config.out_dir) / "tensorboard").rglob("*tfevents*"))


def test_validation_is_finite_and_reproduced_by_the_reloaded_model(run):
    config, summary = run
    validation = summary["validation"]
    assert [row["scene"] for row in validation["scenes"]] == [0]  # one held-out scene
    for key in ("psnr", "psnr_8bit", "ssim"):
        assert math.isfinite(validation["mean"][key])
    assert 0 < validation["mean"]["ssim"] <= 1
    # the held-out scene follows the training scenes; the random mask covers the 32x32 scenes
    held_out = synthetic_scenes(3, 32, seed=config.seed)[2:]
    mask = physics.random_mask((32, 32), seed=config.seed)
    model = savedmodel.load(summary["savedmodel"])
    assert evaluate_model(model, held_out, mask) == validation
    sim = physics.simulate(held_out[0][None], mask)
    assert np.all(np.isfinite(model([sim.H, sim.Phi]).numpy()))


def test_a_time_budget_ends_training_after_the_epoch_that_passes_it(tmp_path, eager_functions):
    config = CassiConfig(out_dir=str(tmp_path / "budget"), model="bisr-base", synthetic_scenes=1,
                         synthetic_size=16, validation_scenes=0, crop_size=16, batch_size=1, epochs=50,
                         steps_per_epoch=1, max_seconds=1)
    run = training.train(config, verbose=0)
    assert 1 <= run["epochs_run"] < 50
