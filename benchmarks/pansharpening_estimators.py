"""HS-BiNet with ATISTE vs the BNN, ReActNet and BTM estimators at one small budget (Table 1/4 style).

Every variant is the same network (`larq_hsi.models.hsbinet.HSBiNet`, registry
`hsbinet`) with only the binary convolutions' unit (estimator) swapped, trained
with the paper's recipe through `larq_hsi.training.train(PansharpeningConfig(...))`
(L1, Adam 1e-3 with coupled weight decay 1e-5, cosine annealing, batch 4, no
augmentation) on the same synthetic Wald's-protocol patches, from the same
seed, for the same number of epochs; the cosine schedule makes one cycle over
the run (T0 = epochs). Test patches come from scenes not seen in training.
Prints PSNR, CC, SSIM, SAM (degrees), ERGAS, the bicubic baseline, and
Params / MACs as in Table 4 (`larq_hsi.complexity`; MACs at the 64x64 patch).

The data are synthetic (`larq_hsi.synthetic.synthetic_scene`), a stand-in: the
ranking here says how the estimators train at this budget, not how they
compare on WDC or Botswana.

    python benchmarks/pansharpening_estimators.py            # default, about 6-9 min on 2 cores
    python benchmarks/pansharpening_estimators.py --epochs 3 --units atiste bnn   # quick look
    python benchmarks/pansharpening_estimators.py --quick     # every unit, 1 epoch on small scenes: the table's shape
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import sys
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import tensorflow as tf  # noqa: E402

import _quick  # noqa: E402
from larq_hsi import complexity, training  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.nn.units import HSBINET_UNITS  # noqa: E402
from larq_hsi.tasks.pansharpening.dataset import (  # noqa: E402
    extract_patches,
    pansharpening_training_data,
    synthetic_pansharpening,
)
from larq_hsi.tasks.pansharpening.evaluate import evaluate_model  # noqa: E402
from larq_hsi.tasks.pansharpening.recipe import PansharpeningConfig, compile_for_pansharpening  # noqa: E402

logging.getLogger("larq.layers_base").setLevel(logging.ERROR)
tf.get_logger().setLevel(logging.ERROR)
# `--quick`: every unit stays; one epoch on two small training scenes.
QUICK = {"epochs": 1, "size": 64, "train_scenes": 2, "test_scenes": 1}


@dataclasses.dataclass(kw_only=True)
class EstimatorConfig(PansharpeningConfig):
    """HS-BiNet's recipe on this benchmark's data and network.

    `train_scenes` + `test_scenes` synthetic scenes drawn together and split,
    64x64-PAN patches (stride 32 for training, 64 for testing), a `hidden`-wide,
    `num_blocks`-deep network at the patch size, one cosine cycle over the run
    (T0 = epochs), no streaming metrics; the held-out evaluation is on the test patches.
    """

    train_scenes: int = 4
    test_scenes: int = 2
    ratio: int = 4
    hidden: int = 32
    num_blocks: int = 2
    figures: str | None = None

    @functools.cached_property
    def split(self) -> tuple[dict, dict]:
        """(training patches, test patches)."""
        scenes = synthetic_pansharpening(self.train_scenes + self.test_scenes, size=self.scene_size,
                                         bands=self.bands, ratio=self.ratio, seed=self.seed)
        n = self.train_scenes
        train = extract_patches({k: v[:n] for k, v in scenes.items()}, crop_size=64, stride=32)
        test = extract_patches({k: v[n:] for k, v in scenes.items()}, crop_size=64, stride=64)
        return train, test

    def build_model(self) -> tf.keras.Model:
        lr_size = 64 // self.ratio
        return registry.build(self.model, input_size=(lr_size, lr_size), bands=self.bands, ratio=self.ratio,
                              hidden=self.hidden, num_blocks=self.num_blocks, unit=self.unit, seed=self.seed)

    def training_data(self) -> tf.data.Dataset:
        return pansharpening_training_data(self.split[0], self.batch_size, shuffle=True, seed=self.seed)

    def compile(self, model: tf.keras.Model) -> None:
        steps = -(-len(self.split[0]["ms"]) // self.batch_size)
        compile_for_pansharpening(model, steps, ratio=self.ratio, learning_rate=self.learning_rate,
                                  t0_epochs=self.epochs, metrics=False)

    def evaluate(self, model: tf.keras.Model) -> dict:
        out_dir = None if self.figures is None else os.path.join(self.figures, self.unit)
        result = evaluate_model(model, self.split[1], out_dir=out_dir)
        result.pop("figures", None)
        return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", "--estimators", dest="units", nargs="+", default=list(HSBINET_UNITS),
                        choices=HSBINET_UNITS, help="binary conv units (sign estimators) to compare (default all)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--bands", type=int, default=31)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--train-scenes", type=int, default=4)
    parser.add_argument("--test-scenes", type=int, default=2)
    parser.add_argument("--size", type=int, default=128, help="scene size (PAN pixels)")
    parser.add_argument("--ratio", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figures", default=None, help="folder for Fig. 8-style PNGs of each variant")
    parser.add_argument("--out", default=None,
                        help="keep each variant's run folder (run.json, log.csv, savedmodel/) under OUT/UNIT "
                             "(default: a temporary folder)")
    return _quick.parse_args(parser, argv, QUICK)


def config_for(unit, args, runs):
    return EstimatorConfig(
        out_dir=os.path.join(runs, unit), unit=unit, scene_size=args.size, bands=args.bands, batch_size=4,
        epochs=args.epochs, seed=args.seed, train_scenes=args.train_scenes, test_scenes=args.test_scenes,
        ratio=args.ratio, hidden=args.hidden, num_blocks=args.blocks, figures=args.figures,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return run_all(args, args.out or tmp)


def run_all(args, runs) -> int:
    train, test = config_for("atiste", args, runs).split  # the same data for every unit
    lr_size = 64 // args.ratio
    _quick.announce(args)
    print(f"synthetic data: {len(train['gt'])} training and {len(test['gt'])} test patches "
          f"(64x64 PAN, {lr_size}x{lr_size}x{args.bands} HS, ratio {args.ratio}); "
          f"HS-BiNet C={args.hidden}, {args.blocks} residual blocks; {args.epochs} epochs each, batch 4")

    rows = {"bicubic (lms)": {**evaluate_model(test["lms"], test), "params": None, "macs": None, "time": None}}
    for unit in args.units:
        config = config_for(unit, args, runs)
        cost = complexity.profile(config.build_model())
        run = training.train(config, verbose=0)  # also scores the trained model on the test patches
        seconds = run["train_seconds"]
        rows[f"HS-BiNet + {unit}"] = {
            **run["validation"], "params": cost.total_params, "macs": cost.binary_macs + cost.float_macs,
            "paper_ops": cost.paper_ops, "time": seconds, "loss": run["final_loss"],
        }
        print(f"  {unit:9s} trained in {seconds:6.1f} s, final training L1 {run['final_loss']:.4f}", flush=True)

    print()
    header = f"{'method':24s} {'PSNR':>8s} {'CC':>7s} {'SSIM':>7s} {'SAM':>7s} {'ERGAS':>7s} " \
             f"{'Params (M)':>11s} {'MACs (G)':>9s} {'OPs (G)':>8s}"
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        cost = "" if r["params"] is None else \
            f" {r['params'] / 1e6:11.4f} {r['macs'] / 1e9:9.4f} {r['paper_ops'] / 1e9:8.4f}"
        print(f"{name:24s} {r['PSNR']:8.3f} {r['CC']:7.4f} {r['SSIM']:7.4f} {r['SAM']:7.3f} {r['ERGAS']:7.3f}{cost}")
    print("\nMACs: all kernel multiply-accumulates (binary + float) at the 64x64 PAN size; "
          "OPs: the papers' OPs_f + OPs_b / 64.")
    ranked = sorted((n for n in rows if n.startswith("HS-BiNet")), key=lambda n: -rows[n]["PSNR"])
    print("ranking by PSNR: " + " > ".join(n.split(" + ")[1] for n in ranked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
