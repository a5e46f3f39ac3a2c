"""BNN methods side by side on BiSRNet's backbone: identical budget, seed, data and mask.

`larq_hsi.models.BinarizedUNet(method)` (registry names `unet-<method>`, and
`bisrnet` for BiSRNet's own BiSR-Conv) puts one binarization method's binary
conv unit (BNN, Bi-Real, IRNet, ReActNet, BTM, BBCU, or BiSRNet's own
BiSR-Conv) into the same U-shaped backbone, so every method has the same
binary convolutions and, up to a few per-channel parameters, the same size
(BiSRNet's Table 1 compares them so). This script trains each chosen method
for the same steps from the same seed on the same batches through the same
mask, with BiSRNet's recipe (`larq_hsi.training.train(CassiConfig(...))`: RMSE
loss, Adam 0.9/0.999, cosine annealing; IRNet gets its EDE schedule), and the
recipe evaluates each on the same held-out scenes
(`larq_hsi.tasks.cassi.evaluate.evaluate_model`).

The data are seeded *synthetic* scenes: stand-ins, not a benchmark. A few
hundred CPU steps are far from the paper's 300 epochs; the ranking they give
is not Table 1's. `benchmarks/cassi_methods.py` is the full version (all
methods, CAVE/KAIST data, the table and a chart).

Run:

    .venv/bin/python examples/cassi_compare_methods.py                 # 4 methods x 100 steps, several minutes
    .venv/bin/python examples/cassi_compare_methods.py --methods bnn bireal irnet bisr --steps 300
    .venv/bin/python examples/cassi_compare_methods.py --smoke         # 3 methods x 2 steps, 32x32

Prints one row per method: its bits (weights/activations), Params (K) and OPs
(G) in the papers' convention (`complexity.profile`: OPs_f + OPs_b / 64,
Params_f + Params_b / 32, trainable parameters as PyTorch counts them) at
256x256 (at the 32x32 training size with `--smoke`), the final training loss,
and PSNR (whole cube and the papers' 8-bit per-band PSNR) and SSIM on the test
scenes. Writes the same as `table.json` under `--out` (default
`runs/examples/cassi_compare_methods`), and each method's run folder
(`run.json`, `log.csv`, `savedmodel/`, ...) under `OUT/runs/METHOD/`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import tensorflow as tf  # noqa: E402

from larq_hsi import complexity, training  # noqa: E402
from larq_hsi.models import METHODS, PAPER_TABLE1, registry  # noqa: E402
from larq_hsi.tasks.cassi.recipe import CassiConfig  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)


def model_name(method: str) -> str:
    """The registry name of a method's network: BiSR-Conv is BiSRNet itself."""
    return "bisrnet" if method == "bisr" else f"unet-{method}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["bnn", "reactnet", "bbcu", "bisr"], choices=METHODS,
                        metavar="METHOD", help=f"among {' '.join(METHODS)} (default: bnn reactnet bbcu bisr)")
    parser.add_argument("--steps", type=int, default=100, help="training steps per method (default 100)")
    parser.add_argument("--crop", type=int, default=64, help="training crop size (default 64)")
    parser.add_argument("--lr", type=float, default=2e-3, help="initial learning rate, cosine-annealed to 1e-6")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/examples/cassi_compare_methods", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="3 methods x 2 steps on 32x32 (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.methods, args.steps, args.crop = ["bnn", "bbcu", "bisr"], 2, 32
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        # Tracing each method's training graph costs 30-60 s; for 2 steps eager execution is faster.
        tf.config.run_functions_eagerly(True)

    # The same data for every method: the recipe's seeded synthetic scenes (training and held-out
    # test scenes) and its seeded random mask (training sees its top-left crop x crop window).
    scene_size = args.crop if args.smoke else 128
    train_count, test_count = (2, 1) if args.smoke else (6, 2)
    figures_size = args.crop if args.smoke else 256
    print(f"budget per method: {args.steps} steps of 2 x {args.crop}x{args.crop} crops, Adam {args.lr:g} "
          f"cosine-annealed, RMSE loss, seed {args.seed}; {train_count} synthetic training scenes, "
          f"{test_count} test scenes {scene_size}x{scene_size}", flush=True)

    rows = []
    for method in args.methods:
        tf.keras.backend.clear_session()
        name = model_name(method)
        # IRNet's EDE schedule moves once per epoch: split the steps into (up to) 10 epochs.
        epochs = math.gcd(args.steps, 10)
        config = CassiConfig(
            out_dir=str(out / "runs" / method), model=name, synthetic_scenes=train_count,
            synthetic_size=scene_size, validation_scenes=test_count, crop_size=args.crop, batch_size=2,
            epochs=epochs, steps_per_epoch=args.steps // epochs, learning_rate=args.lr,
            final_learning_rate=1e-6, seed=args.seed,
        )
        run = training.train(config, verbose=0)  # evaluates the trained model on the held-out scenes
        result = run["validation"]
        cost = complexity.paper_figures(registry.build(name, input_size=(figures_size, figures_size)))
        row = {"method": method, "label": PAPER_TABLE1[method]["label"],
               "bits": "1/32" if method == "biconnect" else "1/1",
               "params_k": cost["params_k_trainable"], "ops_g": cost["ops_g"], "figures_size": figures_size,
               "final_loss": run["final_loss"], **result["mean"]}
        rows.append(row)
        print(f"  {row['label']:<9} trained: loss {row['final_loss']:.4f}, PSNR {row['psnr']:.2f} dB", flush=True)

    print(f"\nParams/OPs: the papers' convention at {figures_size}x{figures_size}; "
          "PSNR/SSIM: mean over the test scenes")
    print(f"{'method':<9} {'bits W/A':>8} {'Params(K)':>9} {'OPs(G)':>7} {'loss':>7} {'PSNR':>7} "
          f"{'PSNR-8bit':>9} {'SSIM':>6}")
    for r in rows:
        print(f"{r['label']:<9} {r['bits']:>8} {r['params_k']:>9.2f} {r['ops_g']:>7.3f} {r['final_loss']:>7.4f} "
              f"{r['psnr']:>7.2f} {r['psnr_8bit']:>9.2f} {r['ssim']:>6.3f}")
    (out / "table.json").write_text(json.dumps({"config": vars(args), "rows": rows}, indent=2))
    print(f"\nwrote {out / 'table.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
