"""CPU wall time of one BiSRNet training step and of one inference.

What it measures (simulation BiSRNet, inputs `[H, Phi]`, each `(B, S, S, 28)`
float32 random data, on the CPU):

* train step: one `tf.function`-compiled step, `GradientTape` forward and
  backward with the RMSE loss `sqrt(mean((out - target)**2))`, then
  `Adam.apply_gradients` (batch `--batch`, default 2; the legacy fused Adam
  the CASSI recipe compiles with, its slots created before the first call as
  `training.train` does);
* inference: one `tf.function`-compiled `model(..., training=False)` call at
  batch 1 and at batch `--batch`;
* with `--fit`: the per-step time of `model.fit` (same data, loss and optimizer;
  it compiles a second training graph, about a minute more);
* with `--trace`: where the first call's time goes: the Python tracing time
  and graph op count of the forward pass alone, of forward and backward, and
  of the whole step with Adam's slots made inside the trace or before it
  (`create_optimizer_slots`), then TensorFlow's graph optimisation and the
  first run;
* with `--profile`: what dominates the step, as (a) a time split (forward only,
  forward + backward, full step) and (b) one step traced with the TF profiler
  (`tf.profiler.experimental`), summed per op type, per kind of layer (forward
  and backward apart) and per layer.

Each figure is the median of `--repeats` timed calls after `--warmup` untimed
ones (the first untimed call also pays tracing and graph optimisation, reported
apart as "first call"). At 256x256 and 128x128 the authors' PyTorch code's
step, measured on this kind of 2-core machine, is printed beside it with the ratio.

Run it with

    make bench                                     # every file in benchmarks/
    .venv/bin/python benchmarks/bisrnet_train_step.py
    .venv/bin/python benchmarks/bisrnet_train_step.py --profile
    .venv/bin/python benchmarks/bisrnet_train_step.py --trace --size 64
    .venv/bin/python benchmarks/bisrnet_train_step.py --repeats 3 --size 128 --fit
    .venv/bin/python benchmarks/bisrnet_train_step.py --quick     # the same table at 64x64, 1 warm-up, 2 repeats

The default run takes about 2.5 minutes on 2 cores (about one minute of it is
the tracing and first call of the training step); `--profile` adds about 2
minutes. Other processes on the machine slow every figure down: the table also
gives the process's CPU seconds per call, and the load average is printed.
`TF_XLA_FLAGS` is honoured, e.g. to time XLA auto-clustering of the elementwise ops:

    TF_XLA_FLAGS="--tf_xla_auto_jit=2 --tf_xla_cpu_global_jit --tf_xla_ops_to_cluster=FUSIBLE" \
        .venv/bin/python benchmarks/bisrnet_train_step.py
"""

from __future__ import annotations

import argparse
import collections
import gc
import glob
import logging
import os
import re
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _quick  # noqa: E402
from larq_hsi.models import BiSRNet  # noqa: E402
from larq_hsi.training.runs import create_optimizer_slots  # noqa: E402

# The authors' PyTorch BiSRNet on 2-core machines of this kind (torch 2.13 CPU, batch 2), by crop size:
# (fastest, slowest) seconds per training step, and where the figure comes from.
REFERENCE_SECONDS = {
    256: (7.5, 8.3, "issue 18, timed side by side with larq_hsi (4.9 s then), 2 threads"),
    128: (1.34, 1.34, "../shared/docs/reference-training-curve.md, its data pipeline included"),
}
BANDS = 28
QUICK = {"size": 64, "warmup": 1, "repeats": 2}  # `--quick`: the per-step figure is not the reference's


# --------------------------------------------------------------------------- timing


def rmse(target, output):
    return tf.sqrt(tf.reduce_mean(tf.square(output - target)))


def _block(result):
    """Waits for every tensor of `result` (copies it to numpy)."""
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)


def time_calls(fn, args, warmup, repeats):
    """`(first call s, [wall s], [cpu s])`: `warmup` untimed calls, then `repeats` timed ones.

    CPU seconds are this process's, all threads: with other processes competing
    for the cores, CPU time / cores is a steadier hint than wall time.
    """
    first = None
    for i in range(max(warmup, 1)):
        start = time.perf_counter()
        _block(fn(*args))
        if i == 0:
            first = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        _block(fn(*args))
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return first, walls, cpus


def make_optimizer(kind):
    if kind == "adam":
        return tf.keras.optimizers.Adam(learning_rate=1e-4)
    return tf.keras.optimizers.legacy.Adam(learning_rate=1e-4)


def make_data(batch, size, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, size, size, BANDS)
    return tuple(tf.constant(rng.random(shape, dtype=np.float32)) for _ in range(3))


def step_functions(model, optimizer):
    """The timed computations as plain Python functions: (train step, forward + backward, forward, inference)."""
    variables = model.trainable_variables

    def forward_train(h, phi, target):
        return rmse(target, model([h, phi], training=True))

    def forward_backward(h, phi, target):
        with tf.GradientTape() as tape:
            loss = forward_train(h, phi, target)
        return loss, tape.gradient(loss, variables)

    def train_step(h, phi, target):
        loss, grads = forward_backward(h, phi, target)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    def infer(h, phi):
        return model([h, phi], training=False)

    return train_step, forward_backward, forward_train, infer


def make_step_functions(model, optimizer):
    """`step_functions`, each compiled with `tf.function`."""
    return tuple(tf.function(fn) for fn in step_functions(model, optimizer))


class _BatchTimer(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.ends.append(time.perf_counter())

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def time_fit(args, data):
    """Per-step seconds of `model.fit` on a fresh model (first step, [later steps])."""
    model = BiSRNet(input_size=(args.size, args.size))
    model.compile(optimizer=make_optimizer(args.optimizer), loss=rmse)
    create_optimizer_slots(model)
    h, phi, target = data
    steps = max(args.warmup, 1) + args.repeats
    dataset = tf.data.Dataset.from_tensors(((h, phi), target)).repeat(steps)
    timer = _BatchTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    per_step = np.diff(timer.ends).tolist()
    return per_step[0], per_step[max(args.warmup, 1):], None


# ------------------------------------------------------------------------- profiling


def _layer_kind(layer):
    kind = type(layer).__name__
    if isinstance(layer, tf.keras.layers.Conv2D):
        k = layer.kernel_size[0]
        if layer.groups > 1:
            return f"{kind} {k}x{k} grouped ({layer.kernel.shape[2]} ch/group)"
        return f"{kind} {k}x{k}"
    return kind


def _unscoped_kind(op_name, op_type):
    """A label for ops outside any layer's name scope."""
    if op_name.startswith(("Adam/", "Adam:")) or op_name == "Adam":
        return "optimizer (Adam)"
    if op_type == "AddN":
        return "gradient accumulation (AddN, unscoped)"
    # The backward functions of `tf.custom_gradient` run outside the layers' name
    # scopes: TanhSign (mul, tanh+square, sub, sum) and ScaledSign (abs, less_equal, select).
    if op_type in ("LessEqual", "SelectV2", "Abs"):
        return "sign estimators backward (custom_gradient: ScaledSign)"
    if op_type in ("Mul", "Sub", "Sum", "_UnaryOpsComposition", "Tanh", "Square"):
        return "sign estimators backward (custom_gradient: TanhSign)"
    return "other (loss, unscoped)"


def read_trace(logdir, model):
    """Per-op events `(op_name, op_type, seconds)` of the TF executor threads in `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")))
    if not files:
        raise RuntimeError(f"no profiler trace written under {logdir}")
    space = xplane_pb2.XSpace()
    with open(files[-1], "rb") as f:
        space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or name.startswith("ExecutorState"):
                    continue
                op_name, op_type = name.rsplit(":", 1)
                events.append((op_name, op_type, event.duration_ps * 1e-12))
    return events


def summarise_trace(events, model, top):
    layers = {layer.name: layer for layer in model.layers}
    by_type = collections.Counter()
    count_type = collections.Counter()
    by_kind = collections.Counter()
    by_layer = collections.Counter()
    prefix = re.compile(r"^(gradient_tape/)?" + re.escape(model.name) + r"/([^/]+)/")
    for op_name, op_type, seconds in events:
        by_type[op_type] += seconds
        count_type[op_type] += 1
        match = prefix.match(op_name)
        if match and match.group(2) in layers:
            layer = layers[match.group(2)]
            direction = "backward" if match.group(1) else "forward"
            kind = _layer_kind(layer)
            if "Conv2D" in op_type:
                part = "conv"
            elif isinstance(layer, tf.keras.layers.Conv2D):
                part = "quantizers/other"
            else:
                part = None
            label = f"{kind} [{direction}]" + (f" {part}" if part else "")
            by_kind[label] += seconds
            by_layer[f"{layer.name} [{direction}]"] += seconds
        else:
            by_kind[_unscoped_kind(op_name, op_type)] += seconds
    total = sum(by_type.values())

    def table(title, counter, counts=None):
        print(f"\n{title}")
        print(f"  {'seconds':>8} {'share':>6}  {'ops':>5}  name")
        for key, value in counter.most_common(top):
            n = f"{counts[key]:5d}" if counts else "     "
            print(f"  {value:8.3f} {100 * value / total:5.1f}%  {n}  {key}")

    print(f"\nsum of op times in the traced step: {total:.2f} s (independent ops run "
          "concurrently, so this can exceed the wall time; shares are of this sum)")
    table("top op types", by_type, count_type)
    table("by kind of layer (forward / backward; 'conv' = the convolution kernels only)", by_kind)
    table("top layers", by_layer)
    return by_type, by_kind, total


def run_profile(args, model, fns, data, step_result):
    train_step, forward_backward, forward_train, infer = fns
    print(f"\n== profile: time split (medians of {args.repeats}, batch {args.batch}; "
          "cpu = this process's CPU seconds)")
    rows = []
    for label, fn in (("forward (training=True) + loss", forward_train),
                      ("forward + backward (gradients)", forward_backward)):
        _, walls, cpus = time_calls(fn, data, args.warmup, args.repeats)
        rows.append((label, statistics.median(walls), statistics.median(cpus)))
    rows.append(("full train step (+ Adam update)", statistics.median(step_result[2]),
                 statistics.median(step_result[3])))
    full_wall, full_cpu = rows[-1][1:]
    print(f"  {'':36s} {'wall s':>8} {'cpu s':>8} {'cpu share':>9}")
    for label, wall, cpu in rows:
        print(f"  {label:36s} {wall:8.3f} {cpu:8.3f} {100 * cpu / full_cpu:8.1f}%")
    (_, fw, fc), (_, bw, bc), _ = rows
    print(f"  => backward alone ~{bw - fw:.3f} s wall / {bc - fc:.3f} s cpu; optimizer update "
          f"~{full_wall - bw:.3f} s wall / {full_cpu - bc:.3f} s cpu")

    logdir = tempfile.mkdtemp(prefix="bisrnet_profile_")
    try:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        _block(train_step(*data))
        traced = time.perf_counter() - start
        tf.profiler.experimental.stop()
        print(f"\n== profile: one train step traced with tf.profiler ({traced:.2f} s wall with tracing)")
        summarise_trace(read_trace(logdir, model), model, args.top)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


# --------------------------------------------------------------------------- tracing


def run_trace_breakdown(args, data):
    """Python tracing time and graph ops of each part of the training step, on fresh models."""
    model = BiSRNet(input_size=(args.size, args.size))
    step_inside, gradients, forward, _ = step_functions(model, make_optimizer(args.optimizer))

    def trace(fn):
        function = tf.function(fn)
        gc.collect()  # the garbage of one trace is not charged to the next
        start = time.perf_counter()
        concrete = function.get_concrete_function(*data)
        return function, time.perf_counter() - start, len(concrete.graph.get_operations())

    rows = []
    for label, fn in (("the forward pass and loss", forward), ("forward and backward", gradients),
                      ("the whole step, Adam's slots made inside the trace", step_inside)):
        rows.append((label, *trace(fn)[1:]))
    optimizer = make_optimizer(args.optimizer)
    model.compile(optimizer=optimizer)
    start = time.perf_counter()
    create_optimizer_slots(model)
    slots = time.perf_counter() - start
    function, seconds, ops = trace(step_functions(model, optimizer)[0])
    rows.append((f"the whole step, slots made before ({slots:.1f} s eagerly)", seconds, ops))
    start = time.perf_counter()
    _block(function(*data))
    rows.append(("  then graph optimisation and the first run", time.perf_counter() - start, None))
    print(f"\n== where the first call goes ({args.optimizer}, {args.size}x{args.size}; Python tracing "
          "of each function on its own, from scratch)")
    print(f"  {'traced function':62s} {'seconds':>8} {'graph ops':>10}")
    for label, seconds, ops in rows:
        print(f"  {label:62s} {seconds:8.2f} {'' if ops is None else f'{ops:,d}':>10}")


# ------------------------------------------------------------------------------ main


def _row(label, first, times, cpus):
    cpu = f"{statistics.median(cpus):8.3f}" if cpus else f"{'-':>8}"
    return (f"  {label:34s} {statistics.median(times):8.3f} {min(times):8.3f} "
            f"{max(times):8.3f} {cpu} {first:10.2f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure (5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (2)")
    parser.add_argument("--batch", type=int, default=2, help="training batch size (2)")
    parser.add_argument("--size", type=int, default=256, help="height = width (256)")
    parser.add_argument("--optimizer", choices=("adam", "legacy-adam"), default="legacy-adam",
                        help="the legacy fused Adam (default, as the CASSI recipe) or tf.keras.optimizers.Adam")
    parser.add_argument("--fit", action="store_true", help="also time model.fit's steps")
    parser.add_argument("--profile", action="store_true", help="explain what dominates the step")
    parser.add_argument("--trace", action="store_true", help="explain where the first call's time goes")
    parser.add_argument("--top", type=int, default=15, help="rows per profile table (15)")
    args = _quick.parse_args(parser, argv, QUICK)
    if args.repeats < 1 or args.warmup < 0 or args.batch < 1 or args.size < 8:
        parser.error("need --repeats >= 1, --warmup >= 0, --batch >= 1, --size >= 8")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.getLogger("larq").setLevel(logging.ERROR)  # one "starved weights" warning per layer
    tf.get_logger().setLevel("ERROR")
    wall = time.perf_counter()
    load_before = os.getloadavg()
    _quick.announce(args)
    print(f"BiSRNet (simulation) on CPU: TF {tf.__version__}, {os.cpu_count()} cores, "
          f"batch {args.batch}, {args.size}x{args.size}x{BANDS}, {args.optimizer}, "
          f"warmup {args.warmup}, repeats {args.repeats}")
    if os.environ.get("TF_XLA_FLAGS"):
        print(f"TF_XLA_FLAGS={os.environ['TF_XLA_FLAGS']}")

    start = time.perf_counter()
    model = BiSRNet(input_size=(args.size, args.size))
    print(f"model built in {time.perf_counter() - start:.1f} s: {model.count_params():,} params, "
          f"{len(model.trainable_variables)} trainable variables")
    optimizer = make_optimizer(args.optimizer)
    model.compile(optimizer=optimizer)
    start = time.perf_counter()
    create_optimizer_slots(model)
    print(f"optimizer slots created in {time.perf_counter() - start:.1f} s (before the first call)")
    fns = make_step_functions(model, optimizer)
    train_step, _, _, infer = fns
    data = make_data(args.batch, args.size)

    results = []
    results.append((f"train step (tf.function), batch {args.batch}",
                    *time_calls(train_step, data, args.warmup, args.repeats)))
    step_median = statistics.median(results[0][2])
    step_result = results[0]
    for batch in sorted({1, args.batch}):
        h, phi, _ = make_data(batch, args.size, seed=1)
        results.append((f"inference, batch {batch}",
                        *time_calls(infer, (h, phi), args.warmup, args.repeats)))
    if args.fit:
        results.append((f"model.fit per step, batch {args.batch}", *time_fit(args, data)))

    print(f"\n  {'seconds (wall unless cpu)':34s} {'median':>8} {'min':>8} {'max':>8} "
          f"{'cpu med':>8} {'first call':>10}")
    for row in results:
        print(_row(*row))
    if not args.fit:
        print("  model.fit per step: not measured (add --fit; it compiles a second training graph)")
    print(f"\nthis run: {step_median:.2f} s per training step (batch {args.batch}, "
          f"{args.size}x{args.size}, wall median; {statistics.median(step_result[3]):.2f} CPU s)")
    if args.size in REFERENCE_SECONDS and args.batch == 2:
        low, high, source = REFERENCE_SECONDS[args.size]
        span = f"{low:.2f} s" if low == high else f"{low:.1f}-{high:.1f} s"
        ratios = f"{step_median / low:.2f}x" if low == high else f"{step_median / high:.2f}-{step_median / low:.2f}x"
        print(f"the authors' PyTorch code: {span} per step at {args.size}x{args.size} ({source})\n"
              f"  -> this run takes {ratios} the reference's time")
    else:
        print(f"no reference figure at batch {args.batch}, {args.size}x{args.size} "
              "(there are figures at batch 2, 256x256 and 128x128)")

    if args.profile:
        run_profile(args, model, fns, data, step_result)
    if args.trace:
        run_trace_breakdown(args, data)

    load_after = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    busy = load_before[0] > 0.5 or load_after > cores + 0.5
    print(f"\n1-min load average before/after: {load_before[0]:.1f} / {load_after:.1f} on {cores} "
          f"cores (this benchmark alone adds about {cores})"
          + ("; other processes were competing, so the figures are inflated" if busy else "")
          + f"; total {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
