"""``whisper_top``: a pretrained Whisper encoder's top blocks, fine-tuned, then the SUPERB head.

Fine-tuning a whole encoder is out of reach on a few CPU cores; fine-tuning its last N blocks is not
when the frozen blocks below them run once: the ``whisper`` recipe caches state h<L-N> as frames
(``--feature_groups=h<L-N> --encoder_pool=frames``) and a training step runs only the top N blocks.
They start from the encoder's own weights (``initialize`` reads them from the file the features name,
checked by the hash the features recorded) and learn at ``pretrained_lr`` times the learning rate.
The head is superb's: softmax weights over the input state and each block's output (each layer-normed
first, as SUPERB's featurizer does, or standardised per feature: ``state_norm``), pooling over the
clip, a small MLP.

The features arrive standardised (globally or per speaker); the model maps them back to the
encoder's own scale (x * std + mean of the training rows: the checkpointed statistics) before the
blocks, which were trained on that scale. Under speaker normalisation that is each speaker's states
re-centred and re-scaled to the training average.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ser_jax.models import superb
from ser_jax.models._layers import check_inputs, check_int, check_rate, time_mask

STATE_NORMS = ("layer", "batch")
# The block's parameters as ser_jax.encoders._whisper.params_of names them: (weight, bias) pairs.
_BLOCK_PARAMS = ("ln1", "qkv", "out", "ln2", "fc1", "fc2")


# The tiny configuration tests run the model in (tests/models/test_models.py).
TINY = {"heads": 2, "ffn": 8, "hidden": (8,), "pooling": "attention"}


@dataclasses.dataclass(frozen=True)
class Config:
    num_classes: int = 8
    blocks: int = 1  # the encoder's last N blocks, fine-tuned; the features must be state h<layers - N>
    # None: as the encoder the features were made with has them (fit_features), so nobody needs to type them.
    heads: int | None = None  # attention heads of those blocks (default: the encoder's; Whisper base: 8)
    ffn: int | None = None  # their feed-forward width (default: the encoder's; Whisper base: 2048)
    pretrained_lr: float = 0.1  # learning rate of the pretrained weights, as a fraction of --learning_rate
    # How each state is scaled for the head: "layer" = layer norm per frame (SUPERB's featurizer);
    # "batch" = each feature standardised over the training frames (BatchNorm), the input state as the
    # run standardised it (globally or per speaker), as the frozen recipe's head sees its states.
    state_norm: str = "layer"
    pooling: str = "mean"  # the head (ser_jax.models.superb): mean or attention over the valid frames
    mix: str = "weighted"  # the states: a learned softmax-weighted sum, or side by side (concat)
    hidden: tuple[int, ...] = (256,)
    dropout: float = 0.2

    def __post_init__(self) -> None:
        check_int("whisper_top", "num_classes", self.num_classes, 2)
        check_int("whisper_top", "blocks", self.blocks, 1)
        for field in ("heads", "ffn"):
            if getattr(self, field) is not None:
                check_int("whisper_top", field, getattr(self, field), 1)
        if not (isinstance(self.pretrained_lr, (int, float)) and 0 <= self.pretrained_lr < float("inf")):
            raise ValueError(f"whisper_top.pretrained_lr: must be a number >= 0, got {self.pretrained_lr!r}")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        check_rate("whisper_top", "dropout", self.dropout)
        if self.state_norm not in STATE_NORMS:
            raise ValueError(f"whisper_top.state_norm: {self.state_norm!r} is not one of {', '.join(STATE_NORMS)}")
        self.head(2, 1)  # the head's own checks (pooling, mix, hidden)

    def head(self, num_classes: int, width: int) -> superb.Config:
        return superb.Config(num_classes=num_classes, state_width=width, pooling=self.pooling, mix=self.mix,
                             hidden=self.hidden, dropout=self.dropout)


class PretrainedBlock(nn.Module):
    """One encoder block (ser_jax.encoders._whisper.block), its weights as parameters."""

    heads: int | None
    ffn: int | None

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        from ser_jax.encoders import _whisper as whisper

        if self.heads is None or self.ffn is None:
            raise ValueError("whisper_top.heads / whisper_top.ffn: not set; a run takes them from the encoder "
                             "(models.fit_features), the model alone needs them given")
        d = x.shape[-1]
        if d % self.heads:
            raise ValueError(f"whisper_top: width {d} does not divide into {self.heads} heads (whisper_top.heads)")
        shapes = {"ln1": ((d,), d), "qkv": ((d, 3 * d), 3 * d), "out": ((d, d), d), "ln2": ((d,), d),
                  "fc1": ((d, self.ffn), self.ffn), "fc2": ((self.ffn, d), d)}  # (weight, bias width)
        p = {}
        for name in _BLOCK_PARAMS:
            w_shape, b_width = shapes[name]
            w_init = nn.initializers.ones if name.startswith("ln") else nn.initializers.lecun_normal()
            p[name] = (self.param(f"{name}_weight", w_init, w_shape),
                       self.param(f"{name}_bias", nn.initializers.zeros, (b_width,)))
        return whisper.block(x, mask, p, self.heads)


class Model(nn.Module):
    config: Config

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array, *, train: bool) -> jax.Array:
        from ser_jax.encoders import _whisper as whisper

        cfg = self.config
        x, lengths = check_inputs("whisper_top", x, lengths)
        d = x.shape[-1]
        mask = time_mask(lengths, x.shape[1])
        scale = self.param("pretrained_input_scale", nn.initializers.ones, (d,))
        shift = self.param("pretrained_input_shift", nn.initializers.zeros, (d,))
        h = jnp.where(mask[..., None], x * scale + shift, 0.0)  # the encoder's own scale
        states = [h]
        for i in range(cfg.blocks):
            h = PretrainedBlock(cfg.heads, cfg.ffn, name=f"pretrained_block_{i}")(h, mask)
            states.append(h)
        ln_post = (self.param("pretrained_ln_post_weight", nn.initializers.ones, (d,)),
                   self.param("pretrained_ln_post_bias", nn.initializers.zeros, (d,)))
        states[-1] = whisper.layer_norm(states[-1], ln_post)  # the encoder's last state, as it gives it
        self.sow("intermediates", "last_state", states[-1])
        if cfg.state_norm == "layer":
            normed = [whisper.layer_norm(s, (1.0, 0.0)) for s in states]
        else:
            normed = [x] + [nn.BatchNorm(use_running_average=not train, use_scale=False, use_bias=False,
                                         name=f"state_norm_{i + 1}")(s, mask=mask[..., None])
                            for i, s in enumerate(states[1:])]
        head = superb.Model(cfg.head(cfg.num_classes, d), name="head")
        return head(jnp.concatenate(normed, axis=-1), lengths, train=train)


def fit_features(cfg: Config, features: Any, groups: Sequence[str], sizes: Mapping[str, int]) -> Config:
    """The Config with the heads and feed-forward width of the encoder the features were made with; a
    value given that differs is one line naming the value to set."""
    if not features.uses_encoder:
        return cfg  # check_features says what is wrong
    from ser_jax import encoders

    have = encoders.describe(features.encoder)
    for field in ("heads", "ffn"):
        given, want = getattr(cfg, field), getattr(have, field)
        if given is not None and given != want:
            raise ValueError(f"--whisper_top.{field}={given}: the encoder {features.encoder} has {want}; set "
                             f"--whisper_top.{field}={want}")
    return dataclasses.replace(cfg, heads=have.heads if cfg.heads is None else cfg.heads,
                               ffn=have.ffn if cfg.ffn is None else cfg.ffn)


def check_features(cfg: Config, features: Any, groups: Sequence[str], sizes: Mapping[str, int]) -> None:
    """The features (a FeatureConfig, the chosen groups, every group's width) must be the frames of the
    state below the fine-tuned blocks; one line naming the flag otherwise."""
    if not features.uses_encoder:
        raise ValueError(f"--model=whisper_top fine-tunes an encoder's top blocks over its cached states: use "
                         f"--recipe=whisper (got --recipe={features.recipe})")
    layers = sum(1 for g in sizes if g[:1] == "h" and g[1:].isdigit()) - 1
    if cfg.blocks > layers:
        raise ValueError(f"--whisper_top.blocks={cfg.blocks}: the encoder {features.encoder} has {layers} blocks")
    if features.encoder_pool != "frames" or features.encoder_stride != 1:
        raise ValueError("--model=whisper_top runs encoder blocks over every frame: use --encoder_pool=frames and "
                         f"--encoder_stride=1 (got {features.encoder_pool}, {features.encoder_stride})")
    want = f"h{layers - cfg.blocks}"
    if tuple(groups) != (want,):
        raise ValueError(f"--whisper_top.blocks={cfg.blocks} fine-tunes the last {cfg.blocks} of {layers} blocks, "
                         f"which read state {want}: use --feature_groups={want} (got {','.join(groups)})")


def initialize(cfg: Config, variables: Mapping[str, Any], *, norm: Mapping[str, np.ndarray] | None,
               encoder: str, encoder_sha256: str) -> dict:
    """The initial variables with the encoder's top blocks and final layer norm in place (the weights
    the features were made with, checked by hash), and the input mapped back by the training statistics."""
    from ser_jax import encoders
    from ser_jax.encoders import _whisper as whisper
    from ser_jax.encoders import _whisper_frontend as whisper_frontend

    v = encoders.load(encoder, encoder_sha256)
    dims = whisper_frontend.dims_of(v, encoder)
    for field, have in (("heads", dims.heads), ("ffn", dims.ffn)):
        if getattr(cfg, field) != have:
            raise ValueError(f"--whisper_top.{field}={getattr(cfg, field)}: the encoder {encoder} has {have}; "
                             f"set --whisper_top.{field}={have}")
    enc = whisper.params_of(v)
    params = dict(variables["params"])
    for i in range(cfg.blocks):
        src = enc["blocks"][dims.layers - cfg.blocks + i]
        params[f"pretrained_block_{i}"] = {f"{name}_{part}": src[name][j] for name in _BLOCK_PARAMS
                                           for j, part in enumerate(("weight", "bias"))}
    params["pretrained_ln_post_weight"], params["pretrained_ln_post_bias"] = enc["ln_post"]
    if norm is not None:
        params["pretrained_input_scale"] = jnp.asarray(norm["std"], jnp.float32)
        params["pretrained_input_shift"] = jnp.asarray(norm["mean"], jnp.float32)
    return {**variables, "params": params}
