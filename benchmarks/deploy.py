"""Deployment sizes and CPU latency: SavedModel, float TFLite and LCE flatbuffer.

For each model (BiSRNet with the published weights, its ungrouped
`ff_groups=1` variant as built, HS-BiNet and BBCU-M x4 with perturbed,
trained-like weights) at
its paper's input size, prints:

- sizes: float SavedModel, float TFLite (TensorFlow's own converter), LCE
  flatbuffer (and the same without tensor names), their ratios, and the LCE
  flatbuffer's ratio to `theoretical_bytes` (1 bit per binarized kernel
  weight, 32 bits per other parameter) and to `convertible_bytes` (the
  kernels LCE keeps float counted at 32 bits);
- median latency of one inference, float TFLite (`tf.lite.Interpreter`,
  XNNPACK) vs LCE (`larq_compute_engine` interpreter), with 1 and 2 threads;
- agreement: PSNR of the LCE and float TFLite outputs against Keras float32.

LCE's optimised binary kernels target aarch64 (Raspberry Pi, phones); on x86
its interpreter runs portable kernels, so the latencies printed on an x86
machine say nothing about a device. Sizes hold everywhere.

A second, size-only table shows why the flatbuffer's distance to
`convertible_bytes` depends on the weights: as built (per-channel vectors of
1s and 0s) the converter folds and dedupes them; trained (or here perturbed)
vectors each stay a tensor with its own ops.

    python benchmarks/deploy.py                      # all four models; BiSRNet at 256x256
    python benchmarks/deploy.py --real               # also the real system at 660x660
    python benchmarks/deploy.py --models bisrnet --threads 1 --repeats 3
    python benchmarks/deploy.py --size 64 --no-weights-study   # quick look
    python benchmarks/deploy.py --quick                         # the same tables for BiSRNet at 64x64, 1 thread

New networks plug in through `MODELS` (name -> builder of a float32 Keras model).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("larq.layers_base").setLevel(logging.ERROR)

import _quick  # noqa: E402
from larq_hsi.deploy import flatbuffer, savedmodel, tflite  # noqa: E402
from larq_hsi.models import registry  # noqa: E402
from larq_hsi.models.pretrained import load_bisrnet_reference  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
# `--quick`: one model at a small input, one thread, one repeat; sizes then are the model's, latencies are not.
QUICK = {"models": "bisrnet", "size": 64, "threads": "1", "repeats": 1}
PAPER_SIZE = {"simulation": 256, "real": 660}


def _bisrnet(variant, size, **kwargs):
    model = registry.build("bisrnet-real" if variant == "real" else "bisrnet", input_size=(size, size), **kwargs)
    path = SHARED / "reference" / f"bisrnet_{variant}_weights.npz"
    if not kwargs and path.exists():
        load_bisrnet_reference(model, path)
        return model, "published"
    return model, "as built (no published weights)"


def _trained_like(model, seed=0, scale=0.05):
    """Every weight moved off its initial value, as training would move it.

    As built, zero-initialised kernels and per-channel vectors of 1s and 0s
    fold away or dedupe in the converter, which makes the file look smaller
    than any trained model's (HS-BiNet's zero-initialised projection even
    makes it an exact bicubic upsampler).
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        moved = w.numpy() + rng.uniform(-scale, scale, size=w.shape).astype(w.dtype.as_numpy_dtype)
        if "alpha" in w.name or "lambda" in w.name:  # keep the estimators legal
            moved = np.clip(np.abs(moved), 1e-3, 1.0 if "lambda" in w.name else 10.0)
        w.assign(moved)
    return model, "trained-like (perturbed)"


# name (as `larq_hsi.models.registry` spells it) -> (builder(variant, size) -> (float32 model, weights
# description), description).
# BiSRNet entries follow --real/--size; the others are built at their paper's input size.
MODELS = {
    "bisrnet": (lambda variant, size: _bisrnet(variant, size),
                "published BiSRNet (grouped 3x3 block convs)"),
    "bisrnet-ungrouped": (lambda variant, size: _bisrnet(variant, size, ff_groups=1),
                          "BiSRNet(ff_groups=1)"),
    "hsbinet": (lambda variant, size: _trained_like(registry.build("hsbinet", input_size=(16, 16), bands=191,
                                                                   seed=0)),
                "HS-BiNet, 191 bands (WDC), 16x16 HS + 64x64 PAN (Table 4's patch)"),
    "bbcu-srresnet-m": (lambda variant, size: _trained_like(registry.build("bbcu-srresnet-m")),  # x4, 180x320
                        "BBCU-M x4 on SRResNet, 320x180 input (BBCU's tables)"),
}
CASSI_MODELS = ("bisrnet", "bisrnet-ungrouped")


def _inputs(model, variant, size, rng):
    """The fixture's network input (cropped) when ../shared has it, else random data."""
    fixture = SHARED / "reference" / "bisrnet_simulation_fixture.npz"
    if variant == "simulation" and fixture.exists() and size <= 256:
        with np.load(fixture) as data:
            h = data["H"][:size, :size][None]
            mask = np.repeat(data["mask"][:size, :size, None], 28, axis=-1)[None]
        return [h.astype("float32"), mask.astype("float32")], "fixture"
    scene = SHARED / "data" / "cassi" / "real_meas_scene1.mat"
    if variant == "real" and scene.exists():
        import scipy.io

        width = int(model.inputs[0].shape[2])
        y = scipy.io.loadmat(str(scene))["meas_real"][:size, :width].astype("float64")
        y = np.clip(y, 0, 1)
        return [(y / y.max() * 0.8)[None].astype("float32")], "scene 1"
    arrays = [rng.uniform(0, 1, size=(1,) + tuple(t.shape[1:])).astype("float32")
              for t in model.inputs]
    return arrays, "random"


def _median_latency(run, repeats):
    run()  # warm-up (allocation, first-touch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _float_runner(content, named, threads):
    """Run the float flatbuffer `content` in TensorFlow Lite's interpreter; inputs by name."""
    interpreter = tf.lite.Interpreter(model_content=content, num_threads=threads)
    interpreter.allocate_tensors()
    index = {flatbuffer.plain_name(d["name"]): d["index"] for d in interpreter.get_input_details()}
    out = interpreter.get_output_details()[0]["index"]

    def run():
        for name, array in named:
            interpreter.set_tensor(index[name], array)
        interpreter.invoke()
        return interpreter.get_tensor(out)

    return run


def _lce_runner(content, arrays, threads):
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    interpreter = Interpreter(content, num_threads=threads)
    return lambda: interpreter.predict(arrays if len(arrays) > 1 else arrays[0])


def _psnr(a, b, peak):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def measure(name, variant, size, threads, repeats, workdir, rng):
    build, _ = MODELS[name]
    t0 = time.perf_counter()
    model, weights = build(variant, size)
    shape = "+".join("x".join(str(d) for d in t.shape[1:3]) for t in model.inputs)
    label = f"{variant} {shape}" if name in CASSI_MODELS else shape
    row = {"model": name, "variant": variant, "input": label, "weights": weights}

    saved = savedmodel.to_savedmodel(model, workdir / f"{name}_{variant}_savedmodel", verify=False)
    row["savedmodel"] = saved.size_bytes
    float_fb = tflite.float_tflite(model)
    row["float_tflite"] = len(float_fb)
    report = tflite.to_tflite(model, workdir / f"{name}_{variant}.tflite")
    row["report"] = report
    row["lce"] = report.flatbuffer_bytes
    row["lce_stripped"] = len(flatbuffer.without_names(report.flatbuffer))

    arrays, data = _inputs(model, variant if name in CASSI_MODELS else None, size, rng)
    row["data"] = data
    keras_out = model(arrays if len(arrays) > 1 else arrays[0], training=False).numpy()
    peak = float(np.max(np.abs(keras_out)))
    named = list(zip(model.input_names, arrays))
    row["psnr_float"] = _psnr(_float_runner(float_fb, named, 1)(), keras_out, peak)
    lce_out = tflite.lce_predict(report, dict(named))
    row["psnr_lce"] = _psnr(lce_out, keras_out, peak)

    for n in threads:
        row[f"float_ms_{n}"] = 1e3 * _median_latency(_float_runner(float_fb, named, n), repeats)
        lce_run = _lce_runner(report.flatbuffer, arrays, n)
        row[f"lce_ms_{n}"] = 1e3 * _median_latency(lce_run, repeats)
    row["seconds"] = time.perf_counter() - t0
    return row


def weights_study(size, workdir):
    """LCE flatbuffer size vs convertible_bytes: as built vs trained-like per-channel vectors."""
    rows = []
    rng = np.random.default_rng(0)
    for name in ("bisrnet", "bisrnet-ungrouped"):
        model = registry.build(name, input_size=(size, size))
        for label in ("as built", "trained-like"):
            if label == "trained-like":
                if name == "bisrnet" and (SHARED / "reference").exists():
                    load_bisrnet_reference(model, SHARED / "reference" / "bisrnet_simulation_weights.npz")
                    label = "published"
                else:  # perturb every non-kernel vector, as training would
                    for w in model.weights:
                        if w.shape.rank == 1:
                            w.assign(w + rng.uniform(0.01, 0.1, size=w.shape).astype("float32"))
            report = tflite.to_tflite(model)
            rows.append((name, label, report))
    return rows


def _kb(n):
    return f"{n / 1e3:9.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {sorted(MODELS)}")
    parser.add_argument("--real", action="store_true",
                        help="also the real-system variant at 660x660 (slow: about 7x the pixels)")
    parser.add_argument("--size", type=int, default=None,
                        help="override the input size (default: the paper's, 256 or 660)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median)")
    parser.add_argument("--no-weights-study", action="store_true",
                        help="skip the size-only table of as-built vs trained weights")
    parser.add_argument("--out", default=None, help="keep the exported files in this folder")
    args = _quick.parse_args(parser, argv, QUICK)
    _quick.announce(args)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = set(names) - set(MODELS)
    if unknown:
        parser.error(f"unknown model(s) {sorted(unknown)}; choose from {sorted(MODELS)}")
    threads = [int(t) for t in args.threads.split(",")]
    variants = ["simulation"] + (["real"] if args.real else [])
    start = time.perf_counter()
    load = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.out or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        rows = []
        for variant in variants:
            size = args.size or PAPER_SIZE[variant]
            for name in names:
                if name not in CASSI_MODELS and variant != "simulation":
                    continue  # built once, at its own paper size
                print(f"measuring {name} ({variant}, {size}x{size}) ...", file=sys.stderr, flush=True)
                rows.append(measure(name, variant, size, threads, args.repeats, workdir, rng))
        study = [] if args.no_weights_study else weights_study(args.size or 256, workdir)

    print(f"# larq_hsi deployment benchmark: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"TF {tf.__version__}, LCE {_lce_version()}; load average at start {load[0]:.1f}, "
          f"at end {os.getloadavg()[0]:.1f} (other processes skew latencies)")
    print(f"# command: python benchmarks/deploy.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print()
    print("## Sizes (KB = 1000 bytes)")
    print()
    print("| model | input | weights | SavedModel | float TFLite | LCE | LCE, no names | "
          "theoretical | convertible | LCE / float TFLite | LCE / theoretical | "
          "LCE / convertible | LceBconv2d | float convs |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        rep = r["report"]
        print(f"| {r['model']} | {r['input']} | {r['weights']} | "
              f"{_kb(r['savedmodel'])} | {_kb(r['float_tflite'])} | {_kb(r['lce'])} | "
              f"{_kb(r['lce_stripped'])} | {_kb(rep.theoretical_bytes)} | {_kb(rep.convertible_bytes)} | "
              f"{r['lce'] / r['float_tflite']:.3f} | {rep.ratio_to_theoretical:.3f} | "
              f"{rep.ratio_to_convertible:.3f} | {rep.binary_ops} of {len(rep.layers)} | "
              f"{rep.float_convs} |")
    print()
    print("## Latency, median of", args.repeats, "runs (ms; x86 LCE runs portable kernels, "
          "not representative of aarch64)")
    print()
    header = " | ".join(f"float {n}T | LCE {n}T" for n in threads)
    print(f"| model | input | {header} | PSNR float TFLite vs Keras | PSNR LCE vs Keras |")
    print("| --- | --- | " + " | ".join("---: | ---:" for _ in threads) + " | ---: | ---: |")
    for r in rows:
        cells = " | ".join(f"{r[f'float_ms_{n}']:.0f} | {r[f'lce_ms_{n}']:.0f}" for n in threads)
        print(f"| {r['model']} | {r['input']} ({r['data']} data) | {cells} | "
              f"{r['psnr_float']:.1f} dB | {r['psnr_lce']:.1f} dB |")
    for r in rows:
        floats = r["report"].float_layers
        if floats:
            print(f"\n{r['model']}: {len(floats)} binarized layer(s) stayed float: {floats[0].reason}")
    if study:
        print()
        print("## LCE flatbuffer vs weights (size only, simulation input)")
        print()
        print("| model | weights | LCE | constants | graph (ops, tensors, names) | "
              "theoretical | convertible | LCE / theoretical | LCE / convertible |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, label, rep in study:
            print(f"| {name} | {label} | {_kb(rep.flatbuffer_bytes)} | {_kb(rep.constant_bytes)} | "
                  f"{_kb(rep.overhead_bytes)} ({sum(rep.ops.values())} ops, {rep.tensor_count} tensors) | "
                  f"{_kb(rep.theoretical_bytes)} | {_kb(rep.convertible_bytes)} | "
                  f"{rep.ratio_to_theoretical:.3f} | {rep.ratio_to_convertible:.3f} |")
    print(f"\n# total {time.perf_counter() - start:.0f} s")


def _lce_version():
    try:
        from importlib.metadata import version

        return version("larq-compute-engine")
    except Exception:  # pragma: no cover - metadata missing
        return "?"


if __name__ == "__main__":
    main()
