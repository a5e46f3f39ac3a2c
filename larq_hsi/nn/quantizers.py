r"""Sign estimators of BiSRNet, HS-BiNet and BBCU as registered larq quantizers.

Every quantizer here binarizes in the forward pass with larq's `lq.math.sign`
and differs only in the pseudo-gradient it gives in the backward pass:

| quantizer | alias | forward | backward (d out / d x) |
| --- | --- | --- | --- |
| `TanhSign` | `"tanh_sign"` | \(\mathrm{sign}(x)\) | \(\alpha(1-\tanh^2(\alpha x))\) |
| `ATISTE` | `"atiste"` | \(\mathrm{sign}(x)\) | \((1-\lambda)\alpha(1-\tanh^2(\alpha x)) + \lambda\) |
| `ScaledSign` | `"scaled_sign"` | \(\overline{|W|}\,\mathrm{sign}(W)\) | \(1_{|W|\le 1}\) |
| `ScaledATISTE` | `"scaled_atiste"` | \(\overline{|W|}\,\mathrm{sign}(W)\) | as `ATISTE` |
| `ScaledApproxSign` | `"scaled_approx_sign"` | \(\overline{|W|}\,\mathrm{sign}(W)\) | \(2 - 2|W|\) on \([-1, 1]\), else 0 |
| `EDESign` | `"ede_sign"` | \(\mathrm{sign}(x)\) | \(k t (1-\tanh^2(t x))\), t, k scheduled |
| `LibraPBSign` | `"libra_pb_sign"` | \(2^{\mathrm{round}\log_2\overline{|\hat W|}}\mathrm{sign}(\hat W)\) | EDE through the standardization |

The reference Table 1 baselines' quantizers use `torch.sign` (0 -> 0; see the
section "the reference's signs" below): `TorchSteSign` (clip STE),
`TorchApproxSign` (ApproxSign), `TorchIdentitySign` (identity), `TorchScaledSign`
(scaled, unscaled clip STE), `FrozenSign` (unscaled, zero gradient),
`ScaledStandardizedSign` (BTM's standardized, scaled, gained kernel),
`TorchEDESign` and `TorchLibraPBSign` (IRNet, k = 10, t = 0.1).

The Clip and Quad estimators of the BiSRNet ablation are larq's own
`ste_sign` and `approx_sign` (Bi-Real's ApproxSign, the reference form of
Quad: BiSRNet's Eq. 4 prints its two inner branches swapped), and BBCU's
learnable-threshold sign is `larq_hsi.layers.LearnableBias` followed by
`approx_sign`.

Sign convention: `lq.math.sign` maps 0 to +1, while the papers map 0 to -1
(BiSRNet Eq. 3). larq-compute-engine recognises a binary convolution only
when its input quantizer is written with `lq.math.sign`, so this package
follows larq; the two conventions differ only for inputs that are exactly 0.

Dtype: a quantizer is a Keras layer and computes in its own `dtype`. larq
builds a quantizer given by name in the global dtype, whatever the dtype of
the layer that holds it; the model builders set that for the whole build
(`larq_hsi.nn.dtype.default_dtype`), and `make_quantizer` copies templates
into it.
"""

from __future__ import annotations

import math
import numbers

import larq as lq
import tensorflow as tf
from larq import utils as lq_utils
from larq.math import sign as lq_sign
from larq.quantizers import MagnitudeAwareSign, Quantizer

__all__ = [
    "ALPHA_FLOOR",
    "ATISTE",
    "Between",
    "EDESign",
    "FrozenSign",
    "EDE_T_MAX",
    "EDE_T_MIN",
    "LibraPBSign",
    "ScaledATISTE",
    "ScaledApproxSign",
    "ScaledSign",
    "ScaledStandardizedSign",
    "TanhSign",
    "TorchApproxSign",
    "TorchEDESign",
    "TorchIdentitySign",
    "TorchLibraPBSign",
    "TorchScaledSign",
    "TorchSteSign",
    "atiste",
    "atiste_surrogate",
    "ede_parameters",
    "ede_sign",
    "get",
    "libra_pb_scale",
    "libra_pb_standardize",
    "make_quantizer",
    "scaled_sign",
    "tanh_sign",
    "torch_sign",
]

# Lower bound kept on learnable alphas so that tanh(alpha x) never degenerates
# to the zero function (alpha > 0 is part of both papers' definitions).
ALPHA_FLOOR = 1e-3


@lq_utils.register_keras_custom_object
class Between(tf.keras.constraints.Constraint):
    """Clips a variable elementwise into `[min_value, max_value]` after each update.

    Either bound may be `None` (unbounded on that side). Used to keep ATISTE's
    lambda in [0, 1] and the estimators' alpha above `ALPHA_FLOOR`.
    """

    def __init__(self, min_value: float | None = None, max_value: float | None = None):
        if min_value is not None and max_value is not None and min_value > max_value:
            raise ValueError(
                f"Between: min_value must be <= max_value, got {min_value} > {max_value}"
            )
        self.min_value = min_value
        self.max_value = max_value

    def __call__(self, w):
        if self.min_value is not None:
            w = tf.maximum(w, tf.constant(self.min_value, w.dtype))
        if self.max_value is not None:
            w = tf.minimum(w, tf.constant(self.max_value, w.dtype))
        return w

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value}


def _sum_to_shape(grad: tf.Tensor, param: tf.Tensor) -> tf.Tensor:
    """Sums a broadcast gradient back to the shape of a scalar or per-channel parameter."""
    if param.shape.rank == 0:
        return tf.reduce_sum(grad)
    return tf.reduce_sum(grad, axis=list(range(grad.shape.rank - 1)))


def _channel_mean_abs(w: tf.Tensor) -> tf.Tensor:
    """Mean of |w| per output channel (the last axis of a Keras kernel), as a constant."""
    return tf.stop_gradient(tf.reduce_mean(tf.abs(w), axis=list(range(w.shape.rank - 1))))


def tanh_sign(x: tf.Tensor, alpha: tf.Tensor) -> tf.Tensor:
    r"""Sign of `x` with the gradient of \(\tanh(\alpha x)\) (BiSRNet Eq. 5).

    Returns `lq.math.sign(x)`; gradients are
    \(\partial/\partial x = \alpha(1-\tanh^2(\alpha x))\) and
    \(\partial/\partial\alpha = x(1-\tanh^2(\alpha x))\), the latter summed over
    the axes `alpha` was broadcast along.
    """

    @tf.custom_gradient
    def _call(x, alpha):
        def grad(dy):
            sech2 = 1.0 - tf.square(tf.tanh(alpha * x))
            return dy * alpha * sech2, _sum_to_shape(dy * x * sech2, alpha)

        return lq_sign(x), grad

    return _call(x, alpha)


def atiste_surrogate(x: tf.Tensor, alpha: tf.Tensor, lam: tf.Tensor) -> tf.Tensor:
    r"""The ATISTE surrogate \(f(x) = (1-\lambda)\tanh(\alpha x) + \lambda x\) (HS-BiNet Eq. 1)."""
    return (1.0 - lam) * tf.tanh(alpha * x) + lam * x


def atiste(x: tf.Tensor, alpha: tf.Tensor, lam: tf.Tensor, scale=None) -> tf.Tensor:
    r"""Sign of `x` with the gradient of the ATISTE surrogate (HS-BiNet Eq. 1-2).

    Returns `lq.math.sign(x)` (times `scale` if given, a constant in the
    backward pass). Gradients:
    \(\partial/\partial x = (1-\lambda)\alpha(1-\tanh^2(\alpha x)) + \lambda\),
    \(\partial/\partial\alpha = (1-\lambda)x(1-\tanh^2(\alpha x))\),
    \(\partial/\partial\lambda = x - \tanh(\alpha x)\).
    """

    @tf.custom_gradient
    def _call(x, alpha, lam):
        def grad(dy):
            t = tf.tanh(alpha * x)
            sech2 = 1.0 - tf.square(t)
            dx = dy * ((1.0 - lam) * alpha * sech2 + lam)
            dalpha = _sum_to_shape(dy * (1.0 - lam) * x * sech2, alpha)
            dlam = _sum_to_shape(dy * (x - t), lam)
            return dx, dalpha, dlam

        out = lq_sign(x)
        return (out if scale is None else scale * out), grad

    return _call(x, alpha, lam)


def scaled_sign(w: tf.Tensor, clip_value: float | None = 1.0) -> tf.Tensor:
    r"""\(\overline{|W|}_c\,\mathrm{sign}(W)\) with the unscaled clip STE (BiSRNet Eq. 9).

    The per-output-channel scale is a constant in the backward pass, and the
    gradient passes unscaled where \(|W| \le\) `clip_value` (everywhere if `None`).
    """
    scale = _channel_mean_abs(w)

    @tf.custom_gradient
    def _call(w):
        def grad(dy):
            if clip_value is None:
                return dy
            return tf.where(tf.abs(w) <= clip_value, dy, tf.zeros_like(dy))

        return scale * lq_sign(w), grad

    return _call(w)


#: IRNet's EDE schedule bounds (Sec. 3.2): t runs from T_min = 0.1 to T_max = 10.
EDE_T_MIN = 0.1
EDE_T_MAX = 10.0


def ede_parameters(epoch: int, epochs: int, t_min: float = EDE_T_MIN,
                   t_max: float = EDE_T_MAX) -> tuple[float, float]:
    r"""IRNet's EDE schedule at training progress `epoch / epochs` (epoch 0-based).

    \[ t = T_{min} \cdot 10^{\frac{i}{N}\log_{10}\frac{T_{max}}{T_{min}}}, \qquad
       k = \max\left(\frac{1}{t}, 1\right), \]
    with i = `epoch`, N = `epochs`: t = 0.1, k = 10 (an identity-like gradient)
    at the start, t approaching 10, k = 1 (a sharp, sign-like gradient) at the end.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if not 0 < t_min <= t_max:
        raise ValueError(f"EDE needs 0 < t_min <= t_max, got t_min={t_min!r}, t_max={t_max!r}")
    t = t_min * 10.0 ** (min(max(epoch, 0), epochs) / epochs * math.log10(t_max / t_min))
    return t, max(1.0 / t, 1.0)


def ede_sign(x: tf.Tensor, t: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
    r"""Sign of `x` with IRNet's EDE gradient, the derivative of \(g(x) = k\tanh(tx)\) (Eq. 13-14).

    Returns `lq.math.sign(x)`; \(\partial/\partial x = k\,t\,(1 - \tanh^2(t x))\).
    `t` and `k` are schedule constants (no gradient).
    """

    @tf.custom_gradient
    def _call(x):
        def grad(dy):
            t_ = tf.cast(t, x.dtype)
            return dy * tf.cast(k, x.dtype) * t_ * (1.0 - tf.square(tf.tanh(t_ * x)))

        return lq_sign(x), grad

    return _call(x)


def libra_pb_standardize(w: tf.Tensor, epsilon: float = 1e-12) -> tf.Tensor:
    r"""Libra-PB's balanced, standardized weights per output channel (IRNet Eq. 9-10).

    \(\hat W = (W - \overline{W}_c) / \sigma_c(W - \overline{W}_c)\), the mean and the
    (Bessel-corrected) standard deviation over each output channel's
    kh x kw x c_in weights (the kernel's last axis is the output channel);
    differentiable, so the gradient flows through the standardization.
    """
    axes = list(range(w.shape.rank - 1))
    centered = w - tf.reduce_mean(w, axis=axes)
    n = 1
    for axis in axes:
        n *= int(w.shape[axis])
    var = tf.reduce_sum(tf.square(centered), axis=axes) / float(max(n - 1, 1))
    return centered / tf.maximum(tf.sqrt(var), tf.cast(epsilon, w.dtype))


def libra_pb_scale(w_hat: tf.Tensor) -> tf.Tensor:
    r"""Libra-PB's bit-shift scale per output channel, as a constant (no gradient):

    \(s_c = 2^{\mathrm{round}(\log_2 \overline{|\hat W|}_c)}\).
    """
    axes = list(range(w_hat.shape.rank - 1))
    mean_abs = tf.reduce_mean(tf.abs(w_hat), axis=axes)
    log2 = tf.math.log(mean_abs) / tf.cast(math.log(2.0), w_hat.dtype)
    return tf.stop_gradient(tf.pow(tf.cast(2.0, w_hat.dtype), tf.round(log2)))


def _check_alpha(alpha):
    if not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0, got {alpha!r}")
    return float(alpha)


def _check_lambda(lam):
    if not isinstance(lam, numbers.Real) or not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam (lambda) must be a number in [0, 1], got {lam!r}")
    return float(lam)


class _AlphaQuantizer(Quantizer):
    """Base of the quantizers with a sharpness parameter alpha (scalar or per channel)."""

    precision = 1

    def __init__(
        self,
        alpha: float = 1.0,
        alpha_trainable: bool = True,
        per_channel: bool = False,
        **kwargs,
    ):
        self.alpha_init = _check_alpha(alpha)
        self.alpha_trainable = bool(alpha_trainable)
        self.per_channel = bool(per_channel)
        super().__init__(**kwargs)

    def _param_shape(self, input_shape):
        if not self.per_channel:
            return ()
        channels = tf.TensorShape(input_shape)[-1]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__}(per_channel=True) needs a known last (channel) "
                f"dimension, got input shape {input_shape}"
            )
        return (channels,)

    def build(self, input_shape):
        self.alpha = self.add_weight(
            "alpha",
            shape=self._param_shape(input_shape),
            initializer=tf.keras.initializers.Constant(self.alpha_init),
            trainable=self.alpha_trainable,
            constraint=Between(ALPHA_FLOOR, None),
        )
        super().build(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha_init,
            "alpha_trainable": self.alpha_trainable,
            "per_channel": self.per_channel,
        }


@lq_utils.register_alias("tanh_sign")
@lq_utils.register_keras_custom_object
class TanhSign(_AlphaQuantizer):
    r"""Sign with the scalable hyperbolic-tangent estimator of BiSRNet (Eq. 5-8).

    Forward:
    \[ q(x) = \mathrm{sign}(x) \quad (\mathrm{sign}(0) = +1) \]
    Backward (the derivative of \(\tanh(\alpha x)\)):
    \[ \frac{\partial q}{\partial x} = \alpha\,(1 - \tanh^2(\alpha x)), \qquad
       \frac{\partial q}{\partial \alpha} = x\,(1 - \tanh^2(\alpha x)). \]
    The approximation error \(\int |\mathrm{sign}(x) - \tanh(\alpha x)|\,dx =
    2\log 2/\alpha\) (Eq. 8) shrinks as alpha grows.

    BiSRNet maps 0 to -1; larq's sign (used here, so that larq-compute-engine
    converts the layer) maps 0 to +1.

    # Arguments
        alpha: initial value of alpha, > 0 (the paper initialises it to 1).
        alpha_trainable: learn alpha (default) or keep it fixed, e.g. for a schedule.
        per_channel: one alpha per input channel (last axis) instead of one scalar.
        dtype: the dtype of alpha and of the computation.
    """

    def call(self, inputs):
        return tanh_sign(inputs, tf.convert_to_tensor(self.alpha))

    def surrogate(self, x):
        r"""The function whose derivative the backward pass uses: \(\tanh(\alpha x)\)."""
        return tf.tanh(tf.convert_to_tensor(self.alpha) * x)


@lq_utils.register_alias("atiste")
@lq_utils.register_keras_custom_object
class ATISTE(_AlphaQuantizer):
    r"""Adaptive Tan Identity Straight-Through Estimator (HS-BiNet Eq. 1-3).

    Surrogate:
    \[ f(x) = (1-\lambda)\tanh(\alpha x) + \lambda x, \quad \alpha>0,\ \lambda\in[0,1]. \]
    Forward: \(q(x) = \mathrm{sign}(x)\) (0 maps to +1, larq's convention; the
    paper's sign maps it to -1), so the trained model is truly binary.
    Backward (the surrogate's derivatives):
    \[ \frac{\partial q}{\partial x} = (1-\lambda)\alpha(1-\tanh^2(\alpha x)) + \lambda
       \in [\lambda,\ (1-\lambda)\alpha + \lambda], \]
    \[ \frac{\partial q}{\partial \alpha} = (1-\lambda)\,x\,(1-\tanh^2(\alpha x)), \qquad
       \frac{\partial q}{\partial \lambda} = x - \tanh(\alpha x). \]

    With `soft_forward=True` the forward pass returns \(f(x)\) itself while
    training (not binary: for soft-to-hard training schedules only) and
    \(\mathrm{sign}(x)\) at inference.

    To give a layer's weight and activation quantizers one lambda (the paper's
    layer-level lambda), call `weight_quantizer.share_lambda_with(activation_quantizer)`
    before either is built; `larq_hsi.layers.ATISTEConv2D` does this for you.

    # Arguments
        alpha: initial sharpness, > 0.
        lam: initial lambda in [0, 1]. The paper gives no initial value; 0.1 is
            the smallest value its Fig. 7 plots.
        alpha_trainable, lambda_trainable: learn the parameter or keep it fixed
            (fixed parameters are variables a schedule can assign).
        per_channel: one alpha per channel of the last axis (input channels for
            activations, output channels for kernels), as in Appendix A.1.
        soft_forward: use \(f(x)\) as the forward pass while training.
        dtype: the dtype of the parameters and of the computation.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        lam: float = 0.1,
        alpha_trainable: bool = True,
        lambda_trainable: bool = True,
        per_channel: bool = True,
        soft_forward: bool = False,
        **kwargs,
    ):
        self.lambda_init = _check_lambda(lam)
        self.lambda_trainable = bool(lambda_trainable)
        self.soft_forward = bool(soft_forward)
        object.__setattr__(self, "_lambda_owner", None)
        super().__init__(
            alpha=alpha, alpha_trainable=alpha_trainable, per_channel=per_channel, **kwargs
        )

    def share_lambda_with(self, owner: ATISTE) -> None:
        """Use `owner`'s lambda instead of creating one (call before `build`)."""
        if not isinstance(owner, ATISTE):
            raise ValueError(
                f"share_lambda_with expects an ATISTE quantizer, got {type(owner).__name__}"
            )
        if self.built:
            raise ValueError("share_lambda_with must be called before the quantizer is built")
        # Plain attribute, not Keras tracking: the owner's variable stays the owner's.
        object.__setattr__(self, "_lambda_owner", owner)

    @property
    def lam(self) -> tf.Variable:
        if self._lambda_owner is not None:
            return self._lambda_owner.lam
        return self._lam

    def build(self, input_shape):
        if self._lambda_owner is None:
            self._lam = self.add_weight(
                "lambda",
                shape=(),
                initializer=tf.keras.initializers.Constant(self.lambda_init),
                trainable=self.lambda_trainable,
                constraint=Between(0.0, 1.0),
            )
        elif not self._lambda_owner.built:
            raise ValueError(
                f"{self.name} shares the lambda of {self._lambda_owner.name}, "
                "which must be built first"
            )
        super().build(input_shape)

    def surrogate(self, x):
        r"""The surrogate \(f(x) = (1-\lambda)\tanh(\alpha x) + \lambda x\) with current parameters."""
        return atiste_surrogate(x, tf.convert_to_tensor(self.alpha), tf.convert_to_tensor(self.lam))

    def _binarize(self, x, alpha, lam):
        return atiste(x, alpha, lam)

    def _soft(self, x, alpha, lam):
        return atiste_surrogate(x, alpha, lam)

    def call(self, inputs, training=None):
        alpha = tf.convert_to_tensor(self.alpha)
        lam = tf.cast(tf.convert_to_tensor(self.lam), inputs.dtype)
        if not self.soft_forward:
            return self._binarize(inputs, alpha, lam)
        if training is None:
            training = tf.keras.backend.learning_phase()
        if isinstance(training, (bool, int)):
            return self._soft(inputs, alpha, lam) if training else self._binarize(inputs, alpha, lam)
        return tf.cond(
            tf.cast(training, tf.bool),
            lambda: self._soft(inputs, alpha, lam),
            lambda: self._binarize(inputs, alpha, lam),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "lam": self.lambda_init,
            "lambda_trainable": self.lambda_trainable,
            "soft_forward": self.soft_forward,
        }


@lq_utils.register_alias("scaled_atiste")
@lq_utils.register_keras_custom_object
class ScaledATISTE(ATISTE):
    r"""ATISTE for weights, with per-output-channel magnitude scaling (HS-BiNet A.1).

    Forward: \(q(W) = \overline{|W|}_c\,\mathrm{sign}(W)\), the mean over each
    output channel (the kernel's last axis), as in BiSRNet Eq. 9 / BBCU Eq. 3.
    Backward: the `ATISTE` derivatives, unscaled (the scale is a constant).
    `per_channel=True` (default) gives one alpha per output channel.
    """

    def _binarize(self, w, alpha, lam):
        return atiste(w, alpha, lam, scale=_channel_mean_abs(w))

    def _soft(self, w, alpha, lam):
        return _channel_mean_abs(w) * atiste_surrogate(w, alpha, lam)


@lq_utils.register_alias("scaled_sign")
@lq_utils.register_keras_custom_object
class ScaledSign(MagnitudeAwareSign):
    r"""Magnitude-scaled weight sign with the unscaled clip STE (BiSRNet Eq. 9, BBCU Eq. 3).

    Forward:
    \[ q(W) = \overline{|W|}_c \cdot \mathrm{sign}(W), \quad
       \overline{|W|}_c = \mathrm{mean}_{k_h,k_w,c_{in}} |W_{\cdot,\cdot,\cdot,c}| \]
    Backward (the scale is a constant):
    \[ \frac{\partial q}{\partial W} = 1_{|W| \le \text{clip\_value}} \]
    larq's `MagnitudeAwareSign` has the same forward but multiplies the
    gradient by the scale; the reference implementations of BiSRNet and BBCU
    pass it unscaled, as this class does.
    """

    def call(self, inputs):
        outputs = scaled_sign(inputs, clip_value=self.clip_value)
        # Skip MagnitudeAwareSign.call (its scaled gradient); keep larq's metrics hook.
        return super(MagnitudeAwareSign, self).call(outputs)

@lq_utils.register_alias("scaled_approx_sign")
@lq_utils.register_keras_custom_object
class ScaledApproxSign(Quantizer):
    r"""Weights binarized as \(\overline{|W|}_c\,\mathrm{sign}(W)\) with the ApproxSign gradient.

    Forward: \(q(W) = \overline{|W|}_c\,\mathrm{sign}(W)\), the mean of \(|W|\)
    per output channel (the kernel's last axis), a constant in the backward pass.
    Backward (Bi-Real's piecewise-quadratic estimator, used for weights by BTM):
    \[ \frac{\partial q}{\partial W} = \begin{cases} 2 - 2|W| & |W| \le 1 \\ 0 & \text{otherwise.} \end{cases} \]
    """

    precision = 1

    def call(self, inputs):
        scale = _channel_mean_abs(inputs)

        @tf.custom_gradient
        def _q(w):
            def grad(dy):
                return dy * tf.where(tf.abs(w) <= 1.0, 2.0 - 2.0 * tf.abs(w), tf.zeros_like(w))

            return scale * lq_sign(w), grad

        return super().call(_q(inputs))


class _EDEQuantizer(Quantizer):
    """Base of the quantizers with IRNet's EDE gradient: fixed (non-trainable) variables t and k.

    `larq_hsi.training.callbacks.EDESchedule` assigns them once per epoch.
    """

    precision = 1

    def __init__(self, t: float = EDE_T_MIN, k: float | None = None, **kwargs):
        if not isinstance(t, numbers.Real) or not t > 0:
            raise ValueError(f"EDE: t must be a number > 0, got {t!r}")
        if k is None:
            k = max(1.0 / float(t), 1.0)
        if not isinstance(k, numbers.Real) or not k > 0:
            raise ValueError(f"EDE: k must be a number > 0, got {k!r}")
        self.t_init = float(t)
        self.k_init = float(k)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.t = self.add_weight("t", shape=(), trainable=False,
                                 initializer=tf.keras.initializers.Constant(self.t_init))
        self.k = self.add_weight("k", shape=(), trainable=False,
                                 initializer=tf.keras.initializers.Constant(self.k_init))
        super().build(input_shape)

    def surrogate(self, x):
        r"""The function whose derivative the backward pass uses: \(k\tanh(t x)\)."""
        return tf.convert_to_tensor(self.k) * tf.tanh(tf.convert_to_tensor(self.t) * x)

    def get_config(self):
        return {**super().get_config(), "t": self.t_init, "k": self.k_init}


@lq_utils.register_alias("ede_sign")
@lq_utils.register_keras_custom_object
class EDESign(_EDEQuantizer):
    r"""Sign with IRNet's Error Decay Estimator (EDE, Qin et al. 2020, Eq. 13-14), for activations.

    Forward: \(q(x) = \mathrm{sign}(x)\) (0 maps to +1, larq's convention).
    Backward: the derivative of \(g(x) = k\tanh(tx)\),
    \[ \frac{\partial q}{\partial x} = k\,t\,(1 - \tanh^2(t x)), \]
    with t and k non-trainable variables moved over training by
    `larq_hsi.training.callbacks.EDESchedule` (`ede_parameters`):
    \(t = T_{min}10^{\frac{i}{N}\log_{10}(T_{max}/T_{min})}\), \(k = \max(1/t, 1)\),
    \(T_{min} = 0.1\), \(T_{max} = 10\).

    # Arguments
        t, k: initial values (default the schedule's start: t = 0.1, k = max(1/t, 1) = 10).
    """

    def call(self, inputs):
        return ede_sign(inputs, tf.convert_to_tensor(self.t), tf.convert_to_tensor(self.k))


@lq_utils.register_alias("libra_pb_sign")
@lq_utils.register_keras_custom_object
class LibraPBSign(_EDEQuantizer):
    r"""IRNet's Libra-PB weight binarization with the EDE gradient (Qin et al. 2020, Eq. 9-14).

    Forward, per output channel c (the kernel's last axis):
    \[ \hat W = \frac{W - \overline{W}_c}{\sigma_c}, \qquad
       q(W) = s_c\,\mathrm{sign}(\hat W), \quad s_c = 2^{\mathrm{round}(\log_2 \overline{|\hat W|}_c)}, \]
    the balanced (zero-mean) standardized weights, which maximise the entropy
    of the binary weights, scaled by a power of two (a bit shift), with
    \(\sigma_c\) the Bessel-corrected standard deviation.
    Backward: the scale is a constant, the sign takes the EDE gradient and
    the standardization is differentiated exactly:
    \[ \frac{\partial q}{\partial W} = s_c\, k\,t\,(1-\tanh^2(t\hat W))\,
       \frac{\partial \hat W}{\partial W}. \]
    Choices where the paper is open: \(\sigma_c\) is Bessel-corrected (as the
    authors' release computes it), and the scale also multiplies the gradient
    (the forward is \(s_c \cdot q(\hat W)\), differentiated as written).
    """

    def call(self, inputs):
        w_hat = libra_pb_standardize(inputs)
        scale = libra_pb_scale(w_hat)
        return scale * ede_sign(w_hat, tf.convert_to_tensor(self.t), tf.convert_to_tensor(self.k))


def get(identifier, argument: str = "quantizer"):
    """`larq.quantizers.get`, with an error that names the argument it was given for."""
    try:
        return lq.quantizers.get(identifier)
    except ValueError as error:
        raise ValueError(f"{argument}: unknown quantizer {identifier!r} ({error})") from None


def make_quantizer(spec, argument: str = "quantizer"):
    """A fresh quantizer instance from an alias, a config dict or an instance; `None` stays `None`.

    An instance is used as a template: the result is a new object with the
    same config, so one spec can serve many layers. The result takes the
    dtype of the model being built (`larq_hsi.nn.dtype.default_dtype`), not
    the template's: larq builds a quantizer given by name in the global
    dtype, and a template built outside the model would otherwise stay float32.
    """
    if spec is None:
        return None
    if isinstance(spec, (str, dict)):
        prototype = get(spec, argument=argument)
    elif isinstance(spec, tf.keras.layers.Layer):
        prototype = spec
    else:
        raise ValueError(
            f"{argument}: expected a quantizer alias, config dict or instance, got {spec!r}"
        )
    config = prototype.get_config()
    config.pop("name", None)
    config.pop("dtype", None)
    return type(prototype).from_config(config)


# --------------------------------------------------------------------------- the reference's signs
#
# BiSRNet's Table 1 baselines as the authors' code builds them (BiSCI's
# `architecture/{BBCU,BiConnect,BirealNet,BTM,ReActNet,IRNet,BNN}.py`, see
# `../shared/docs/bisci-baselines-reference.md`) binarize with `torch.sign`,
# which maps 0 to 0. Exact zeros do reach those signs (a ReLU then GELU(0) = 0
# in BiConnect, the sum of two saturated Hardtanh outputs of opposite sign in
# IRNet and BNN), so these quantizers use `tf.sign` (also 0 -> 0), not larq's
# `lq.math.sign` (0 -> +1). larq-compute-engine only converts convolutions
# whose input quantizer uses `lq.math.sign`; these are for reproducing the
# reference, not for deployment.


def _kernel_axes(w: tf.Tensor) -> list[int]:
    """The axes of a Keras kernel `(kh, kw, in/groups, out)` that one output channel spans."""
    return list(range(w.shape.rank - 1))


def torch_sign(x: tf.Tensor) -> tf.Tensor:
    """`torch.sign`: -1, 0 or +1 (0 maps to 0), without a gradient of its own."""
    return tf.sign(x)


def _sign_with_gradient(x: tf.Tensor, derivative) -> tf.Tensor:
    """`torch_sign(x)` whose backward pass multiplies the incoming gradient by `derivative(x)`."""

    @tf.custom_gradient
    def _call(x):
        def grad(dy):
            return dy * derivative(x)

        return torch_sign(x), grad

    return _call(x)


def _scaled_sign_with_gradient(x: tf.Tensor, scale: tf.Tensor, derivative) -> tf.Tensor:
    """`scale * torch_sign(x)` whose backward multiplies the gradient by `derivative(x)` only,
    not by `scale` (the reference's `(scale * sign(x)).detach() - clamp(x).detach() + clamp(x)`)."""

    @tf.custom_gradient
    def _call(x):
        def grad(dy):
            return dy * derivative(x)

        return scale * torch_sign(x), grad

    return _call(x)


def _clip_derivative(x):
    return tf.cast(tf.abs(x) <= 1.0, x.dtype)


def _approx_derivative(x):
    return tf.where(tf.abs(x) < 1.0, 2.0 - 2.0 * tf.abs(x), tf.zeros_like(x))


class _TorchSignBase(Quantizer):
    precision = 1

    def call(self, inputs):
        return super().call(self._quantize(inputs))


@lq_utils.register_alias("torch_ste_sign")
@lq_utils.register_keras_custom_object
class TorchSteSign(_TorchSignBase):
    r"""`torch.sign` with the clip STE (the reference's `BinaryActivation`: BBCU, BiConnect, BTM).

    Forward: \(q(x) = \mathrm{sign}(x)\) with \(\mathrm{sign}(0) = 0\).
    Backward (the clamp trick, endpoints included):
    \[ \frac{\partial q}{\partial x} = 1_{|x| \le 1}. \]
    """

    def _quantize(self, x):
        return _sign_with_gradient(x, _clip_derivative)


@lq_utils.register_alias("torch_approx_sign")
@lq_utils.register_keras_custom_object
class TorchApproxSign(_TorchSignBase):
    r"""`torch.sign` with Bi-Real's ApproxSign backward (Bi-Real, ReActNet).

    Forward: \(q(x) = \mathrm{sign}(x)\) with \(\mathrm{sign}(0) = 0\).
    Backward (the piecewise quadratic's derivative):
    \[ \frac{\partial q}{\partial x} = \begin{cases} 2 + 2x & -1 \le x < 0 \\
       2 - 2x & 0 \le x < 1 \\ 0 & \text{otherwise,} \end{cases} \]
    i.e. \(2 - 2|x|\) on \(|x| < 1\) (0 at \(\pm 1\) either way).
    """

    def _quantize(self, x):
        return _sign_with_gradient(x, _approx_derivative)


@lq_utils.register_alias("torch_identity_sign")
@lq_utils.register_keras_custom_object
class TorchIdentitySign(_TorchSignBase):
    r"""`torch.sign` with the identity as backward: the reference BNN's in-place sign.

    The reference BNN writes `sign(x)` into its input tensor's data, which
    autograd does not see, so the gradient passes unchanged.
    Forward: \(q(x) = \mathrm{sign}(x)\) with \(\mathrm{sign}(0) = 0\).
    Backward: \(\partial q / \partial x = 1\) everywhere (no clipping).
    """

    def _quantize(self, x):
        return _sign_with_gradient(x, tf.ones_like)


@lq_utils.register_alias("torch_scaled_sign")
@lq_utils.register_keras_custom_object
class TorchScaledSign(_TorchSignBase):
    r"""Scaled weight sign with `torch.sign` (the reference's Bi-Real, ReActNet and BBCU kernels).

    Forward, per output channel o (the kernel's last axis):
    \[ q(W) = a_o\,\mathrm{sign}(W), \quad a_o = \mathrm{mean}_{k_h,k_w,c_{in}} |W_{\cdot,\cdot,\cdot,o}|,
       \quad \mathrm{sign}(0) = 0. \]
    Backward (\(a_o\) a constant, the gradient not multiplied by it):
    \[ \frac{\partial q}{\partial W} = 1_{|W| \le 1}. \]
    As `ScaledSign` but for the sign of an exact 0.
    """

    def _quantize(self, w):
        scale = tf.stop_gradient(tf.reduce_mean(tf.abs(w), axis=_kernel_axes(w)))
        return _scaled_sign_with_gradient(w, scale, _clip_derivative)


@lq_utils.register_alias("frozen_sign")
@lq_utils.register_keras_custom_object
class FrozenSign(Quantizer):
    r"""Unscaled weight sign whose latent weights never change: the reference BiConnect and BNN kernels.

    Forward:
    \[ q(W) = \begin{cases} +1 & W > 0 \\ z & W = 0 \\ -1 & W < 0, \end{cases} \]
    with \(z\) = `zero_value`: +1 for BiConnect (`sign(W).add(0.01).sign()`), 0 for BNN (`sign(W)`).
    Backward: \(\partial q / \partial W = 0\).

    The reference overwrites the conv's weight data with the sign of a copy of
    W taken at the module's first forward; the optimizer's update is thrown
    away at the next forward, so the binary kernels stay the signs of the
    values seen first (init or checkpoint) for all of training. A zero
    gradient reproduces that: the latent weights are still trainable
    variables (they are parameters in the reference's count) but never move
    under plain gradient steps. Loading a state dict saved by the reference
    after a forward (+-1 kernels) gives the same binary kernels.
    """

    precision = 1

    def __init__(self, zero_value: float = 1.0, **kwargs):
        if zero_value not in (-1.0, 0.0, 1.0):
            raise ValueError(f"FrozenSign: zero_value must be -1, 0 or 1, got {zero_value!r}")
        self.zero_value = float(zero_value)
        super().__init__(**kwargs)

    def call(self, inputs):
        w = tf.stop_gradient(inputs)
        zero = tf.fill(tf.shape(w), tf.constant(self.zero_value, w.dtype))
        out = tf.where(w > 0, tf.ones_like(w), tf.where(w < 0, -tf.ones_like(w), zero))
        # A zero gradient (not None), so optimizers see a gradient for every kernel.
        return super().call(out + 0.0 * inputs)

    def get_config(self):
        return {**super().get_config(), "zero_value": self.zero_value}


@lq_utils.register_alias("scaled_standardized_sign")
@lq_utils.register_keras_custom_object
class ScaledStandardizedSign(Quantizer):
    r"""BTM's binary kernel: scaled weight standardization, then a scaled sign, times a learnable gain.

    Per output channel o (the kernel's last axis), with \(\mu_o, \sigma_o\) the
    mean and the biased standard deviation over the \(n = k_h k_w c_{in}\) weights:
    \[ V = \frac{1}{\sqrt n}\,\frac{W - \mu_o}{\sigma_o + \epsilon}, \qquad
       q(W) = g_o\,\overline{|V|}_o\,\mathrm{sign}(V), \quad \mathrm{sign}(0) = 0, \]
    \(\epsilon = 10^{-5}\), \(g\) the per-output-channel `gain` (init 1, learnable).
    Backward (\(\overline{|V|}_o\) a constant, the clip STE on V, exact through \(\mu, \sigma\)):
    \[ \frac{\partial q}{\partial V} = g_o\,1_{|V| \le 1}, \qquad
       \frac{\partial q}{\partial g_o} = \overline{|V|}_o\,\mathrm{sign}(V), \]
    and \(\partial V / \partial W\) differentiated as written. (The reference's
    `HardBinaryScaledStdConv2d`.)
    """

    precision = 1

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        if not epsilon > 0:
            raise ValueError(f"ScaledStandardizedSign: epsilon must be > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.gain = self.add_weight("gain", shape=(int(input_shape[-1]),),
                                    initializer=tf.keras.initializers.Ones(), trainable=True)
        super().build(input_shape)

    def standardize(self, w):
        r"""\(V = n^{-1/2} (W - \mu_o) / (\sigma_o + \epsilon)\), differentiable."""
        axes = _kernel_axes(w)
        n = 1
        for axis in axes:
            n *= int(w.shape[axis])
        mean = tf.reduce_mean(w, axis=axes)
        std = tf.sqrt(tf.reduce_mean(tf.square(w - mean), axis=axes))
        # tf.constant, not tf.cast: a Python float given to tf.cast is rounded to float32 first.
        return (n ** -0.5) * (w - mean) / (std + tf.constant(self.epsilon, w.dtype))

    def call(self, inputs):
        v = self.standardize(inputs)
        scale = tf.stop_gradient(tf.reduce_mean(tf.abs(v), axis=_kernel_axes(v)))
        binary = _scaled_sign_with_gradient(v, scale, _clip_derivative)
        return super().call(tf.convert_to_tensor(self.gain) * binary)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@lq_utils.register_alias("torch_ede_sign")
@lq_utils.register_keras_custom_object
class TorchEDESign(EDESign):
    r"""IRNet's activation sign as the reference builds it: `torch.sign` with the EDE gradient.

    Forward: \(q(x) = \mathrm{sign}(x)\) with \(\mathrm{sign}(0) = 0\).
    Backward: \(\partial q/\partial x = k\,t\,(1 - \tanh^2(t x))\), with the
    reference's fixed t = 0.1, k = 10 by default (i.e. \(1 - \tanh^2(0.1 x)\));
    the reference has no schedule for them (an `EDESchedule` callback still
    moves them, as for `EDESign`).
    """

    def call(self, inputs):
        t = tf.cast(tf.convert_to_tensor(self.t), inputs.dtype)
        k = tf.cast(tf.convert_to_tensor(self.k), inputs.dtype)
        return _sign_with_gradient(inputs, lambda x: k * t * (1.0 - tf.square(tf.tanh(t * x))))


@lq_utils.register_alias("torch_libra_pb_sign")
@lq_utils.register_keras_custom_object
class TorchLibraPBSign(LibraPBSign):
    r"""IRNet's weight binarization as the reference builds it: `LibraPBSign` with `torch.sign`.

    Forward, per output channel o, \(\sigma_o\) Bessel-corrected:
    \[ V = (W - \mu_o)/\sigma_o, \qquad q(W) = 2^{\mathrm{round}\log_2 \overline{|V|}_o}\,\mathrm{sign}(V),
       \quad \mathrm{sign}(0) = 0, \]
    `round` half to even (as `torch.round`). Backward: the power of two a
    constant that multiplies the gradient, EDE on V, exact through the standardization:
    \[ \frac{\partial q}{\partial W} = 2^{\mathrm{round}\log_2 \overline{|V|}_o}\,k\,t\,(1-\tanh^2(tV))\,
       \frac{\partial V}{\partial W}, \]
    t = 0.1, k = 10 by default (the reference's fixed values).
    """

    def call(self, inputs):
        v = libra_pb_standardize(inputs)
        scale = libra_pb_scale(v)
        t = tf.cast(tf.convert_to_tensor(self.t), inputs.dtype)
        k = tf.cast(tf.convert_to_tensor(self.k), inputs.dtype)
        return scale * _sign_with_gradient(v, lambda x: k * t * (1.0 - tf.square(tf.tanh(t * x))))
