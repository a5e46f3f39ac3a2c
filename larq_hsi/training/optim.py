r"""HS-BiNet's optimiser: Adam with coupled (L2) weight decay and cosine warm restarts.

The paper trains with PyTorch's `Adam(lr=1e-3, weight_decay=1e-5)`. PyTorch's
Adam *couples* the decay: it adds \(\mathrm{wd}\cdot w\) to the gradient before
the moment estimates,

\[ g_t' = g_t + \mathrm{wd}\, w_{t-1}, \quad m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t', \quad
   v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t'^2, \]
\[ w_t = w_{t-1} - \eta_t\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,\frac{m_t}{\sqrt{v_t} + \epsilon}, \]

(the last line is Keras's Adam update), which is not AdamW's decoupled
\(w \leftarrow w - \eta\,\mathrm{wd}\, w\) (`tfa.optimizers.AdamW`, or the
`weight_decay=` argument of Keras optimizers). `CoupledWeightDecayAdam`
implements the coupled form. The decay applies to every trainable variable
except the ones excluded: `paper_optimizer` excludes the estimators' own
parameters (ATISTE's alpha and lambda, TanhSign's alpha), which plain Adam
updates.

The learning rate follows PyTorch's `CosineAnnealingWarmRestarts(T_0=50,
T_mult=2, eta_min=1e-5)` in epochs, through Keras's
`CosineDecayRestarts` in steps (`cosine_warm_restarts`): within a cycle of
\(T_i\) epochs, \(\eta = \eta_{min} + (\eta_0 - \eta_{min})(1 + \cos(\pi t/T_i))/2\),
with \(T_{i+1} = 2 T_i\). Keras evaluates it at every step (PyTorch, stepped
once per epoch, holds it for the epoch).
"""

from __future__ import annotations

from collections.abc import Iterable

import tensorflow as tf
from larq import utils as lq_utils

from larq_hsi.nn.introspect import quantizer_variables

__all__ = [
    "CoupledWeightDecayAdam",
    "cosine_decay",
    "cosine_warm_restarts",
    "paper_optimizer",
]

@lq_utils.register_keras_custom_object
class CoupledWeightDecayAdam(tf.keras.optimizers.Adam):
    r"""Adam with PyTorch's coupled weight decay: Adam on \(g + \mathrm{wd}\,w\).

    Variables registered with `exclude_from_decay` (or passed as `exclude`)
    get plain Adam on \(g\). Accepts Keras Adam's arguments; the default
    `epsilon=1e-8` is PyTorch's (Keras's Adam uses 1e-7), and Keras's own
    decoupled `weight_decay` is not available here (use `tf.keras.optimizers.AdamW`
    for that).

    # Arguments
        learning_rate: a float or a schedule (see `cosine_warm_restarts`).
        weight_decay: the L2 coefficient wd >= 0 added to the gradients.
        exclude: variables that are not decayed.
    """

    def __init__(
        self,
        learning_rate=1e-3,
        weight_decay: float = 1e-5,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        exclude: Iterable[tf.Variable] | None = None,
        name: str = "CoupledWeightDecayAdam",
        **kwargs,
    ):
        if not isinstance(weight_decay, (int, float)) or isinstance(weight_decay, bool) or weight_decay < 0:
            raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, name=name, **kwargs
        )
        if self.weight_decay is not None:
            raise ValueError("CoupledWeightDecayAdam: Keras's decoupled weight_decay is not supported")
        self.coupled_weight_decay = float(weight_decay)
        self._no_decay_keys: set[str] = set()
        if exclude is not None:
            self.exclude_from_decay(exclude)

    def exclude_from_decay(self, variables: Iterable[tf.Variable]) -> None:
        """Apply plain Adam (no L2 term) to `variables`."""
        for v in variables:
            if not isinstance(v, tf.Variable):
                raise ValueError(f"exclude_from_decay expects tf.Variables, got {type(v).__name__}")
            self._no_decay_keys.add(self._var_key(v))

    def decays(self, variable) -> bool:
        """Whether `variable` gets the L2 term."""
        return self.coupled_weight_decay > 0 and self._var_key(variable) not in self._no_decay_keys

    def update_step(self, gradient, variable):
        if self.decays(variable):
            if isinstance(gradient, tf.IndexedSlices):
                gradient = tf.convert_to_tensor(gradient)
            # Reading a larq QuantizedVariable outside a quantized scope gives its latent value.
            gradient = gradient + tf.cast(self.coupled_weight_decay, gradient.dtype) * tf.cast(
                tf.convert_to_tensor(variable), gradient.dtype
            )
        return super().update_step(gradient, variable)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        return {**config, "weight_decay": self.coupled_weight_decay}


def cosine_decay(
    learning_rate: float, steps: int, final_learning_rate: float = 0.0, warmup_steps: int = 0
) -> tf.keras.optimizers.schedules.CosineDecay:
    r"""Cosine annealing over `steps` steps, after an optional linear warm-up, as a Keras schedule.

    For \(t < w\) (`warmup_steps`) \(\eta = \eta_0 t / w\); after it, with
    \(T = \) `steps` \(- w\), \(\eta = \eta_{min} + (\eta_0 - \eta_{min})(1 + \cos(\pi \min(t - w, T)/T))/2\),
    \(\eta_0\) = `learning_rate` and \(\eta_{min}\) = `final_learning_rate`. `warmup_steps=0` is
    plain cosine annealing from \(\eta_0\) (PyTorch's `CosineAnnealingLR`, stepped every step).
    """
    if not 0 <= warmup_steps < steps:
        raise ValueError(f"warmup_steps must be in [0, steps={steps}), got {warmup_steps}")
    if learning_rate <= 0 or not 0 <= final_learning_rate <= learning_rate:
        raise ValueError(f"need 0 <= final_learning_rate <= learning_rate and learning_rate > 0, got "
                         f"learning_rate={learning_rate}, final_learning_rate={final_learning_rate}")
    alpha = final_learning_rate / learning_rate
    if not warmup_steps:
        return tf.keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=alpha)
    return tf.keras.optimizers.schedules.CosineDecay(
        0.0, steps - warmup_steps, alpha=alpha, warmup_target=learning_rate, warmup_steps=warmup_steps)


def cosine_warm_restarts(
    steps_per_epoch: int,
    learning_rate: float = 1e-3,
    t0_epochs: int = 50,
    t_mult: float = 2.0,
    min_learning_rate: float = 1e-5,
) -> tf.keras.optimizers.schedules.CosineDecayRestarts:
    r"""Cosine annealing with warm restarts in epochs, as a per-step Keras schedule.

    The first cycle lasts `t0_epochs * steps_per_epoch` steps, each next one
    `t_mult` times longer; the rate goes from `learning_rate` down to
    `min_learning_rate` within each cycle and jumps back at a restart:
    \(\eta(t) = \eta_{min} + (\eta_0 - \eta_{min})(1+\cos(\pi t / T_i))/2\).
    """
    for value, what in ((steps_per_epoch, "steps_per_epoch"), (t0_epochs, "t0_epochs")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    if not learning_rate > 0 or not 0 <= min_learning_rate <= learning_rate:
        raise ValueError(
            f"need learning_rate > 0 and 0 <= min_learning_rate <= learning_rate, got "
            f"{learning_rate!r} and {min_learning_rate!r}"
        )
    if not t_mult >= 1:
        raise ValueError(f"t_mult must be >= 1, got {t_mult!r}")
    return tf.keras.optimizers.schedules.CosineDecayRestarts(
        initial_learning_rate=learning_rate,
        first_decay_steps=t0_epochs * steps_per_epoch,
        t_mul=float(t_mult),
        m_mul=1.0,
        alpha=min_learning_rate / learning_rate,
    )


def paper_optimizer(
    model: tf.keras.Model | None,
    steps_per_epoch: int,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-5,
    t0_epochs: int = 50,
    t_mult: float = 2.0,
    min_learning_rate: float = 1e-5,
) -> CoupledWeightDecayAdam:
    """HS-BiNet's optimiser: Adam (lr 1e-3), coupled weight decay 1e-5 and cosine warm restarts.

    The decay skips `quantizer_variables(model)` (the estimators' alpha and
    lambda); with `model=None` nothing is excluded.
    """
    schedule = cosine_warm_restarts(steps_per_epoch, learning_rate, t0_epochs, t_mult, min_learning_rate)
    exclude = quantizer_variables(model) if model is not None else None
    return CoupledWeightDecayAdam(schedule, weight_decay=weight_decay, exclude=exclude)
