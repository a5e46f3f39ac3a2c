"""SavedModel save and load time of BiSRNet, and which protobuf runtime does the work.

`to_savedmodel(verify=False)` writes the model, `savedmodel.load` reads it
back as Keras, `tf.saved_model.load` as a bare graph; each is timed `--repeats`
times in this process (the first write also traces the serving signature).
Prints one table row per step with the protobuf version and implementation
(`python`, `cpp` or `upb`). Compare runtimes by putting another protobuf first
on the path:

    python benchmarks/savedmodel.py                         # the pinned protobuf (4.25.5, upb)
    pip install --target /tmp/pb3 --no-deps protobuf==3.20.3
    PYTHONPATH=/tmp/pb3 python benchmarks/savedmodel.py     # the old pin: pure Python on 3.11
    python benchmarks/savedmodel.py --quick                 # same table, one repeat
    python benchmarks/savedmodel.py --trained               # compiled, with Adam's slots, as after training

For comparison it also times the two Keras formats that are not SavedModels
(no serving signature to trace): the Keras v3 `.keras` file (`model.save`,
`load_model`) and the model's config with an `.h5` weights file
(`Model.from_config` and `load_weights`).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from google.protobuf import __version__ as PROTOBUF_VERSION  # noqa: E402
from google.protobuf.internal import api_implementation  # noqa: E402

import _quick  # noqa: E402
from larq_hsi.deploy import savedmodel  # noqa: E402
from larq_hsi.models.bisrnet import BiSRNet  # noqa: E402
from larq_hsi.training.runs import create_optimizer_slots  # noqa: E402

QUICK = {"repeats": 1}  # `--quick`


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trained", action="store_true",
                        help="compile with the CASSI recipe's Adam and create its slots first, as a trained model has "
                             "(to_savedmodel leaves them out)")
    args = _quick.parse_args(parser, argv, QUICK)
    _quick.announce(args)
    repeats = args.repeats
    tf.get_logger().setLevel("ERROR")
    logging.getLogger("larq.layers_base").setLevel(logging.ERROR)  # one "starved weights" line per layer
    model = BiSRNet(input_size=(256, 256))
    if args.trained:
        model.compile(optimizer=tf.keras.optimizers.legacy.Adam(1e-4), loss="mse")
        create_optimizer_slots(model)
    times = {"save": [], "load (Keras)": [], "load (graph)": [], ".keras save": [], ".keras load": [],
             "config + .h5 save": [], "config + .h5 load": []}
    with tempfile.TemporaryDirectory() as folder:
        for i in range(repeats):
            path = os.path.join(folder, f"m{i}")
            start = time.perf_counter()
            savedmodel.to_savedmodel(model, path, verify=False)
            times["save"].append(time.perf_counter() - start)
            start = time.perf_counter()
            savedmodel.load(path)
            times["load (Keras)"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tf.saved_model.load(path)
            times["load (graph)"].append(time.perf_counter() - start)
            keras_file = path + ".keras"
            start = time.perf_counter()
            model.save(keras_file)
            times[".keras save"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tf.keras.models.load_model(keras_file, compile=False)
            times[".keras load"].append(time.perf_counter() - start)
            weights_file = path + ".h5"
            start = time.perf_counter()
            config = model.get_config()
            model.save_weights(weights_file)
            times["config + .h5 save"].append(time.perf_counter() - start)
            start = time.perf_counter()
            tf.keras.Model.from_config(config).load_weights(weights_file)
            times["config + .h5 load"].append(time.perf_counter() - start)
    runtime = f"protobuf {PROTOBUF_VERSION} ({api_implementation.Type()})"
    print(f"| runtime | step | first (s) | median of {repeats} (s) |")
    print("| --- | --- | ---: | ---: |")
    for step, values in times.items():
        print(f"| {runtime} | {step} | {values[0]:.2f} | {statistics.median(values):.2f} |")
    print()
    for name, save, load in (("SavedModel save + Keras load", "save", "load (Keras)"),
                             (".keras save + load", ".keras save", ".keras load"),
                             ("config + .h5 save + load", "config + .h5 save", "config + .h5 load")):
        total = statistics.median(times[save]) + statistics.median(times[load])
        print(f"{name}, median: {total:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
