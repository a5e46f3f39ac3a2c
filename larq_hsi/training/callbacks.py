r"""Keras callbacks for training with sign estimators: ATISTE schedules and estimator indicators.

`ATISTESchedule` moves the ATISTE parameters over the epochs, alpha up and
lambda down (HS-BiNet Sec. 3.2: "schedules where alpha is gradually increased
and lambda decreased over training epochs"), for layers built with fixed
(non-trainable) alpha and lambda, e.g.
`HSBiNet(..., atiste={"alpha_trainable": False, "lambda_trainable": False})`.

`EDESchedule` moves IRNet's EDE parameters t and k over the epochs (Sec. 3.2).

`EstimatorIndicators` logs, once per epoch, the two indicators of HS-BiNet
Appendix A.2.2 / Fig. 6 on a fixed probe batch:

- the estimation error \(e = \lVert \mathrm{sign}(z) - f(z)\rVert_2\) (Eq. 14):
  \(z\) runs over the inputs of every quantizer (layer inputs for activation
  quantizers, latent kernels for weight quantizers), \(f\) is each
  quantizer's surrogate (`surrogate_of`), and the norm is taken over all of
  them together, \(e = \sqrt{\sum_q \lVert \mathrm{sign}(z_q) - f_q(z_q)\rVert_2^2}\);
- the gradient instability \(s = \mathrm{var}(|g|)\) (Eq. 15): the variance of
  the absolute values of all parameter gradients of the loss on the probe batch.

They go into the epoch `logs` (so `History`, Keras's `CSVLogger` and
`TensorBoard` placed after this callback record them), into the callback's own
CSV file and TensorBoard scalars, and `plot` draws them as Fig. 6 (PNG,
`larq_hsi.viz.plot_indicators`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import larq as lq
import tensorflow as tf
from larq.math import sign as lq_sign

from larq_hsi import viz
from larq_hsi.nn import quantizers as Q
from larq_hsi.nn.introspect import find_quantizers

__all__ = [
    "ATISTESchedule",
    "EDESchedule",
    "EstimatorIndicators",
    "surrogate_of",
]


def _approx_sign_surrogate(z):
    return tf.where(tf.abs(z) <= 1.0, 2.0 * z - z * tf.abs(z), lq_sign(z))


def surrogate_of(quantizer):
    r"""The function \(f\) whose derivative `quantizer` uses in the backward pass, or `None`.

    | quantizer | \(f(z)\) |
    | --- | --- |
    | `ATISTE`, `ScaledATISTE` | \((1-\lambda)\tanh(\alpha z) + \lambda z\) |
    | `TanhSign` | \(\tanh(\alpha z)\) |
    | `SteSign`, `MagnitudeAwareSign`, `ScaledSign` (clip c) | \(\mathrm{clip}(z, -c, c)\); \(z\) without clip |
    | `ApproxSign`, `ScaledApproxSign` | \(2z - z|z|\) for \(|z|\le 1\), else \(\mathrm{sign}(z)\) |

    Magnitude scaling of weights is left out: \(f\) is compared with the
    unscaled \(\mathrm{sign}(z)\).
    """
    if isinstance(quantizer, (Q.ATISTE, Q.TanhSign)):
        return quantizer.surrogate
    if isinstance(quantizer, (lq.quantizers.SteSign, lq.quantizers.MagnitudeAwareSign)):
        clip = quantizer.clip_value
        return (lambda z: z) if clip is None else (lambda z: tf.clip_by_value(z, -clip, clip))
    if isinstance(quantizer, (lq.quantizers.ApproxSign, Q.ScaledApproxSign)):
        return _approx_sign_surrogate
    return None


# --------------------------------------------------------------------------- schedule


class ATISTESchedule(tf.keras.callbacks.Callback):
    r"""Schedules fixed ATISTE alpha up and lambda down over the epochs (Sec. 3.2).

    At the start of epoch \(t\) (0-based) of `epochs`, with \(u = \min(t/(\text{epochs}-1), 1)\):

    - `mode="linear"`: \(v = v_0 + (v_1 - v_0)\,u\);
    - `mode="cosine"`: \(v = v_0 + (v_1 - v_0)(1 - \cos\pi u)/2\);
    - `mode="geometric"`: \(v = v_0 (v_1/v_0)^u\) (alpha's natural scale).

    The value is assigned to every non-trainable alpha of the model's `ATISTE`
    and `TanhSign` quantizers (per-channel alphas are filled) and to every
    non-trainable ATISTE lambda (a lambda shared by a layer's two quantizers is
    assigned once). Learned (trainable) parameters are left alone. Pass `None`
    for `alpha` or `lam` to leave that parameter unscheduled. The current
    values are logged as `atiste_alpha` and `atiste_lambda`.

    The paper gives no schedule values; the defaults span the ranges of its
    Fig. 7 (alpha 1 to 4, lambda 0.3 to 0.1).

    Raises `ValueError` at the start of training when a scheduled parameter
    has no fixed variable in the model.
    """

    MODES = ("linear", "cosine", "geometric")

    def __init__(self, epochs: int, alpha=(1.0, 4.0), lam=(0.3, 0.1), mode: str = "linear"):
        super().__init__()
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        if alpha is None and lam is None:
            raise ValueError("ATISTESchedule needs alpha=(start, end) and/or lam=(start, end)")
        self.alpha = self._check_pair(alpha, "alpha", lambda v: v > 0, "> 0")
        self.lam = self._check_pair(lam, "lam", lambda v: 0 <= v <= 1, "in [0, 1]")
        if mode == "geometric" and self.lam is not None and min(self.lam) <= 0:
            raise ValueError(f"mode='geometric' needs lam values > 0, got {self.lam}")
        self.epochs = epochs
        self.mode = mode
        self._alphas: list[tf.Variable] = []
        self._lambdas: list[tf.Variable] = []

    @staticmethod
    def _check_pair(pair, what, ok, rule):
        if pair is None:
            return None
        try:
            start, end = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a (start, end) pair of numbers or None, got {pair!r}") from None
        if not (ok(start) and ok(end)):
            raise ValueError(f"{what} values must be {rule}, got ({start}, {end})")
        return start, end

    def value_at(self, epoch: int, pair) -> float:
        """The scheduled value of `pair = (start, end)` at the start of `epoch` (0-based)."""
        start, end = pair
        u = 1.0 if self.epochs == 1 else min(max(epoch, 0) / (self.epochs - 1), 1.0)
        if self.mode == "linear":
            return start + (end - start) * u
        if self.mode == "cosine":
            return start + (end - start) * (1.0 - math.cos(math.pi * u)) / 2.0
        return start * (end / start) ** u

    def on_train_begin(self, logs=None):
        alphas, lambdas, seen = [], [], set()
        for _, _, quantizer in find_quantizers(self.model):
            if not isinstance(quantizer, (Q.ATISTE, Q.TanhSign)) or not quantizer.built:
                continue
            candidates = [(quantizer.alpha, alphas)]
            if isinstance(quantizer, Q.ATISTE):
                candidates.append((quantizer.lam, lambdas))
            for variable, bucket in candidates:
                if id(variable) in seen or variable.trainable:
                    continue
                seen.add(id(variable))
                bucket.append(variable)
        for pair, bucket, what, flag in ((self.alpha, alphas, "alpha", "alpha_trainable"),
                                         (self.lam, lambdas, "lambda", "lambda_trainable")):
            if pair is not None and not bucket:
                raise ValueError(
                    f"ATISTESchedule: the model has no fixed (non-trainable) ATISTE {what} to schedule; "
                    f"build its quantizers with {flag}=False (HSBiNet(atiste={{'{flag}': False}}))"
                )
        self._alphas, self._lambdas = alphas, lambdas

    def on_epoch_begin(self, epoch, logs=None):
        for pair, variables in ((self.alpha, self._alphas), (self.lam, self._lambdas)):
            if pair is None:
                continue
            value = self.value_at(epoch, pair)
            for v in variables:
                v.assign(tf.fill(tf.shape(v), tf.cast(value, v.dtype)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self.alpha is not None:
            logs["atiste_alpha"] = self.value_at(epoch, self.alpha)
        if self.lam is not None:
            logs["atiste_lambda"] = self.value_at(epoch, self.lam)


class EDESchedule(tf.keras.callbacks.Callback):
    r"""IRNet's EDE schedule: at the start of epoch i of N, every `EDESign`/`LibraPBSign` gets

    \[ t = T_{min}\,10^{\frac iN \log_{10}(T_{max}/T_{min})}, \qquad k = \max(1/t, 1) \]
    (`larq_hsi.quantizers.ede_parameters`, \(T_{min} = 0.1\), \(T_{max} = 10\)),
    assigned to the quantizers' non-trainable variables `t` and `k`. The
    values are logged as `ede_t` and `ede_k`. Raises `ValueError` at the start
    of training if the model has no EDE quantizer.
    """

    def __init__(self, epochs: int, t_min: float = Q.EDE_T_MIN, t_max: float = Q.EDE_T_MAX):
        super().__init__()
        Q.ede_parameters(0, epochs, t_min, t_max)  # validates the arguments
        self.epochs = epochs
        self.t_min = float(t_min)
        self.t_max = float(t_max)
        self._variables: list[tuple[tf.Variable, tf.Variable]] = []

    def values(self, epoch: int) -> tuple[float, float]:
        """`(t, k)` at the start of `epoch` (0-based)."""
        return Q.ede_parameters(epoch, self.epochs, self.t_min, self.t_max)

    def on_train_begin(self, logs=None):
        self._variables = [
            (q.t, q.k) for _, _, q in find_quantizers(self.model)
            if isinstance(q, (Q.EDESign, Q.LibraPBSign)) and q.built
        ]
        if not self._variables:
            raise ValueError("EDESchedule: the model has no EDE quantizer (EDESign / LibraPBSign)")

    def on_epoch_begin(self, epoch, logs=None):
        t, k = self.values(epoch)
        for t_var, k_var in self._variables:
            t_var.assign(tf.cast(t, t_var.dtype))
            k_var.assign(tf.cast(k, k_var.dtype))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["ede_t"], logs["ede_k"] = self.values(epoch)


# --------------------------------------------------------------------------- indicators


def _first_batch(data):
    if isinstance(data, tf.data.Dataset):
        batch = next(iter(data))
    else:
        batch = data
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(
            "EstimatorIndicators: data must be (x, y) or a tf.data.Dataset of (x, y) batches, "
            f"got {type(batch).__name__}"
        )
    return batch[0], batch[1]


class EstimatorIndicators(tf.keras.callbacks.Callback):
    r"""Logs the estimation error e and the gradient instability s per epoch (Appendix A.2.2, Fig. 6).

    \(e = \sqrt{\sum_q \lVert \mathrm{sign}(z_q) - f_q(z_q)\rVert_2^2}\) over the
    model's quantizers with a known surrogate (`surrogate_of`; others are
    skipped and listed in `skipped`), activations taken on the probe batch;
    \(s = \mathrm{var}(|g|)\) over the gradients of the compiled loss on the
    probe batch with respect to `variables` ("trainable": all trainable
    variables, the default; "kernels": the latent kernels of the binarized
    layers). Gradients are taken in training mode; BatchNorm statistics and
    other non-trainable variables are restored afterwards, so the callback
    does not change training.

    # Arguments
        data: the probe batch `(x, y)` or a `tf.data.Dataset` (its first batch).
        csv_path: append one row per measured epoch (header written once).
        log_dir: write TensorBoard scalars `estimator/estimation_error` and
            `estimator/gradient_instability` there.
        every: measure every `every` epochs (and always at epoch 0).
        per_layer: also log each quantizer's own error as
            `estimation_error/{layer}/{role}`.
        variables: "trainable" or "kernels".

    After training, `history` holds the measured epochs and values and
    `plot(path)` writes Fig. 6 as a PNG.
    """

    def __init__(self, data, csv_path=None, log_dir=None, every: int = 1, per_layer: bool = False,
                 variables: str = "trainable"):
        super().__init__()
        if variables not in ("trainable", "kernels"):
            raise ValueError(f"variables must be 'trainable' or 'kernels', got {variables!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.x, self.y = _first_batch(data)
        self.csv_path = None if csv_path is None else Path(csv_path)
        self.log_dir = None if log_dir is None else str(log_dir)
        self.every = every
        self.per_layer = per_layer
        self.variables = variables
        self.history: dict[str, list] = {"epoch": [], "estimation_error": [], "gradient_instability": []}
        self.skipped: list[str] = []
        self._writer = None

    # -- measurement

    def _targets(self):
        targets, skipped = [], []
        for layer, role, quantizer in find_quantizers(self.model):
            f = surrogate_of(quantizer)
            label = f"{layer.name}/{role}"
            if f is None:
                skipped.append(f"{label} ({type(quantizer).__name__})")
                continue
            if role == "input_quantizer":
                try:
                    tensor = layer.input
                except AttributeError:
                    skipped.append(f"{label} (layer not connected)")
                    continue
                if isinstance(tensor, (list, tuple)):
                    skipped.append(f"{label} (several inputs)")
                    continue
                targets.append((label, f, tensor))
            else:
                kernel = getattr(layer, role.replace("_quantizer", "_kernel") if role != "kernel_quantizer" else "kernel", None)
                if kernel is None:
                    skipped.append(f"{label} (no kernel)")
                    continue
                targets.append((label, f, getattr(kernel, "latent_variable", kernel)))
        return targets, skipped

    def estimation_errors(self) -> dict[str, float]:
        """Each quantizer's \\(\\lVert \\mathrm{sign}(z) - f(z)\\rVert_2\\) on the probe batch, by `layer/role`."""
        targets, self.skipped = self._targets()
        symbolic = [(label, f, t) for label, f, t in targets if not isinstance(t, tf.Variable)]
        values = {}
        if symbolic:
            probe = tf.keras.Model(self.model.inputs, [t for _, _, t in symbolic])
            outputs = probe(self.x, training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            for (label, f, _), z in zip(symbolic, outputs):
                values[label] = z
        errors = {}
        for label, f, t in targets:
            z = values[label] if label in values else tf.convert_to_tensor(t)
            # f computes in the quantizer's dtype; the norm is taken in float64.
            errors[label] = float(tf.norm(tf.cast(lq_sign(z), tf.float64) - tf.cast(f(z), tf.float64)))
        return errors

    def _loss_fn(self):
        loss = getattr(self.model, "loss", None)
        if isinstance(loss, str) or (callable(loss) and not isinstance(loss, (dict, list))):
            return tf.keras.losses.get(loss)
        return None

    def gradient_instability(self) -> float:
        """\\(\\mathrm{var}(|g|)\\) of the loss gradients on the probe batch (see the class docstring)."""
        model = self.model
        if self.variables == "kernels":
            variables = [getattr(layer.kernel, "latent_variable", layer.kernel)
                         for layer, role, q in find_quantizers(model)
                         if role == "kernel_quantizer" and getattr(q, "precision", None) == 1]
        else:
            variables = list(model.trainable_variables)
        if not variables:
            raise ValueError(f"EstimatorIndicators: the model has no {self.variables} variables")
        saved = [v.numpy() for v in model.non_trainable_variables]
        loss_fn = self._loss_fn()
        try:
            with tf.GradientTape() as tape:
                pred = model(self.x, training=True)
                if loss_fn is not None:
                    loss = tf.reduce_mean(loss_fn(tf.cast(self.y, pred.dtype), pred))
                else:
                    loss = model.compute_loss(self.x, self.y, pred)
            grads = tape.gradient(loss, variables)
        finally:
            for v, value in zip(model.non_trainable_variables, saved):
                v.assign(value)
        flat = [tf.reshape(tf.abs(tf.cast(g, tf.float64)), [-1]) for g in grads if g is not None]
        if not flat:
            raise ValueError("EstimatorIndicators: no gradient reaches the chosen variables")
        return float(tf.math.reduce_variance(tf.concat(flat, 0)))

    # -- Keras hooks

    def on_train_begin(self, logs=None):
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every:
            return
        errors = self.estimation_errors()
        e = math.sqrt(sum(v * v for v in errors.values()))
        s = self.gradient_instability()
        row = {"estimation_error": e, "gradient_instability": s}
        if self.per_layer:
            row.update({f"estimation_error/{k}": v for k, v in errors.items()})
        if logs is not None:
            logs.update(row)
        self.history["epoch"].append(epoch)
        self.history["estimation_error"].append(e)
        self.history["gradient_instability"].append(s)
        if self.csv_path is not None:
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
            with open(self.csv_path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["epoch", *row])
                if new:
                    writer.writeheader()
                writer.writerow({"epoch": epoch, **row})
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.scalar("estimator/estimation_error", e, step=epoch)
                tf.summary.scalar("estimator/gradient_instability", s, step=epoch)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def plot(self, path) -> Path:
        """Fig. 6 from `history`: see `larq_hsi.viz.plot_indicators`."""
        return viz.plot_indicators(self.history, path)
