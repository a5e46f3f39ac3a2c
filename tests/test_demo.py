"""`make demo` (`larq_hsi.demo`) end to end at a tiny size: what it trains on, what it prints and writes."""

import contextlib
import io
import json

import numpy as np
import pytest
from matplotlib import image as mpl_image

from larq_hsi import demo, viz
from larq_hsi.tasks.cassi.recipe import CassiConfig


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, eager_functions):
    """The demo at 32x32, its tf.functions eager: this checks its plumbing, not graph-mode training."""
    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = demo.main(["--out", str(out), "--epochs", "1", "--steps-per-epoch", "2", "--size", "32",
                          "--scenes", "3", "--warmup-steps", "1", "--quiet-summary"])
    assert code == 0
    return out, printed.getvalue()


def _config(out) -> CassiConfig:
    """The demo's config, rebuilt from its run.json."""
    settings = json.loads((out / "run.json").read_text())["config"]
    return CassiConfig(**{k: v for k, v in settings.items() if k != "task"})


def test_scenes_crops_and_mask_share_the_demo_size(demo_run):
    out, _ = demo_run
    settings = json.loads((out / "run.json").read_text())["config"]
    assert settings["synthetic_size"] == settings["crop_size"] == 32
    assert settings["synthetic_scenes"] == 3 and settings["validation_scenes"] == 4
    config = _config(out)
    assert config.mask_array.shape == (32, 32)
    assert [s.shape for s in config.held_out_scenes] == [(32, 32, 28)] * 4


def test_prints_every_held_out_scene_beside_the_input_alone(demo_run):
    out, printed = demo_run
    validation = json.loads((out / "run.json").read_text())["validation"]
    for row in validation["scenes"]:
        assert f"scene {row['scene']}: PSNR {row['psnr']:.2f} dB (input alone {row['input_psnr']:.2f} dB" in printed
    mean = validation["mean"]
    assert f"{mean['psnr'] - mean['input_psnr']:+.2f} dB" in printed


def test_previews_show_the_first_held_out_scene(demo_run):
    out, printed = demo_run
    truth = _config(out).held_out_scenes[0]
    written = mpl_image.imread(out / "truth_rgb.png")[..., :3]
    np.testing.assert_allclose(written, viz.false_colour(truth), atol=1 / 255 + 1e-6)
    for name in viz.COMPARISON_FILES:
        assert str(out / name) in printed
    assert "checkpoints" not in printed  # a finished run leaves it empty; the demo lists what holds something
