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
    held_out = synthetic_scenes(3, 32, seed=config.seed, layout=config.synthetic_layout)[2:]
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


@pytest.fixture()
def cube_folder(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "cubes"
    folder.mkdir()
    cubes = [rng.uniform(0, 1, (24, 24, 28)).astype(np.float32) for _ in range(3)]
    for i, cube in enumerate(cubes):
        np.save(folder / f"scene{i}.npy", cube)
    mask = (rng.uniform(size=(16, 16)) > 0.5).astype(np.float32)
    np.save(tmp_path / "mask.npy", mask)
    return folder, cubes, mask


def test_a_data_folder_holds_out_its_last_cubes_cropped_to_the_mask(cube_folder, tmp_path):
    folder, cubes, mask = cube_folder
    config = CassiConfig(out_dir=str(tmp_path / "run"), model="bisr-base", data=str(folder),
                         mask=str(tmp_path / "mask.npy"), validation_scenes=1, crop_size=16)
    model = config.build_model()
    result = config.evaluate(model)
    assert [row["scene"] for row in result["scenes"]] == [0]
    assert result == evaluate_model(model, cubes[2:], mask, crop=16)
    assert CassiConfig(out_dir="x", model="bisr-base", data=str(folder)).evaluate(model) is None


def test_holding_out_every_cube_is_refused(cube_folder):
    folder, _, _ = cube_folder
    with pytest.raises(ValueError, match="validation_scenes=3 leaves no training scene"):
        CassiConfig(out_dir="x", data=str(folder), validation_scenes=3).training_data()


def test_the_default_start_outputs_the_input_and_reference_does_not(rng):
    h = rng.uniform(0, 1, (1, 16, 16, 28)).astype(np.float32)
    phi = rng.integers(0, 2, (1, 16, 16, 28)).astype(np.float32)
    started = CassiConfig(out_dir="x").build_model()
    np.testing.assert_allclose(started([h, phi]).numpy(), h, atol=1e-6)
    reference = CassiConfig(out_dir="x", init="reference").build_model()
    assert np.max(np.abs(reference([h, phi]).numpy() - h)) > 1e-2


def test_a_baseline_starts_at_its_input_but_takes_no_published_weights():
    assert CassiConfig(out_dir="x", model="unet-bbcu", init="input").build_model().name
    with pytest.raises(ValueError, match="published weights exist for bisrnet"):
        CassiConfig(out_dir="x", model="unet-bbcu", init="simulation")


def test_warmup_steps_ramp_the_learning_rate_up_before_the_cosine():
    config = CassiConfig(out_dir="x", model="bisr-base", epochs=2, steps_per_epoch=10, learning_rate=2e-3,
                         warmup_steps=4)
    model = config.build_model()
    config.compile(model)
    schedule = model.optimizer.learning_rate
    assert [float(schedule(t)) for t in (0, 2, 4)] == pytest.approx([0.0, 1e-3, 2e-3])
    assert float(schedule(20)) == pytest.approx(config.final_learning_rate, rel=1e-3)
    plain = CassiConfig(out_dir="x", model="bisr-base", epochs=2, steps_per_epoch=10)
    plain.compile(model)
    assert float(model.optimizer.learning_rate(0)) == pytest.approx(plain.learning_rate)
    with pytest.raises(ValueError, match=r"warmup_steps must be in \[0, steps=20\), got 20"):
        CassiConfig(out_dir="x", epochs=2, steps_per_epoch=10, warmup_steps=20)
    with pytest.raises(ValueError, match="steps_per_epoch >= 1 .* got epochs=2, steps_per_epoch=None"):
        CassiConfig(out_dir="x", epochs=2, steps_per_epoch=None)
    with pytest.raises(ValueError, match="final_learning_rate <= learning_rate"):
        CassiConfig(out_dir="x", learning_rate=5e-7)
