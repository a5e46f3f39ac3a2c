"""Image restoration with a BBCU network: x4 super-resolution, denoising or JPEG deblocking.

BBCU (Xia et al., ICLR 2023) binarizes restoration networks with its basic
binary conv unit: a learnable-threshold sign, a 1-bit conv, RPReLU and a
full-precision residual, with the network input scaled up by the residual
alignment factor k = 130. `larq_hsi.models.bbcu_model_for_task` gives the
paper's network per task: BBCU-L (SRResNet with its body binarized) for
super-resolution, the binarized DnCNN for denoising, DnCNN-3 for JPEG.

Steps: photographs bundled with scikit-image (no download; astronaut and
coffee to train, chelsea and rocket, or camera for JPEG, to test) are degraded
by `larq_hsi.restoration` (bicubic x4 downscaling, Gaussian noise sigma 25,
or JPEG quality 10), the network is trained on random patches with the
paper's recipe (L1 loss, Adam, the learning rate halved at fixed steps), then
restores the whole test images. Scores are the papers' conventions
(`restoration.task_psnr` / `task_ssim`: Y channel with the scale cropped for
SR, RGB for denoising, grayscale for JPEG), next to those of the degraded
input (bicubic upsampling for SR).

Run:

    .venv/bin/python examples/restore_bbcu.py                      # SR x4, 300 steps, several minutes
    .venv/bin/python examples/restore_bbcu.py --task denoise --steps 1000
    .venv/bin/python examples/restore_bbcu.py --smoke              # a narrow model, 2 steps, seconds

A few hundred CPU steps are a small fraction of the paper's training
(hundreds of thousands of iterations): expect the model to be at most a
little better than its input. With `--smoke` the network is narrowed
(16 features, 2 blocks / 5 layers) and the test images are cropped to 96x96.

Prints the model's size (`complexity.profile`), the training loss, and PSNR/SSIM
per test image; writes under `--out` (default `runs/examples/restore_bbcu`)
`metrics.json` and `preview.png` (degraded input, restored, clean).
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

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_hsi import complexity, restoration  # noqa: E402
from larq_hsi.models import bbcu_model_for_task  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

LEVELS = {"sr": 4, "denoise": 25, "jpeg": 10}  # scale, noise sigma (0-255), JPEG quality


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(LEVELS), default="sr",
                        help="sr (x4, BBCU-L), denoise (sigma 25) or jpeg (quality 10)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--patch", type=int, default=64, help="clean (HQ) training patch size")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4, help="initial learning rate, halved half-way (default 2e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/examples/restore_bbcu", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="narrow model, 2 steps, 96x96 test crops")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.patch, args.batch = 2, 32, 2
    return args


def save_preview(panels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    for ax, (title, image) in zip(axes, panels):
        image = np.clip(image, 0, 1)
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(args.seed)
    if args.smoke:
        # Tracing the training graph costs more than the two eager steps of a smoke run.
        tf.config.run_functions_eagerly(True)
    task, level = args.task, LEVELS[args.task]
    channels = 1 if task == "jpeg" else 3

    # 1. Images: scikit-image's bundled photographs, degraded by the task.
    train_images = restoration.sample_images(("astronaut", "coffee"), channels=channels)
    test_images = restoration.sample_images(("camera",) if task == "jpeg" else ("chelsea", "rocket"),
                                            channels=channels)
    if args.smoke:
        test_images = [image[:96, :96] for image in test_images[:1]]
    dataset = restoration.training_dataset(train_images, task, level, patch_size=args.patch,
                                           batch_size=args.batch, seed=args.seed)

    # 2. The paper's network for the task (narrowed for --smoke).
    narrow = {"sr": dict(features=16, num_blocks=2)}.get(task, dict(features=16, depth=5))
    model = bbcu_model_for_task(task, scale=level if task == "sr" else 4, **(narrow if args.smoke else {}))
    sized = bbcu_model_for_task(task, scale=level if task == "sr" else 4, input_size=(180, 320),
                                **(narrow if args.smoke else {}))
    cost = complexity.profile(sized)
    print(f"{model.name}: {cost.binary_params:,} one-bit weights, {cost.float_params:,} 32-bit parameters "
          f"({cost.storage_bytes / 1e3:.1f} KB); at a 320x180 input {cost.binary_macs / 1e9:.2f} G binary and "
          f"{cost.float_macs / 1e9:.2f} G float MACs, {cost.paper_ops / 1e9:.2f} G OPs (papers' convention)")

    # 3. L1 loss, Adam, the learning rate halved half-way (BBCU halves it every 200,000 iterations).
    schedule = restoration.halving_schedule(args.lr, max(1, args.steps // 2))
    model.compile(optimizer=tf.keras.optimizers.legacy.Adam(schedule), loss="mae")
    history = model.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0 if args.smoke else 2)
    print(f"trained {args.steps} steps of {args.batch} x {args.patch}x{args.patch} patches: "
          f"final L1 loss {history.history['loss'][-1]:.4f}")

    # 4. Whole test images: the model against its degraded input, in the papers' conventions.
    scale = level if task == "sr" else None
    rows, panels = [], None
    for index, (degraded, clean) in enumerate(restoration.evaluation_pairs(test_images, task, level)):
        restored = np.clip(model.predict(degraded[None], verbose=0)[0], 0, 1)
        if task == "sr":  # the input, brought to the output size for a fair comparison
            baseline = tf.image.resize(degraded[None], clean.shape[:2], method="bicubic").numpy()[0]
        else:
            baseline = degraded
        baseline = np.clip(baseline, 0, 1)
        rows.append({
            "image": index,
            "psnr": float(restoration.task_psnr(task, clean, restored, scale=scale)),
            "ssim": float(restoration.task_ssim(task, clean, restored, scale=scale)),
            "input_psnr": float(restoration.task_psnr(task, clean, baseline, scale=scale)),
            "input_ssim": float(restoration.task_ssim(task, clean, baseline, scale=scale)),
        })
        if panels is None:
            panels = [("bicubic x4" if task == "sr" else "degraded input", baseline),
                      (model.name, restored), ("clean", clean)]
    print(f"\n{'image':>5} {'PSNR':>7} {'SSIM':>7} | {'input PSNR':>10} {'input SSIM':>10}")
    for r in rows:
        print(f"{r['image']:>5} {r['psnr']:>7.2f} {r['ssim']:>7.4f} | {r['input_psnr']:>10.2f} "
              f"{r['input_ssim']:>10.4f}")
    (out / "metrics.json").write_text(json.dumps({"task": task, "level": level, "images": rows}, indent=2))
    save_preview(panels, out / "preview.png")
    print(f"\nwrote {out / 'metrics.json'} and {out / 'preview.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
