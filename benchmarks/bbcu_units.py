"""BBCU-V1..V4 at an identical training budget: a Table-4-shaped comparison on real photographs.

BBCU's Table 4 binarizes SRResNet's body with each unit version (x4 SR,
300 epochs of DIV2K). This is the same ablation scaled to a CPU: sigma-25
colour denoising with a small DnCNN (`--features` 32, `--depth` 10, so 8
binary body units) trained for `--steps` Adam steps on 32x32 patches of two
scikit-image photographs (astronaut, coffee) and evaluated on two others
(chelsea, rocket), RGB PSNR. Every variant sees the same batches and starts
from the same seed. V1 (BatchNorm) and V2 run without residual alignment, V3
and V4 with k* = 130 C / 64 (Sec. 4.5; 65 for 32 features), as in the paper.
Each run is `larq_hsi.training.train` with BBCU's recipe
(`larq_hsi.tasks.restoration.recipe.RestorationConfig`: L1 loss, Adam, the
rate halved after 2/3 of the steps), the network swapped for the variant.

The numbers are a smoke-scale ablation (minutes, not 300,000 iterations):
differences of a few tenths of a dB between runs of the same variant are
within its noise; run with `--seeds 0 1 2` to see that spread.

    .venv/bin/python benchmarks/bbcu_units.py                  # about 7 CPU-minutes (2 cores)
    .venv/bin/python benchmarks/bbcu_units.py --steps 100      # a quick look
    .venv/bin/python benchmarks/bbcu_units.py --quick          # the same table at QUICK's defaults, under 2 minutes

Observed (default run, seed 0; 12 min wall on a shared 2-core machine):

    Methods       OPs (G)   chelsea    rocket     mean
    noisy input         -     20.24     20.47    20.36
    BBCU-V1         0.166     26.30     23.46    24.88
    BBCU-V2         0.166     21.25     21.48    21.37
    BBCU-V3         0.166     30.30     28.53    29.42
    BBCU-V4         0.166     30.61     28.58    29.60

V4 > V3 > V1 > V2, the order of the paper's Table 4; seed 1 gave V3 29.53,
V4 29.72 dB. Without residual alignment (V1, V2) the short budget leaves the
networks far behind, a much larger gap than the paper's 0.1-0.3 dB after
full training.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _quick  # noqa: E402
from larq_hsi import complexity, training  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.models.bbcu import bbcu_part_prefixes  # noqa: E402
from larq_hsi.tasks.restoration.dataset import evaluation_pairs, sample_images  # noqa: E402
from larq_hsi.tasks.restoration.evaluate import evaluate_model, task_psnr  # noqa: E402
from larq_hsi.tasks.restoration.recipe import RestorationConfig  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

TRAIN = ("astronaut", "coffee")  # the recipe's default training photographs
TEST = ("chelsea", "rocket")
TEST_SEED = 123  # of the test images' noise
VERSIONS = ("v1", "v2", "v3", "v4")
QUICK = {"steps": 40}  # `--quick`: defaults only; every row stays


def build(version, features, depth, input_size=None):
    """The small DnCNN with its body binarized by BBCU-`version` units ("full": full precision)."""
    # The registry entries' builders: `registry.build(name, ...)` takes no model `name=`.
    if version == "full":
        return registry.ENTRIES["dncnn"].builder(input_size=input_size, features=features, depth=depth,
                                                 name="dncnn_full")
    alignment = "k*" if version in ("v3", "v4") else None
    return registry.ENTRIES["bbcu-dncnn"].builder(input_size=input_size, features=features, depth=depth,
                                                  unit=version, alignment=alignment, name=f"bbcu_{version}")


@dataclasses.dataclass(kw_only=True)
class UnitConfig(RestorationConfig):
    """BBCU's denoising recipe (L1, Adam, the rate halved at `halve_every` steps) on the small DnCNN
    with BBCU-`version` units, scored on `TEST` with the benchmark's noise seed."""

    task: str = "denoise"
    version: str = "v4"
    features: int = 32
    depth: int = 10

    def __post_init__(self):
        self.model = "dncnn" if self.version == "full" else "bbcu-dncnn"
        super().__post_init__()

    def build_model(self) -> tf.keras.Model:
        return build(self.version, self.features, self.depth)

    def evaluate(self, model: tf.keras.Model) -> dict:
        return evaluate_model(model, sample_images(TEST), "denoise", self.level, seed=TEST_SEED)


def paper_ops(version, args):
    model = build(version, args.features, args.depth, (180, 320))
    parts = () if version == "full" else ("body",)
    return complexity.profile(model, binarized=bbcu_part_prefixes(parts) if parts else ()).paper_ops


def train_and_evaluate(version, args, seed, runs):
    config = UnitConfig(
        out_dir=os.path.join(runs, f"{version}_seed{seed}"), version=version, features=args.features,
        depth=args.depth, level=args.sigma, crop_size=args.patch, batch_size=args.batch, epochs=1,
        steps_per_epoch=args.steps, learning_rate=args.lr, halve_every=max(1, args.steps * 2 // 3), seed=seed,
    )
    run = training.train(config, verbose=0)
    psnrs = [row["psnr"] for row in run["validation"]["images"]]
    return psnrs, run["final_loss"], run["train_seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--patch", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3, help="halved after 2/3 of the steps")
    parser.add_argument("--sigma", type=float, default=25)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--versions", nargs="+", default=list(VERSIONS), choices=[*VERSIONS, "full"])
    parser.add_argument("--out", default=None, help="keep each run's folder (run.json, log.csv, savedmodel/) "
                                                    "under OUT/VERSION_seedSEED (default: a temporary folder)")
    args = _quick.parse_args(parser, argv, QUICK)
    with tempfile.TemporaryDirectory() as tmp:
        report(args, tmp)


def report(args, tmp):
    test_pairs = evaluation_pairs(sample_images(TEST), "denoise", args.sigma, seed=TEST_SEED)
    noisy_psnr = [float(task_psnr("denoise", c, n)) for n, c in test_pairs]

    _quick.announce(args)
    print(f"sigma-{args.sigma:g} colour denoising, DnCNN depth {args.depth}, {args.features} features, "
          f"{args.steps} steps of {args.batch} x {args.patch}^2 patches from {', '.join(TRAIN)}; "
          f"seeds {args.seeds}")
    header = f"{'Methods':<12}{'OPs (G)':>9}" + "".join(f"{n:>10}" for n in TEST) + f"{'mean':>9}{'loss':>9}{'time':>8}"
    print(header)
    print("-" * len(header))
    print(f"{'noisy input':<12}{'-':>9}" + "".join(f"{v:>10.2f}" for v in noisy_psnr)
          + f"{np.mean(noisy_psnr):>9.2f}")
    for version in args.versions:
        ops = paper_ops(version, args) / 1e9
        runs = [train_and_evaluate(version, args, seed, args.out or tmp) for seed in args.seeds]
        psnr = np.mean([r[0] for r in runs], axis=0)
        spread = (np.ptp([np.mean(r[0]) for r in runs]) if len(runs) > 1 else 0.0)
        label = "DnCNN (fp)" if version == "full" else f"BBCU-{version.upper()}"
        line = (f"{label:<12}{ops:>9.3f}" + "".join(f"{v:>10.2f}" for v in psnr) + f"{psnr.mean():>9.2f}"
                f"{np.mean([r[1] for r in runs]):>9.4f}{sum(r[2] for r in runs):>7.0f}s")
        if len(runs) > 1:
            line += f"  (mean PSNR spread over seeds {spread:.2f} dB)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
