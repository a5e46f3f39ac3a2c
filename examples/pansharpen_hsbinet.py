"""Binarized hyperspectral pan-sharpening with HS-BiNet (ATISTE estimator) on simulated data.

Pan-sharpening fuses a low-resolution hyperspectral image (`ms`) with a
high-resolution panchromatic one (`pan`) into a high-resolution hyperspectral
image. Following Wald's protocol (`larq_hsi.pansharpening.simulate`), a
reference cube `gt` is blurred by a Gaussian MTF and decimated by 4 to give
`ms`, and averaged over its bands to give `pan`; a model is scored against
`gt`. The reference cubes here are seeded *synthetic* scenes (stand-ins, not a
benchmark: numbers on them say nothing about real data).

Steps: simulate training and held-out test scenes, cut aligned training
patches (64x64 PAN / 16x16 `ms`, the paper's WDC patches), build
`HSBiNet(estimator="atiste")`, train it with the paper's recipe
(`pansharpening.train`: L1 loss, Adam 1e-3 with coupled weight decay 1e-5 on
the weights only, cosine warm restarts, batch 4), then `pansharpening.evaluate`
on the whole test scenes: PSNR, CC, SSIM, SAM (degrees) and ERGAS, for the
model and for the bicubic upsampling `lms` it starts from.

Run:

    .venv/bin/python examples/pansharpen_hsbinet.py             # 31 bands, 20 epochs, a few minutes
    .venv/bin/python examples/pansharpen_hsbinet.py --estimator reactnet
    .venv/bin/python examples/pansharpen_hsbinet.py --smoke     # 8 bands, a narrow model, seconds

Prints the model's size (`complexity.profile`), the training loss, and the
metrics table. Writes under `--out` (default `runs/examples/pansharpen_hsbinet`)
`preview.png` (pseudo-colour: HS-BiNet, reference, bicubic), `error.png`
(absolute error of one band) and `metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import tensorflow as tf  # noqa: E402

from larq_hsi import complexity, pansharpening  # noqa: E402
from larq_hsi.models import ESTIMATORS, HSBiNet  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimator", default="atiste", choices=ESTIMATORS,
                        help="sign estimator of the binary convs (default atiste, HS-BiNet's)")
    parser.add_argument("--bands", type=int, default=31, help="spectral bands of the synthetic scenes")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--scenes", type=int, default=8, help="synthetic training scenes (128x128 PAN)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/examples/pansharpen_hsbinet", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="8 bands, a 16-feature model, 2 steps (seconds)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    tf.keras.utils.set_random_seed(args.seed)
    if args.smoke:
        # Tracing the training graph costs more than the few eager steps of a smoke run.
        tf.config.run_functions_eagerly(True)
    size, hidden, blocks = (64, 16, 1) if args.smoke else (128, 64, 4)
    bands, scenes, epochs = (8, 2, 2) if args.smoke else (args.bands, args.scenes, args.epochs)

    # 1. Simulated data (Wald's protocol, ratio 4) and aligned training patches.
    train_scenes = pansharpening.synthetic_pansharpening(scenes, size=size, bands=bands, seed=args.seed)
    test = pansharpening.synthetic_pansharpening(2 if not args.smoke else 1, size=size, bands=bands,
                                                 seed=args.seed + 10_000)
    patches = pansharpening.extract_patches(train_scenes, pan_size=64)
    print(f"{len(train_scenes['gt'])} training scene(s) -> {len(patches['gt'])} patches: ms "
          f"{patches['ms'].shape[1:]}, pan {patches['pan'].shape[1:]}; {len(test['gt'])} test scene(s) "
          f"{test['gt'].shape[1:]}")

    # 2. HS-BiNet; built for any input size, so it trains on patches and tests on whole scenes.
    model = HSBiNet(bands, ratio=4, hidden=hidden, num_blocks=blocks, input_size=None,
                    estimator=args.estimator, seed=args.seed)
    cost = complexity.profile(HSBiNet(bands, ratio=4, hidden=hidden, num_blocks=blocks, input_size=(16, 16),
                                      estimator=args.estimator))
    print(f"HS-BiNet ({args.estimator}, {hidden} features, {blocks} blocks): {cost.binary_params:,} one-bit "
          f"weights, {cost.float_params:,} 32-bit parameters, {cost.storage_bytes / 1e3:.1f} KB; "
          f"{cost.binary_macs / 1e6:.1f} M binary + {cost.float_macs / 1e6:.1f} M float MACs per 64x64 patch")

    # 3. The paper's recipe: L1, coupled-decay Adam, cosine warm restarts, batch 4.
    history = pansharpening.train(model, patches, epochs, batch_size=4, seed=args.seed,
                                  verbose=0 if args.smoke else 2)
    print(f"trained {epochs} epoch(s): L1 loss {history.history['loss'][0]:.4f} -> {history.history['loss'][-1]:.4f}")

    # 4. Reduced-resolution evaluation against gt, next to the bicubic upsampling.
    result = pansharpening.evaluate(model, test, out_dir=out)
    bicubic = pansharpening.evaluate(test["lms"], test)
    print(f"\n{'':<9} {'PSNR':>8} {'CC':>7} {'SSIM':>7} {'SAM':>7} {'ERGAS':>7}")
    for name, r in (("HS-BiNet", result), ("bicubic", bicubic)):
        print(f"{name:<9} {r['PSNR']:>8.3f} {r['CC']:>7.4f} {r['SSIM']:>7.4f} {r['SAM']:>7.3f} {r['ERGAS']:>7.3f}")
    (out / "metrics.json").write_text(json.dumps({"hsbinet": result, "bicubic": bicubic}, indent=2, default=str))
    for name in ("preview.png", "error.png", "metrics.json"):
        print(f"  wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
