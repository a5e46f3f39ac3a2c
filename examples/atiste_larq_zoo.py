"""ATISTE as a drop-in estimator for a larq-zoo literature network (BinaryResNetE18).

In larq-zoo 2.4.0 a model's quantizers are read-only properties (or class
attributes) of its factory, read once per binary layer as the network is
built. Subclassing the factory and returning a *new* quantizer instance from
each property gives every `QuantConv2D` its own ATISTE quantizers: the
activation quantizer with one alpha per input channel, the weight quantizer
(mean |W| sign(W)) with one alpha per output channel. Each layer's weight
quantizer shares the lambda of the activation quantizer created just before
it (the zoo builds a layer by reading `input_quantizer`, then
`kernel_quantizer`), which is HS-BiNet's one lambda per layer (Appendix A.1).

Run: `python examples/atiste_larq_zoo.py` (a 32x32 model with 10 classes:
summary, then one training step on random data). `--smoke` narrows the
network to 8 first-stage filters (seconds); `--out DIR` (default
`runs/examples/atiste_larq_zoo`) receives `result.json` with the layer count
and the losses before and after the step.
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

import larq as lq  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from larq_zoo.literature.resnet_e import BinaryResNetE18Factory  # noqa: E402
from zookeeper import Field, factory  # noqa: E402

from larq_hsi.nn import quantizers as Q  # noqa: E402

logging.getLogger("larq.layers_base").setLevel(logging.ERROR)


@factory
class ATISTEBinaryResNetE18Factory(BinaryResNetE18Factory):
    """BinaryResNetE18 with ATISTE estimators: a fresh quantizer pair per binary layer."""

    atiste_alpha: float = Field(1.0)
    atiste_lambda: float = Field(0.1)
    width: int = Field(64)  # BinaryResNetE18's 64-128-256-512 filters, scaled by width / 64

    @property
    def spec(self):
        blocks, _ = super().spec
        return blocks, [self.width * m for m in (1, 2, 4, 8)]

    @property
    def input_quantizer(self):
        quantizer = Q.ATISTE(alpha=self.atiste_alpha, lam=self.atiste_lambda, per_channel=True)
        # Read just before kernel_quantizer for the same layer (see the module docstring).
        object.__setattr__(self, "_last_input_quantizer", quantizer)
        return quantizer

    @property
    def kernel_quantizer(self):
        quantizer = Q.ScaledATISTE(alpha=self.atiste_alpha, lam=self.atiste_lambda, per_channel=True)
        owner = getattr(self, "_last_input_quantizer", None)
        if owner is not None:
            quantizer.share_lambda_with(owner)
            object.__setattr__(self, "_last_input_quantizer", None)
        return quantizer


def atiste_binary_resnet_e18(
    input_shape=(32, 32, 3), num_classes: int = 10, width: int = 64, alpha: float = 1.0, lam: float = 0.1
) -> tf.keras.Model:
    """BinaryResNetE18 (`weights=None`) with ATISTE quantizers (initial `alpha`, `lam`).

    `width` is the first stage's filter count (64 in the published network; a
    smaller one narrows every stage alike, for quick tests).
    """
    return ATISTEBinaryResNetE18Factory(
        input_shape=input_shape,
        weights=None,
        include_top=True,
        num_classes=num_classes,
        initial_filters=width,
        width=width,
        atiste_alpha=alpha,
        atiste_lambda=lam,
    ).build()


def train_one_step(model: tf.keras.Model, batch: int = 4, seed: int = 0, learning_rate: float = 1e-3):
    """One Adam step on a random batch (eager, no graph tracing); returns the loss before and after it.

    Both losses are measured in training mode (batch statistics), on the same batch.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, *model.input_shape[1:])).astype("float32")
    y = rng.integers(0, model.output_shape[-1], size=batch)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    with tf.GradientTape() as tape:
        before = loss_fn(y, model(x, training=True))
    grads = tape.gradient(before, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    after = loss_fn(y, model(x, training=True))
    return float(before), float(after)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64, help="first-stage filters (64: the published network)")
    parser.add_argument("--out", default="runs/examples/atiste_larq_zoo", help="folder for result.json")
    parser.add_argument("--smoke", action="store_true", help="width 8 (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.width = 8
    model = atiste_binary_resnet_e18(width=args.width)
    lq.models.summary(model)
    convs = [layer for layer in model.layers if isinstance(layer, lq.layers.QuantConv2D)]
    print(f"{len(convs)} binary convolutions, each with its own ATISTE pair; first layer's quantizers: "
          f"{type(convs[0].input_quantizer).__name__} / {type(convs[0].kernel_quantizer).__name__}")
    before, after = train_one_step(model)
    print(f"one Adam step on a random 32x32 batch: loss {before:.4f} -> {after:.4f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"width": args.width, "binary_convolutions": len(convs), "loss_before": before, "loss_after": after}
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {out / 'result.json'}")


if __name__ == "__main__":
    main()
