"""Every assembled network of larq_hsi: its larq summary and what it costs, in two conventions.

For each model this prints `larq.models.summary` (per layer: input
precision, output shape, weights by bit width, memory, MACs by precision)
and `larq_hsi.complexity.profile`, which counts the cost two ways:

- *true 1-bit*: binary MACs (1-bit weights x 1-bit activations) and float
  MACs, one-bit kernel weights and 32-bit parameters, and the storage they
  need (1 bit per binary weight, 4 bytes per other parameter);
- *the papers' convention* (BiSRNet, BBCU): OPs = OPs_f + OPs_b / 64 and
  Params = Params_f + Params_b / 32 (a binary op or weight counted as 1/64 or
  1/32 of a float one).

The models are every entry of `larq_hsi.models.registry` (`registry.names()`),
the ones `larq-hsi summary` knows: the published BiSRNet in its simulation and
real-system variants, the ungrouped BiSRNet that converts to true 1-bit ops,
BiSRNet's full-precision base model, the BNN baselines of BiSRNet's Table 1
on its backbone (`unet-<method>`), HS-BiNet, BBCU-L/M on SRResNet, BBCU's
DnCNN and DnCNN-3, and their full-precision and Lite counterparts. Each is
built at the papers' input size (and arguments: x4, 191 bands) unless
`--size` is given (MACs scale with the pixels; parameters do not depend on
the size).

Run:

    .venv/bin/python examples/summaries.py                       # all models, papers' sizes
    .venv/bin/python examples/summaries.py --models bisrnet hsbinet --size 64
    .venv/bin/python examples/summaries.py --smoke               # one model per family at 32x32

Prints the summaries, then one table of every model; writes that table as
`summaries.json` under `--out` (default `runs/examples/summaries`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import larq as lq  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_hsi import complexity  # noqa: E402
from larq_hsi.models import registry  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

# Building a BiSRNet-sized model takes about 3 s of CPU: --smoke builds one model per family.
SMOKE = ["bisrnet", "bisr-base", "hsbinet", "bbcu-srresnet-m", "bbcu-dncnn", "unet-reactnet"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=registry.names(), default=registry.names(),
                        metavar="MODEL", help=f"default: all of {' '.join(registry.names())}")
    parser.add_argument("--size", type=int, help="square input size for every model (default: the papers')")
    parser.add_argument("--no-table", action="store_true", help="skip the per-layer larq summaries")
    parser.add_argument("--out", default="runs/examples/summaries", help="output folder")
    parser.add_argument("--smoke", action="store_true",
                        help=f"32x32, and unless --models is given one model per family: {' '.join(SMOKE)}")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size = args.size or 32
        if not any(a == "--models" or a.startswith("--models=") for a in (argv or sys.argv[1:])):
            args.models = SMOKE
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models:
        size = (args.size, args.size) if args.size else registry.ENTRIES[name].paper_size
        tf.keras.backend.clear_session()
        model = registry.build(name, input_size=size) if args.size else registry.build(name)
        print(f"\n{'=' * 100}\n{name} at {size[0]}x{size[1]}\n{'=' * 100}")
        if not args.no_table:
            lq.models.summary(model)
        profile = complexity.profile(model)
        print(profile)
        rows.append({"model": name, "input_size": list(size), "binary_params": profile.binary_params,
                     "float_params": profile.float_params, "storage_kb": profile.storage_bytes / 1e3,
                     "binary_macs": profile.binary_macs, "float_macs": profile.float_macs,
                     "paper_params_k": profile.paper_params / 1e3, "paper_ops_g": profile.paper_ops / 1e9})

    print(f"\n{'model':<20} {'size':>9} | {'1-bit W':>9} {'32-bit W':>9} {'KB':>8} {'bin MACs':>10} "
          f"{'float MACs':>10} | {'Params(K)':>9} {'OPs(G)':>8}")
    for r in rows:
        size = "x".join(map(str, r["input_size"]))
        print(f"{r['model']:<20} {size:>9} | {r['binary_params']:>9,} {r['float_params']:>9,} "
              f"{r['storage_kb']:>8.1f} {r['binary_macs'] / 1e9:>9.3f}G {r['float_macs'] / 1e9:>9.3f}G | "
              f"{r['paper_params_k']:>9.2f} {r['paper_ops_g']:>8.3f}")
    print("1-bit W / 32-bit W: binary kernel weights / other parameters; KB: true storage; "
          "Params/OPs: the papers' convention (binary /32, /64)")
    (out / "summaries.json").write_text(json.dumps(rows, indent=2))
    print(f"wrote {out / 'summaries.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
