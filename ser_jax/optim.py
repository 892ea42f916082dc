"""The optimiser: Adam with the original's L2 penalty, optional AdamW decay, schedules and clipping.

The original put ``kernel_regularizer=l2(1e-3)`` on its conv and hidden dense kernels. Keras ``l2(l)``
adds ``l * sum(w**2)`` to the loss, whose gradient is ``2 * l * w``; "coupled" mode adds exactly that
to the gradient before Adam (so Adam's per-parameter scaling also rescales the penalty, as in Keras).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import jax
import optax

from ser_jax.fields import setting

# Module-name prefixes whose ``kernel`` gets the L2 penalty: the original's conv and hidden dense
# layers (``conv_<i>``, ``dense_<i>``); every model in ser_jax.models names its layers by this rule.
L2_MODULE_PREFIXES = ("conv_", "dense_")
DECAYS = ("coupled", "decoupled", "none")
SCHEDULES = ("constant", "cosine", "warmup_cosine")

_L2_MODULE = re.compile("^(" + "|".join(re.escape(p) for p in L2_MODULE_PREFIXES) + r")\d+$")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam settings; the defaults are the original's (Keras Adam 1e-3, l2(1e-3) coupled)."""

    learning_rate: float = setting(1e-3, "Adam learning rate.")
    l2: float = setting(1e-3, "L2 factor on conv and hidden dense kernels (Keras l2(l) semantics; see l2_mask).")
    # "coupled": Keras L2, gradient += 2*l2*w before Adam. "decoupled": AdamW, w -= lr(t) * 2*l2 * w
    # after Adam (the same decay as coupled L2 would give under plain SGD, Loshchilov & Hutter), on the
    # same kernels. "none": plain Adam, l2 ignored.
    decay: str = setting("coupled", "coupled: L2 added to the gradient before Adam (as Keras l2); decoupled: AdamW; "
                         "none: plain Adam.", choices=DECAYS)
    schedule: str = setting("constant", "Learning-rate schedule (cosine: to 0 at the last step).", choices=SCHEDULES)
    warmup_steps: int = setting(0, "Linear warm-up steps from 0 (schedule=warmup_cosine only).")
    clip_norm: float | None = setting(None, "Clip the global norm of the loss gradient (before L2) to this; default "
                                      "none.")
    # Keras' Adam epsilon, kept for faithfulness to the original. (Keras adds it to sqrt(v) before
    # bias correction, optax after, so Keras' effective epsilon is 1e-7 / sqrt(1 - 0.999**t); both are
    # negligible beside sqrt(v) for all but near-zero gradients, so 1e-7 vs 1e-8 hardly matters.)
    adam_eps: float = setting(1e-7, "Adam's epsilon (Keras' default).")
    b1: float = setting(0.9, "Adam's beta_1.")
    b2: float = setting(0.999, "Adam's beta_2.")

    def __post_init__(self) -> None:
        _positive("learning_rate", self.learning_rate)
        _positive("l2", self.l2, allow_zero=True)
        _positive("adam_eps", self.adam_eps)
        if self.decay not in DECAYS:
            raise ValueError(f"OptimConfig.decay: {self.decay!r} is not one of {', '.join(DECAYS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"OptimConfig.schedule: {self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"OptimConfig.warmup_steps: must be an integer >= 0, got {self.warmup_steps!r}")
        if self.warmup_steps and self.schedule != "warmup_cosine":
            raise ValueError(
                f"OptimConfig.warmup_steps: {self.warmup_steps} is only used by schedule='warmup_cosine', "
                f"not {self.schedule!r}; set it to 0 or change the schedule"
            )
        if self.clip_norm is not None:
            _positive("clip_norm", self.clip_norm)
        for name in ("b1", "b2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"OptimConfig.{name}: must be in [0, 1), got {value!r}")


def _positive(name: str, value: Any, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0) and value != float("inf")
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"OptimConfig.{name}: must be a finite number {bound}, got {value!r}")


def l2_mask(params: Any) -> Any:
    """Pytree of bools like ``params``: True for conv kernels and hidden dense kernels only.

    These are the ``kernel`` of modules named ``conv_<i>``/``dense_<i>``, at any depth: in the
    original model the weights it regularised; biases, BatchNorm, LSTM, attention and the output
    layer are not. Pass ``variables["params"]``.
    """
    if isinstance(params, dict) and "params" in params:
        raise ValueError("l2_mask: pass variables['params'], not the whole variables dict")

    def selected(path: tuple[Any, ...], _: Any) -> bool:
        keys = [getattr(p, "key", None) for p in path]
        return (
            len(keys) >= 2
            and isinstance(keys[-2], str)
            and _L2_MODULE.match(keys[-2]) is not None
            and keys[-1] == "kernel"
        )

    return jax.tree_util.tree_map_with_path(selected, params)


def make_schedule(cfg: OptimConfig, total_steps: int | None = None) -> optax.Schedule:
    """Learning rate as a function of the number of updates done so far."""
    if cfg.schedule == "constant":
        return optax.constant_schedule(cfg.learning_rate)
    if total_steps is None or isinstance(total_steps, bool) or int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(
            f"OptimConfig.schedule={cfg.schedule!r} needs total_steps (a positive int), got {total_steps!r}"
        )
    if cfg.schedule == "cosine":
        return optax.cosine_decay_schedule(cfg.learning_rate, decay_steps=int(total_steps))
    if cfg.warmup_steps >= total_steps:
        raise ValueError(
            f"OptimConfig.warmup_steps: {cfg.warmup_steps} warm-up steps leave nothing of {total_steps} total steps"
        )
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=cfg.learning_rate,
        warmup_steps=cfg.warmup_steps,
        decay_steps=int(total_steps),  # optax counts the warm-up inside decay_steps
        end_value=0.0,
    )


def pretrained_mask(params: Any) -> Any:
    """Pytree of bools like ``params``: True under any name starting ``pretrained`` (weights a model
    took from a pretrained encoder, ser_jax.models.whisper_top)."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: any(str(getattr(p, "key", "")).startswith("pretrained") for p in path), params)


def make_optimizer(cfg: OptimConfig, total_steps: int | None = None, pretrained_lr: float = 1.0
                   ) -> optax.GradientTransformation:
    """Adam with the configured decay, schedule and clipping.

    Order: clip (the data-loss gradient) -> [coupled: + 2*l2*w] -> Adam scaling ->
    [decoupled: + 2*l2*w] -> * -lr(t). Coupled mode equals Adam on ``loss + l2 * sum(w**2)`` over
    :func:`l2_mask`'s kernels (the factor 2 is that penalty's derivative); decoupled equals
    ``optax.adamw(lr, weight_decay=2 * l2, mask=l2_mask)``. ``pretrained_lr`` scales the updates of
    :func:`pretrained_mask`'s parameters (fine-tuned pretrained weights learn slower than a new head).
    """
    parts: list[optax.GradientTransformation] = []
    if cfg.clip_norm is not None:
        parts.append(optax.clip_by_global_norm(cfg.clip_norm))
    decay = 2.0 * cfg.l2
    if cfg.decay == "coupled" and cfg.l2 > 0:
        parts.append(optax.add_decayed_weights(decay, mask=l2_mask))
    parts.append(optax.scale_by_adam(b1=cfg.b1, b2=cfg.b2, eps=cfg.adam_eps))
    if cfg.decay == "decoupled" and cfg.l2 > 0:
        parts.append(optax.add_decayed_weights(decay, mask=l2_mask))
    if pretrained_lr != 1.0:
        parts.append(optax.masked(optax.scale(pretrained_lr), pretrained_mask))
    parts.append(optax.scale_by_learning_rate(make_schedule(cfg, total_steps)))
    return optax.chain(*parts)


def learning_rate_at(cfg: OptimConfig, step: int, total_steps: int | None = None) -> float:
    """The learning rate used for update number ``step`` (0-based), for logging."""
    return float(make_schedule(cfg, total_steps)(step))
