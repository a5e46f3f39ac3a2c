"""HS-BiNet with ATISTE vs the BNN, ReActNet and BTM estimators at one small budget (Table 1/4 style).

Every variant is the same network (`larq_hsi.models.hsbinet.HSBiNet`) with only
the binary convolutions' estimator swapped, trained with the paper's recipe
(L1, Adam 1e-3 with coupled weight decay 1e-5, cosine annealing, batch 4, no
augmentation) on the same synthetic Wald's-protocol patches, from the same
seed, for the same number of epochs; the cosine schedule makes one cycle over
the run (T0 = epochs). Test patches come from scenes not seen in training.
Prints PSNR, CC, SSIM, SAM (degrees), ERGAS, the bicubic baseline, and
Params / MACs as in Table 4 (`larq_hsi.complexity`; MACs at the 64x64 patch).

The data are synthetic (`larq_hsi.data.synthetic_scene`), a stand-in: the
ranking here says how the estimators train at this budget, not how they
compare on WDC or Botswana.

    python benchmarks/pansharpening_estimators.py            # default, about 6-9 min on 2 cores
    python benchmarks/pansharpening_estimators.py --epochs 3 --estimators atiste bnn   # quick look
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import tensorflow as tf  # noqa: E402

from larq_hsi import complexity  # noqa: E402
from larq_hsi import pansharpening as P  # noqa: E402
from larq_hsi.models.hsbinet import ESTIMATORS, HSBiNet  # noqa: E402

logging.getLogger("larq.layers_base").setLevel(logging.ERROR)
tf.get_logger().setLevel(logging.ERROR)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
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
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    tf.keras.utils.set_random_seed(args.seed)
    scenes = P.synthetic_pansharpening(
        args.train_scenes + args.test_scenes, size=args.size, bands=args.bands, ratio=args.ratio, seed=args.seed
    )
    split = args.train_scenes
    train = P.extract_patches({k: v[:split] for k, v in scenes.items()}, pan_size=64, stride=32)
    test = P.extract_patches({k: v[split:] for k, v in scenes.items()}, pan_size=64, stride=64)
    lr_size = 64 // args.ratio
    print(f"synthetic data: {len(train['gt'])} training and {len(test['gt'])} test patches "
          f"(64x64 PAN, {lr_size}x{lr_size}x{args.bands} HS, ratio {args.ratio}); "
          f"HS-BiNet C={args.hidden}, {args.blocks} residual blocks; {args.epochs} epochs each, batch 4")

    rows = {"bicubic (lms)": {**P.evaluate(test["lms"], test), "params": None, "macs": None, "time": None}}
    for estimator in args.estimators:
        tf.keras.utils.set_random_seed(args.seed)
        model = HSBiNet(args.bands, ratio=args.ratio, hidden=args.hidden, num_blocks=args.blocks,
                        input_size=(lr_size, lr_size), estimator=estimator, seed=args.seed)
        cost = complexity.profile(model)
        start = time.time()
        history = P.train(model, train, epochs=args.epochs, batch_size=4, seed=args.seed,
                          t0_epochs=args.epochs, metrics=False)
        seconds = time.time() - start
        out_dir = None if args.figures is None else os.path.join(args.figures, estimator)
        result = P.evaluate(model, test, out_dir=out_dir)
        result.pop("figures", None)
        rows[f"HS-BiNet + {estimator}"] = {
            **result, "params": cost.total_params, "macs": cost.binary_macs + cost.float_macs,
            "paper_ops": cost.paper_ops, "time": seconds, "loss": history.history["loss"][-1],
        }
        print(f"  {estimator:9s} trained in {seconds:6.1f} s, final training L1 {history.history['loss'][-1]:.4f}",
              flush=True)

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
