"""Export BiSRNet to a true 1-bit TFLite flatbuffer with larq-compute-engine and check it.

Steps:

1. Build BiSRNet (simulation variant) at a fixed input size (a flatbuffer has
   fixed shapes) and load the published simulation weights from
   `../shared/reference/bisrnet_simulation_weights.npz`. Without `../shared`
   the weights are freshly initialised (the export works the same; the
   reconstruction is then meaningless) and a note says so.
2. `larq_hsi.deploy.tflite.to_tflite` converts it with larq-compute-engine and
   reports, per binarized Keras layer, whether it became a bit-packed
   `LceBconv2d` op or stayed a float convolution, and why. The published
   BiSRNet's grouped 3x3 convs (4 channels per group) stay float: LCE binarizes
   grouped convs only with a multiple of 32 input channels per group.
   `--ungrouped` exports `BiSRNet(ff_groups=1)` instead (fresh weights), where
   every binary conv converts. The report compares the file's size with the
   theoretical 1-bit storage and with the best this converter can do.
3. Runs the flatbuffer in LCE's interpreter (`tflite.lce_predict`) on one
   scene and compares it with the Keras model: PSNR of LCE against Keras, and
   of both against the ground truth. Expect LCE and Keras to agree
   statistically, not bit for bit: a binarized pre-activation within float
   rounding of zero may flip sign (see docs/deployment.md).

The input is the reference fixture's KAIST scene measured through the
benchmark mask (`../shared/reference/bisrnet_simulation_fixture.npz`), or a
synthetic scene through a random mask without `../shared`.

Run:

    .venv/bin/python examples/export_tflite.py               # 256x256, ~1 minute
    .venv/bin/python examples/export_tflite.py --ungrouped
    .venv/bin/python examples/export_tflite.py --smoke       # 32x32, seconds

Prints the conversion report, the layers that stayed float with their
reasons, and the PSNRs; writes `bisrnet.tflite` and `report.json` under
`--out` (default `runs/examples/export_tflite`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_hsi import metrics  # noqa: E402
from larq_hsi.deploy import tflite  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.models.pretrained import load_bisrnet_reference  # noqa: E402
from larq_hsi.synthetic import synthetic_scene  # noqa: E402
from larq_hsi.tasks.cassi import physics  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEIGHTS = SHARED / "reference" / "bisrnet_simulation_weights.npz"
FIXTURE = SHARED / "reference" / "bisrnet_simulation_fixture.npz"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="input height and width (default 256)")
    parser.add_argument("--ungrouped", action="store_true",
                        help="export BiSRNet(ff_groups=1), fresh weights: every binary conv converts")
    parser.add_argument("--out", default="runs/examples/export_tflite", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="32x32 input (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size = 32
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = args.size

    # 1. The model, at the deployment size, with the published weights when available.
    model = registry.build("bisrnet-ungrouped" if args.ungrouped else "bisrnet", input_size=(size, size))
    published = not args.ungrouped and WEIGHTS.is_file()
    if published:
        load_bisrnet_reference(model, WEIGHTS)
        origin = f"published weights {WEIGHTS.name}"
    else:
        origin = ("fresh weights (the published ones are for the grouped network)" if args.ungrouped else
                  f"fresh weights: {WEIGHTS} not found, so the reconstruction below is meaningless")
    print(f"BiSRNet{' (ungrouped)' if args.ungrouped else ''} at {size}x{size}, {origin}")

    # One input scene: the fixture's KAIST scene and the benchmark mask, or synthetic stand-ins.
    if FIXTURE.is_file():
        with np.load(FIXTURE) as fixture:
            cube, mask = fixture["cube"][:size, :size], fixture["mask"][:size, :size]
        source = "the reference fixture's scene and mask"
    else:
        cube, mask = synthetic_scene(size, seed=0), physics.random_mask((size, size), seed=0)
        source = "a synthetic scene through a random mask"
    if cube.shape[:2] != (size, size):
        raise SystemExit(f"export_tflite.py: --size {size} is larger than the {cube.shape[0]}x{cube.shape[1]} scene")
    sim = physics.simulate(cube[None].astype(np.float32), mask.astype(np.float32))
    inputs = {"H": sim.H.numpy(), "Phi": sim.Phi.numpy()}

    # 2. Convert and report.
    report = tflite.to_tflite(model, out / "bisrnet.tflite")
    print(f"\n== Conversion ({report.method} route, {report.seconds:.1f} s)")
    print(report)
    print(f"\n{len(report.converted_layers)} binarized layers became LceBconv2d, e.g. "
          + ", ".join(r.name for r in report.converted_layers[:3]))
    for row in report.float_layers:
        print(f"  stayed {row.status} ({row.op}): {row.name}, kernel {row.kernel_shape}, groups {row.groups}")
    ops = Counter(report.ops)
    print("op histogram: " + ", ".join(f"{name} {count}" for name, count in ops.most_common(8)) + ", ...")

    # 3. Run the flatbuffer in LCE's interpreter and compare with Keras.
    keras_out = model.predict([inputs["H"], inputs["Phi"]], verbose=0)
    lce_out = tflite.lce_predict(report, inputs)
    peak = float(np.max(np.abs(keras_out)))
    lce_vs_keras = float(metrics.psnr(keras_out, lce_out, max_val=peak))
    keras_vs_truth = float(metrics.psnr(cube[None], np.clip(keras_out, 0, 1)))
    lce_vs_truth = float(metrics.psnr(cube[None], np.clip(lce_out, 0, 1)))
    print(f"\n== LCE interpreter vs Keras on {source} ({size}x{size})")
    print(f"PSNR LCE vs Keras      {lce_vs_keras:7.2f} dB  (peak = max |Keras output|)")
    print(f"PSNR Keras vs truth    {keras_vs_truth:7.2f} dB")
    print(f"PSNR LCE vs truth      {lce_vs_truth:7.2f} dB")

    summary = {
        "size": size, "published_weights": published, "weights": origin, "input": source,
        "flatbuffer": str(out / "bisrnet.tflite"), "flatbuffer_bytes": report.flatbuffer_bytes,
        "theoretical_bytes": report.theoretical_bytes, "convertible_bytes": report.convertible_bytes,
        "binary_ops": report.binary_ops, "float_convs": report.float_convs,
        "float_layers": [{"name": r.name, "op": r.op, "reason": r.reason} for r in report.float_layers],
        "psnr_lce_vs_keras": lce_vs_keras, "psnr_keras_vs_truth": keras_vs_truth,
        "psnr_lce_vs_truth": lce_vs_truth,
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {out / 'bisrnet.tflite'} and {out / 'report.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
