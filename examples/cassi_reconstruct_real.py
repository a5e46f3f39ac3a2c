"""Reconstruct a real CASSI measurement with the published real-system BiSRNet weights.

The real system measures a 660x714 snapshot: 28 spectral bands of a 660x660
scene, each shifted 2 pixels further along the width by the disperser
(714 = 660 + 2 x 27). The real variant of BiSRNet takes that raw measurement
(no mask input), shifts it back inside the model and outputs the
660x660x28 cube. There is no ground truth for real measurements, so this
script reports the cube's statistics and writes previews to look at.

Steps: read the measurement (`.mat` key `meas_real`, or `.npy`), scale it as
the reference does (`larq_hsi.tasks.cassi.physics.prepare_real_measurement`:
clip to [0, 1], then `y / max(y) * 0.8`), build `BiSRNet(variant="real")`
and load the published weights
(`larq_hsi.models.pretrained.load_bisrnet_reference`), reconstruct.

Run (from the repository root; the data live in `../shared/`, next to it):

    .venv/bin/python examples/cassi_reconstruct_real.py                    # scene 1, ~15 s
    .venv/bin/python examples/cassi_reconstruct_real.py --measurement ../shared/data/cassi/real_meas_scene3.mat
    .venv/bin/python examples/cassi_reconstruct_real.py --smoke            # a 64x64 window, seconds

`--smoke` reconstructs only a 64-row, 64 + 54 = 118-column window of the
(scaled) measurement: the cube's central 64x64 pixels (a measurement window
is 2 x 27 = 54 columns wider than the cube it covers).

Prints the cube's shape, value range and mean spectrum; writes under `--out`
(default `runs/examples/cassi_reconstruct_real`) `cube.npy`, `cube.mat`
(key `cube`), `rgb.png` (false colour), `bands.png` (8 bands with their
wavelengths) and `spectra.png` (spectra at 4 pixels). Exits with status 2 and
one line on stderr if the measurement or the weights are missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_hsi import io, viz  # noqa: E402
from larq_hsi.checks import reconstruct  # noqa: E402
from larq_hsi.models import BiSRNet  # noqa: E402
from larq_hsi.models.pretrained import load_bisrnet_reference  # noqa: E402
from larq_hsi.spectra import wavelengths_for  # noqa: E402
from larq_hsi.tasks.cassi import physics  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

# The reference data live next to the repository, not in it (see ../shared/README.md).
REQUIRES_SHARED = True
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BANDS, STEP = 28, 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measurement", default=str(SHARED / "data" / "cassi" / "real_meas_scene1.mat"),
                        help="real measurement, .mat (key meas_real) or .npy (default: ../shared scene 1)")
    parser.add_argument("--weights", default=str(SHARED / "reference" / "bisrnet_real_weights.npz"),
                        help="published real-system weights (default: ../shared/reference/...)")
    parser.add_argument("--out", default="runs/examples/cassi_reconstruct_real", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="reconstruct a 64x64 window only (seconds)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for what, path in (("measurement", args.measurement), ("weights", args.weights)):
        if not Path(path).is_file():
            print(f"{Path(sys.argv[0]).name}: {what} not found: {path} (the reference data live in "
                  f"../shared next to the repository; pass --{what} PATH)", file=sys.stderr)
            return 2

    # 1. The measurement, scaled as the reference scales real measurements.
    y = physics.prepare_real_measurement(io.read_measurement(args.measurement))
    height, width = y.shape[0], y.shape[1] - STEP * (BANDS - 1)
    print(f"measurement {Path(args.measurement).name}: {y.shape[0]}x{y.shape[1]} "
          f"-> a {height}x{width}x{BANDS} cube (dispersion step {STEP})")
    if args.smoke:
        # Cube pixel (r, c) of band n is measured at (r, c + STEP n): the cube's window
        # [top, top + 64) x [left, left + 64) needs 54 more measurement columns.
        size = 64
        top, left = (height - size) // 2, (width - size) // 2
        y = y[top : top + size, left : left + size + STEP * (BANDS - 1)]
        print(f"--smoke: the {y.shape[0]}x{y.shape[1]} window covering the cube's central {size}x{size} pixels")

    # 2. The real-system BiSRNet with the published weights (built for any size).
    model = BiSRNet(variant="real", input_size=None)
    load_bisrnet_reference(model, args.weights)
    print(f"BiSRNet (real variant) with {len(model.weights)} weight tensors from {Path(args.weights).name}")

    # 3. Reconstruct; the model clips nothing, the previews want [0, 1].
    cube = np.clip(reconstruct(model, y[None]), 0.0, 1.0)[0]
    print(f"cube {cube.shape}, values in [{cube.min():.3f}, {cube.max():.3f}], mean {cube.mean():.4f}")
    spectrum = cube.mean(axis=(0, 1))
    wavelengths = wavelengths_for(BANDS)
    print("mean spectrum: " + ", ".join(f"{w:.0f} nm {v:.3f}" for w, v in
                                        list(zip(wavelengths, spectrum))[:: max(1, BANDS // 7)]))

    # 4. The cube and its previews.
    for path in viz.save_cube(cube, args.out):
        print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
