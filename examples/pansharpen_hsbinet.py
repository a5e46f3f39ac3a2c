"""Binarized hyperspectral pan-sharpening with HS-BiNet (ATISTE estimator) on simulated data.

Pan-sharpening fuses a low-resolution hyperspectral image (`ms`) with a
high-resolution panchromatic one (`pan`) into a high-resolution hyperspectral
image. Following Wald's protocol (`larq_hsi.tasks.pansharpening.simulate`), a
reference cube `gt` is blurred by a Gaussian MTF and decimated by 4 to give
`ms`, and averaged over its bands to give `pan`; a model is scored against
`gt`. The reference cubes here are seeded *synthetic* scenes (stand-ins, not a
benchmark: numbers on them say nothing about real data).

Steps: simulate training and held-out test scenes, cut aligned training
patches (64x64 PAN / 16x16 `ms`, the paper's WDC patches), train HS-BiNet
(`--unit atiste`, its own estimator) with the paper's recipe through
`larq_hsi.training.train(PansharpeningConfig(...))` (L1 loss, Adam 1e-3 with
coupled weight decay 1e-5 on the weights only, cosine warm restarts, batch 4),
which scores the model on the whole held-out scenes
(`larq_hsi.tasks.pansharpening.evaluate.evaluate_model`: PSNR, CC, SSIM, SAM
in degrees, ERGAS) next to the bicubic upsampling `lms` it starts from.

Run:

    .venv/bin/python examples/pansharpen_hsbinet.py             # 31 bands, 20 epochs, a few minutes
    .venv/bin/python examples/pansharpen_hsbinet.py --unit reactnet
    .venv/bin/python examples/pansharpen_hsbinet.py --smoke     # 8 bands, a narrow model, seconds

Prints the model's size (`complexity.profile`), the training loss, and the
metrics table. Writes under `--out` (default `runs/examples/pansharpen_hsbinet`)
`preview.png` (pseudo-colour: HS-BiNet, reference, bicubic), `error.png`
(absolute error of one band) and `metrics.json`, next to the run's own
`run.json`, `log.csv`, `checkpoints/`, `tensorboard/` and `savedmodel/`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import tensorflow as tf  # noqa: E402

from larq_hsi import complexity, training  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.nn.units import HSBINET_UNITS  # noqa: E402
from larq_hsi.tasks.pansharpening.dataset import extract_patches, synthetic_pansharpening  # noqa: E402
from larq_hsi.tasks.pansharpening.evaluate import evaluate_model  # noqa: E402
from larq_hsi.tasks.pansharpening.recipe import PansharpeningConfig  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

RATIO = 4  # synthetic_pansharpening's PAN / HS ratio


@dataclasses.dataclass(kw_only=True)
class HSBiNetConfig(PansharpeningConfig):
    """The pan-sharpening recipe with HS-BiNet's width and depth as settings (the recipe's: 64 and 4)."""

    hidden: int = 64
    num_blocks: int = 4

    def build_model(self) -> tf.keras.Model:
        # Built for any input size: it trains on patches and is scored on whole scenes.
        return registry.build(self.model, input_size=None, bands=self.bands, ratio=RATIO, unit=self.unit,
                              hidden=self.hidden, num_blocks=self.num_blocks, seed=self.seed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", "--estimator", dest="unit", default="atiste", choices=HSBINET_UNITS,
                        help="binary conv unit (sign estimator; default atiste, HS-BiNet's)")
    parser.add_argument("--bands", type=int, default=31, help="spectral bands of the synthetic scenes")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--scenes", type=int, default=8, help="synthetic training scenes (128x128 PAN)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/examples/pansharpen_hsbinet", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="8 bands, a 16-feature model, 2 steps (seconds)")
    return parser.parse_args(argv)


def epoch_losses(out: Path, epochs: int) -> list[float]:
    """The last `epochs` training losses of the run's `log.csv` (it appends across runs)."""
    with open(out / "log.csv", newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)][-epochs:]


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.smoke:
        # Tracing the training graph costs more than the few eager steps of a smoke run.
        tf.config.run_functions_eagerly(True)
    size, hidden, blocks = (64, 16, 1) if args.smoke else (128, 64, 4)
    bands, scenes, epochs = (8, 2, 2) if args.smoke else (args.bands, args.scenes, args.epochs)
    config = HSBiNetConfig(out_dir=str(out), unit=args.unit, scenes=scenes, scene_size=size, bands=bands,
                           crop_size=64, batch_size=4, epochs=epochs, seed=args.seed, hidden=hidden,
                           num_blocks=blocks)

    # 1. Simulated data (Wald's protocol, ratio 4) as the recipe draws it: aligned training patches
    #    of `scenes` scenes, and two held-out test scenes (other seeds).
    patches = extract_patches(synthetic_pansharpening(scenes, size=size, bands=bands, seed=args.seed), crop_size=64)
    test = synthetic_pansharpening(2, size=size, bands=bands, seed=args.seed + 10_000)
    print(f"{scenes} training scene(s) -> {len(patches['gt'])} patches: ms "
          f"{patches['ms'].shape[1:]}, pan {patches['pan'].shape[1:]}; {len(test['gt'])} test scene(s) "
          f"{test['gt'].shape[1:]}")

    # 2. HS-BiNet's cost at a 16x16 HS (64x64 PAN) patch.
    cost = complexity.profile(registry.build("hsbinet", input_size=(16, 16), bands=bands, ratio=RATIO,
                                             hidden=hidden, num_blocks=blocks, unit=args.unit))
    print(f"HS-BiNet ({args.unit}, {hidden} features, {blocks} blocks): {cost.binary_params:,} one-bit "
          f"weights, {cost.float_params:,} 32-bit parameters, {cost.storage_bytes / 1e3:.1f} KB; "
          f"{cost.binary_macs / 1e6:.1f} M binary + {cost.float_macs / 1e6:.1f} M float MACs per 64x64 patch")

    # 3. The paper's recipe: L1, coupled-decay Adam, cosine warm restarts, batch 4; then the
    #    reduced-resolution evaluation against gt on the held-out scenes (with the figures).
    run = training.train(config, verbose=0 if args.smoke else 2)
    losses = epoch_losses(out, epochs)
    print(f"trained {epochs} epoch(s): L1 loss {losses[0]:.4f} -> {run['final_loss']:.4f}")

    # 4. Next to the bicubic upsampling.
    result = run["validation"]
    bicubic = evaluate_model(test["lms"], test)
    print(f"\n{'':<9} {'PSNR':>8} {'CC':>7} {'SSIM':>7} {'SAM':>7} {'ERGAS':>7}")
    for name, r in (("HS-BiNet", result), ("bicubic", bicubic)):
        print(f"{name:<9} {r['PSNR']:>8.3f} {r['CC']:>7.4f} {r['SSIM']:>7.4f} {r['SAM']:>7.3f} {r['ERGAS']:>7.3f}")
    (out / "metrics.json").write_text(json.dumps({"hsbinet": result, "bicubic": bicubic}, indent=2, default=str))
    for name in ("preview.png", "error.png", "metrics.json"):
        print(f"  wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
