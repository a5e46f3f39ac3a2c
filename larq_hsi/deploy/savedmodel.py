r"""A trained Keras model as a SavedModel, reloaded and checked before it is trusted.

`to_savedmodel(model, path)` writes a SavedModel with a serving signature
named after the model's inputs and (with `verify`) checks that it reloads to
the same predictions: exactly as a Keras model, and to a signal-to-noise bound
through the serving signature (a graph TensorFlow optimises). Training runs
write their model through it.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf

from larq_hsi.nn.dtype import rebuilt_in

__all__ = ["SIGNATURE_MIN_SNR", "SavedModelReport", "load", "to_savedmodel"]


#: Least signal-to-noise ratio (dB) at which `to_savedmodel(verify=True)` accepts the serving
#: signature: a relative RMS error of at most 0.1.
SIGNATURE_MIN_SNR = 20.0


@dataclasses.dataclass
class SavedModelReport:
    r"""The outcome of `to_savedmodel`.

    `max_abs_diff`: reloaded Keras model vs the original (0.0: the same eager
    computation on the same weights). `signature_max_abs_diff`: the serving
    signature (a graph TensorFlow optimises, so float rounding may differ)
    vs the original; `signature_mismatched` counts its outputs outside
    rtol 1e-5 (a binarized pre-activation within rounding of zero may flip),
    `signature_snr` is their agreement in dB, \(10 \log_{10} (\sum y^2 / \sum (y - \hat y)^2)\).
    All `None` without `verify`. `float64_snr` is `None` unless the signature
    missed `SIGNATURE_MIN_SNR` and the float64 twin was consulted; then it
    maps "keras" and "signature" to each one's SNR against the twin.
    """

    path: str
    size_bytes: int
    signature: str
    input_names: list[str]
    output_names: list[str]
    max_abs_diff: float | None
    signature_max_abs_diff: float | None
    signature_mismatched: int | None
    signature_snr: float | None
    seconds: float
    float64_snr: dict | None = None


def _directory_bytes(path) -> int:
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )


def _snr(reference, other) -> float:
    """\(10 \log_{10} (\sum y^2 / \sum (y - \hat y)^2)\) over lists of arrays, in float64."""
    signal = sum(float(np.sum(np.asarray(a, np.float64) ** 2)) for a in reference)
    noise = sum(float(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
                for a, b in zip(reference, other))
    return float("inf") if noise == 0 else float(10 * np.log10(signal / noise))


def _random_inputs(model, seed=0, unknown_size=32):
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.inputs:
        shape = [1] + [unknown_size if d is None else int(d) for d in tensor.shape[1:]]
        arrays.append(rng.uniform(0.0, 1.0, size=shape).astype(tensor.dtype.as_numpy_dtype))
    return arrays


def to_savedmodel(model: tf.keras.Model, path, verify: bool = True, seed: int = 0,
                  inputs=None) -> SavedModelReport:
    r"""Write `model` as a SavedModel at `path`, with a serving signature named after its inputs.

    Saved with `model.save(path, save_traces=False)` (7 s instead of 58 s of
    CPU for BiSRNet; importing larq_hsi registers every
    custom class, so `tf.keras.models.load_model(path)` needs no
    `custom_objects`) and without the graphs of the quantizers' custom
    gradients (`SaveOptions(experimental_custom_gradients=False)`: BiSRNet's
    save takes 2.5-5.9 s instead of 7-7.8 s), and without the optimizer's
    state (`include_optimizer=False`: a trained BiSRNet's ~900 Adam slots
    took it from 2.7 s to 5.7 s to save and from 2.9 s to 4.2 s to load at
    64x64; `load` returns an uncompiled model, and an interrupted run resumes
    from its `checkpoints/`, not from here). The serving graph is for
    inference; a model reloaded with `load` is rebuilt from its config, so its
    quantizers' gradients are the Python classes' again and it trains as the
    original did. The signature `serving_default` takes the model's inputs
    by name (e.g. `H`, `Phi`) with any batch size and returns a dict keyed by
    the model's output names.

    With `verify`, the SavedModel is reloaded twice and run on `inputs` (a
    list in `model.inputs` order, or one array), by default a random input
    (batch 1; unknown spatial sizes become 32). As a Keras model its
    predictions must equal `model`'s exactly. The serving signature is a graph
    that TensorFlow optimises (fused and reordered float ops), so in a deep
    binarized network a pre-activation within rounding of zero can flip and
    the flip spreads: it is held to a statistical bound, a signal-to-noise
    ratio \(10 \log_{10} (\sum y^2 / \sum (y - \hat y)^2) \ge\) `SIGNATURE_MIN_SNR`
    dB between the model's output \(y\) and the signature's \(\hat y\).
    Rounding spread stays well above it: the published BiSRNet at 256x256
    on a random input reaches 34 dB although 87% of its outputs differ beyond
    rtol 1e-5. A wiring fault falls well below it: a small two-input block
    whose signature is fed one input twice gives 8 dB.

    A float32 model can itself be the one that flipped: a trained BiConnect
    (unscaled ±1 kernels) had one pre-activation of 1.3e-6 in float64 round
    to 0 in eager float32, and its output fell to 15.5 dB against the exact
    result while the serving graph stayed at 126 dB. So when the signature
    misses the bound, both float32 results are compared with the model's
    float64 twin (`nn.dtype.rebuilt_in`), and the signature passes if it is
    within the bound of that exact result. Otherwise `AssertionError`, with
    those figures.
    """
    path = os.fspath(path)
    start = time.perf_counter()
    names = list(model.input_names)
    out_names = list(model.output_names)
    specs = [tf.TensorSpec([None] + list(t.shape[1:]), t.dtype, name=n)
             for n, t in zip(names, model.inputs)]

    @tf.function(input_signature=specs)
    def serve(*inputs):
        outputs = model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
        return dict(zip(out_names, tf.nest.flatten(outputs)))

    model.save(path, save_format="tf", save_traces=False, include_optimizer=False,
               signatures={"serving_default": serve.get_concrete_function()},
               options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    keras_diff = signature_diff = mismatched = signature_snr = float64_snr = None
    if verify:
        if inputs is None:
            x = _random_inputs(model, seed)
        else:
            x = [np.asarray(a) for a in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
        feed = x if len(x) > 1 else x[0]
        want = [np.asarray(t) for t in tf.nest.flatten(model(feed, training=False))]
        restored = tf.keras.models.load_model(path, compile=False)
        got = [np.asarray(t) for t in tf.nest.flatten(restored(feed, training=False))]
        signature = tf.saved_model.load(path).signatures["serving_default"]
        served = signature(**{n: tf.constant(a) for n, a in zip(names, x)})
        got_signature = [served[n].numpy() for n in out_names]
        keras_diff = max(float(np.max(np.abs(a - b), initial=0.0)) for a, b in zip(want, got))
        signature_diff = max(float(np.max(np.abs(a - b), initial=0.0))
                             for a, b in zip(want, got_signature))
        mismatched = sum(
            int(np.sum(~np.isclose(b, a, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(a), initial=0.0)))))
            for a, b in zip(want, got_signature))
        total = sum(a.size for a in want)
        signature_snr = _snr(want, got_signature)
        problems = []
        if keras_diff != 0.0:
            problems.append(f"load_model gives max |diff| {keras_diff:g} (must be 0)")
        close = signature_snr >= SIGNATURE_MIN_SNR  # False for NaN too
        against = ""
        if not close and model.dtype != "float64":
            try:
                twin = rebuilt_in(model, "float64")
            except Exception as error:  # e.g. a subclassed model has no config to rebuild from
                against = f"; no float64 twin to judge against ({type(error).__name__}: {error})"
            else:
                exact = tf.nest.flatten(twin([a.astype(np.float64) for a in x] if len(x) > 1
                                             else x[0].astype(np.float64), training=False))
                float64_snr = {"keras": _snr(exact, want), "signature": _snr(exact, got_signature)}
                close = float64_snr["signature"] >= SIGNATURE_MIN_SNR
                against = (f"; against the float64 twin: signature {float64_snr['signature']:.1f} dB, "
                           f"Keras model {float64_snr['keras']:.1f} dB")
        if not close:
            problems.append(
                f"the serving signature agrees only to {signature_snr:.1f} dB SNR (must be >= "
                f"{SIGNATURE_MIN_SNR:g}; max |diff| {signature_diff:g}, {mismatched} of {total} "
                f"outputs outside rtol 1e-5{against})")
        if problems:
            raise AssertionError(f"SavedModel at {path} does not reproduce the model: "
                                 + "; ".join(problems))
    return SavedModelReport(
        path=path,
        size_bytes=_directory_bytes(path),
        signature="serving_default",
        input_names=names,
        output_names=out_names,
        max_abs_diff=keras_diff,
        signature_max_abs_diff=signature_diff,
        signature_mismatched=mismatched,
        signature_snr=signature_snr,
        seconds=time.perf_counter() - start,
        float64_snr=float64_snr,
    )


def load(path) -> tf.keras.Model:
    """A SavedModel written by `to_savedmodel` (or `train`) as a Keras model, uncompiled.

    Importing larq_hsi has registered every class it names, so no
    `custom_objects` are needed. `ValueError` if `path` does not exist.
    """
    if not os.path.exists(os.fspath(path)):
        raise ValueError(f"model not found: {path}")
    return tf.keras.models.load_model(os.fspath(path), compile=False)
