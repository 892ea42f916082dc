"""``crnn``: CNN -> BiLSTM -> attention -> dense, the original notebook's network, every part optional.

Default :class:`Config` is the original Keras model (FACTS.md): Conv1D(128, k5, same, ReLU) ->
BatchNorm -> Dropout 0.3 -> MaxPool(2) -> BiLSTM(64+64, input and recurrent dropout 0.3, all steps)
-> attention (Dense(1, tanh) per step, softmax over time, weighted sum) -> Dense(64, ReLU) ->
Dropout 0.5 -> Dense(num_classes). The model returns logits; the softmax lives in the loss.

Padded frames never matter. ``lengths`` gives each clip's true number of frames; frames past it are
zeroed before every convolution (so a clip sees the same zero "same"-padding at its end whatever the
batch's width), excluded from BatchNorm statistics, given exactly zero attention weight (or excluded
from the mean), and the backward LSTM starts at each clip's true end. A clip padded to T or T+k, with
any garbage in the padding, gives the same logits.

The BiLSTM is a hand-written loop rather than ``nn.RNN`` for two reasons: Keras' recurrent dropout
(one mask per sequence on h_{t-1}, shared over time) is not available in Flax cells, and running both
directions in one loop (stacked on a leading axis, input projections hoisted out of the loop, a
hand-written backward pass) halves the number of sequential steps, which is what dominates on a CPU.

Parameter names are a contract with ``optim.l2_mask``: ``conv_<i>``/``dense_<i>`` kernels are the
layers the original regularised with L2; ``bn_<i>``, ``bilstm_<i>``, ``attention`` and ``logits``
are not.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from ser_jax.fields import setting
from ser_jax.models._layers import check_int, reverse_valid, time_mask

Initializer = Callable[..., jax.Array]


# The tiny configuration tests run the model in (tests/models/test_models.py).
TINY = {"conv_filters": (8,), "conv_kernels": (3,), "lstm_units": 8, "dense_units": (8,)}


@dataclasses.dataclass(frozen=True)
class Config:
    """Architecture and regularisation of :class:`Model`; the defaults are the original model."""

    num_classes: int = 8  # set from the data
    conv_filters: tuple[int, ...] = setting((128,), "Filters per conv block; empty = no CNN block (and no pooling).")
    conv_kernels: tuple[int, ...] = setting((5,), "Kernel size per conv block.")
    conv_dropout: float = setting(0.3, "Dropout after each conv block.")
    pool_size: int = setting(2, "Max-pool size after the conv blocks ('valid', floor); 1 = none.")
    lstm_units: int = setting(64, "LSTM units per direction.")
    lstm_layers: int = setting(1, "Stacked BiLSTM layers (0 = none).")
    lstm_dropout: float = setting(0.3, "LSTM input dropout (one mask per sequence, shared over time, as Keras).")
    lstm_recurrent_dropout: float = setting(0.3, "LSTM recurrent dropout on h_{t-1} (mask shared over time).",
                                            flag="recurrent_dropout")
    attention: bool = setting(True, "Attention pooling over time (else masked mean pooling).")
    dense_units: tuple[int, ...] = setting((64,), "Hidden dense layers.")
    dense_dropout: float = setting(0.5, "Dropout after each hidden dense layer.")
    # Keras initialisers and BatchNorm epsilon (glorot_uniform kernels, orthogonal recurrent kernel,
    # forget-gate bias 1, BN epsilon 1e-3); False = Flax defaults (lecun_normal, zero biases, 1e-5).
    # True by default: the original's setting, and on ravdess-dev (holdout split, one seed each) it
    # reached a slightly better best validation accuracy than Flax's defaults with both the constant
    # and the cosine schedule (0.816 vs 0.810, 0.822 vs 0.804): within seed noise, not against it.
    keras_init: bool = setting(True, "Keras initialisers and BatchNorm epsilon (else Flax's defaults).")
    # Time steps per LSTM loop iteration. 1 measured fastest for a train step on the 2-core CPU
    # (2 and 4 were 1-3 ms slower and compile longer); results do not depend on it.
    unroll: int = setting(1, "LSTM time steps per loop iteration (speed only; results do not depend on it).")

    def __post_init__(self) -> None:
        # Tuples may arrive as lists (from JSON or flags); store tuples so the config stays hashable.
        for name in ("conv_filters", "conv_kernels", "dense_units"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                try:
                    object.__setattr__(self, name, tuple(value))
                except TypeError:
                    raise ValueError(f"crnn.{name}: expected a sequence of ints, got {value!r}") from None
        check_int("crnn", "num_classes", self.num_classes, 2)
        for name in ("conv_filters", "conv_kernels", "dense_units"):
            for v in getattr(self, name):
                check_int("crnn", name, v, 1, each=True)
        if len(self.conv_filters) != len(self.conv_kernels):
            raise ValueError(
                f"crnn.conv_kernels: {len(self.conv_kernels)} kernel sizes for "
                f"{len(self.conv_filters)} conv_filters; give one kernel size per conv block"
            )
        check_int("crnn", "pool_size", self.pool_size, 1)
        check_int("crnn", "lstm_units", self.lstm_units, 1)
        check_int("crnn", "lstm_layers", self.lstm_layers, 0)
        check_int("crnn", "unroll", self.unroll, 1)
        for name in ("conv_dropout", "lstm_dropout", "lstm_recurrent_dropout", "dense_dropout"):
            rate = getattr(self, name)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ValueError(f"crnn.{name}: a dropout rate must be in [0, 1), got {rate!r}")
        for name in ("attention", "keras_init"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"crnn.{name}: expected True or False, got {getattr(self, name)!r}")


# ----------------------------------------------------------------------------------------------
# Initialisers
# ----------------------------------------------------------------------------------------------


def _per_direction(init: Initializer) -> Initializer:
    """Initialise a (2, ...) parameter as two independent draws, one per LSTM direction."""

    def f(key, shape, dtype=jnp.float32):
        keys = jax.random.split(key, shape[0])
        return jnp.stack([init(k, shape[1:], dtype) for k in keys])

    return f


def _per_gate(init: Initializer, gates: int = 4) -> Initializer:
    """Initialise an (H, 4H) recurrent kernel as 4 independent (H, H) blocks, as Flax's LSTMCell does."""

    def f(key, shape, dtype=jnp.float32):
        keys = jax.random.split(key, gates)
        return jnp.concatenate([init(k, (shape[0], shape[1] // gates), dtype) for k in keys], axis=-1)

    return f


def _keras_lstm_bias(key, shape, dtype=jnp.float32):
    """Keras ``unit_forget_bias=True``: zeros, except 1 for the forget gate (gate order i, f, c, o)."""
    del key
    units = shape[-1] // 4
    row = jnp.concatenate([jnp.zeros(units), jnp.ones(units), jnp.zeros(2 * units)]).astype(dtype)
    return jnp.broadcast_to(row, shape)


def _kernel_init(keras: bool) -> Initializer:
    return nn.initializers.glorot_uniform() if keras else nn.initializers.lecun_normal()


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------


def _lstm_gates(z: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One LSTM step from pre-activations z (..., 4H), Keras gate order i, f, c, o: (c, h, gates)."""
    i, f, g, o = jnp.split(z, 4, axis=-1)
    i, f, g, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
    c = f * c + i * g
    h = o * jnp.tanh(c)
    return c, h, jnp.concatenate([i, f, g, o], axis=-1)


def _lstm_forward(proj, recurrent, rec_mask, unroll):
    """The recurrence over time for both directions at once.

    proj (2, B, T, 4H) holds x_t @ W + b for every step; recurrent (2, H, 4H); rec_mask (2, B, H)
    or None. Returns hs (2, B, T, H) and the residuals the backward pass needs (hs, cells, gates).
    Per-step slices are read and written in place in (2, B, T, .) buffers, so the big matmuls before
    and after the loop see contiguous per-direction data (no time-major transposes).
    """
    dirs, batch, steps, gates = proj.shape
    units = gates // 4
    zeros = jnp.zeros((dirs, batch, units), proj.dtype)

    def body(t, carry):
        c, h, acts_buf, c_buf = carry
        z_x = jax.lax.dynamic_index_in_dim(proj, t, axis=2, keepdims=False)
        if rec_mask is not None:
            h = h * rec_mask
        c, h, acts = _lstm_gates(z_x + jnp.einsum("dbh,dhg->dbg", h, recurrent), c)
        acts_buf = jax.lax.dynamic_update_index_in_dim(acts_buf, acts, t, axis=2)
        c_buf = jax.lax.dynamic_update_index_in_dim(c_buf, c, t, axis=2)
        return c, h, acts_buf, c_buf

    init = (zeros, zeros, jnp.zeros_like(proj), jnp.zeros((dirs, batch, steps, units), proj.dtype))
    _, _, acts, cs = jax.lax.fori_loop(0, steps, body, init, unroll=unroll)
    hs = acts[..., 3 * units:] * jnp.tanh(cs)
    return hs, (hs, cs, acts)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _lstm_scan(proj, recurrent, rec_mask, unroll):
    return _lstm_forward(proj, recurrent, rec_mask, unroll)[0]


def _lstm_scan_fwd(proj, recurrent, rec_mask, unroll):
    hs, saved = _lstm_forward(proj, recurrent, rec_mask, unroll)
    return hs, (saved, recurrent, rec_mask)


def _lstm_scan_bwd(unroll, residuals, d_hs):
    """Backward recurrence by hand: only dz_t and dh_{t-1} are computed inside the loop; the
    recurrent kernel's gradient is one matmul over all steps afterwards. Checked against autodiff
    of ``_lstm_forward`` in tests/models/test_crnn_lstm.py."""
    (hs, cs, acts), recurrent, rec_mask = residuals
    dirs, batch, steps, units = hs.shape
    zeros = jnp.zeros((dirs, batch, units), hs.dtype)
    recurrent_t = jnp.swapaxes(recurrent, 1, 2)

    def body(k, carry):
        dh_next, dc_next, dz_buf = carry
        t = steps - 1 - k
        a = jax.lax.dynamic_index_in_dim(acts, t, axis=2, keepdims=False)
        c = jax.lax.dynamic_index_in_dim(cs, t, axis=2, keepdims=False)
        cp = jnp.where(t > 0, jax.lax.dynamic_index_in_dim(cs, jnp.maximum(t - 1, 0), axis=2, keepdims=False), 0.0)
        dh = dh_next + jax.lax.dynamic_index_in_dim(d_hs, t, axis=2, keepdims=False)
        i, f, g, o = jnp.split(a, 4, axis=-1)
        tc = jnp.tanh(c)
        dc = dc_next + dh * o * (1.0 - tc * tc)
        dz = jnp.concatenate(
            [dc * g * i * (1.0 - i), dc * cp * f * (1.0 - f), dc * i * (1.0 - g * g), dh * tc * o * (1.0 - o)],
            axis=-1,
        )
        dh_prev = jnp.einsum("dbg,dgh->dbh", dz, recurrent_t)
        if rec_mask is not None:
            dh_prev = dh_prev * rec_mask
        dz_buf = jax.lax.dynamic_update_index_in_dim(dz_buf, dz, t, axis=2)
        return dh_prev, dc * f, dz_buf

    _, _, dz = jax.lax.fori_loop(0, steps, body, (zeros, zeros, jnp.zeros_like(acts)), unroll=unroll)
    h_prev = jnp.pad(hs[:, :, :-1], ((0, 0), (0, 0), (1, 0), (0, 0)))
    if rec_mask is not None:
        h_prev = h_prev * rec_mask[:, :, None, :]
    d_recurrent = jnp.einsum("dbth,dbtg->dhg", h_prev, dz)
    return dz, d_recurrent, None if rec_mask is None else jnp.zeros_like(rec_mask)


_lstm_scan.defvjp(_lstm_scan_fwd, _lstm_scan_bwd)


class BiLSTM(nn.Module):
    """Bidirectional LSTM (Keras gate order i, f, c, o; sigmoid gates; tanh cell), all steps returned.

    Both directions run in one loop with a leading direction axis of 2; the input projections of all
    steps are one matmul before the loop, and the backward pass is hand-written (``_lstm_scan_bwd``).
    Dropout follows Keras: one input mask and one recurrent mask per sequence
    and direction, reused at every step. Outputs at padded steps are zero. With ``intermediates``
    mutable the masks are sown as ``input_mask`` (2, B, D) and ``recurrent_mask`` (2, B, H).
    """

    units: int
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    keras_init: bool = True
    unroll: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array, *, train: bool) -> jax.Array:
        batch, steps, features = x.shape
        units = self.units
        if self.keras_init:
            k_init = _per_direction(nn.initializers.glorot_uniform())
            r_init = _per_direction(nn.initializers.orthogonal())
            b_init = _keras_lstm_bias
        else:  # flax.linen.LSTMCell's defaults
            k_init = _per_direction(nn.initializers.lecun_normal())
            r_init = _per_direction(_per_gate(nn.initializers.orthogonal()))
            b_init = nn.initializers.zeros_init()
        kernel = self.param("kernel", k_init, (2, features, 4 * units))
        recurrent = self.param("recurrent_kernel", r_init, (2, units, 4 * units))
        bias = self.param("bias", b_init, (2, 4 * units))

        # Direction axis first: the forward sequences, and each sequence reversed within its length.
        xs = jnp.stack([x, reverse_valid(x, lengths)])  # (2, B, T, D)
        if train and self.dropout > 0.0:
            keep = 1.0 - self.dropout
            in_mask = jax.random.bernoulli(self.make_rng("dropout"), keep, (2, batch, features)) / keep
            self.sow("intermediates", "input_mask", in_mask)
            xs = xs * in_mask[:, :, None, :]
        rec_mask = None
        if train and self.recurrent_dropout > 0.0:
            keep = 1.0 - self.recurrent_dropout
            rec_mask = jax.random.bernoulli(self.make_rng("dropout"), keep, (2, batch, units)) / keep
            self.sow("intermediates", "recurrent_mask", rec_mask)
        proj = jnp.einsum("dbtf,dfg->dbtg", xs, kernel) + bias[:, None, None, :]
        hs = _lstm_scan(proj, recurrent, rec_mask, self.unroll)  # (2, B, T, H)
        out = jnp.concatenate([hs[0], reverse_valid(hs[1], lengths)], axis=-1)  # back in time order
        return jnp.where(time_mask(lengths, steps)[:, :, None], out, 0.0)


class Model(nn.Module):
    """Speech emotion classifier over frame features; see the module docstring and :class:`Config`.

    ``__call__(x, lengths, train=...)``: x (B, T, F) float32, lengths (B,) int true frame counts
    (clipped to [1, T]); returns logits (B, num_classes). Training needs the ``dropout`` rng and a
    mutable ``batch_stats`` collection (when there is a CNN block).
    """

    config: Config

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array, *, train: bool) -> jax.Array:
        cfg = self.config
        if x.ndim != 3:
            raise ValueError(f"crnn: x must be (batch, frames, features), got shape {x.shape}")
        lengths = jnp.asarray(lengths)
        if lengths.shape != x.shape[:1]:
            raise ValueError(f"crnn: lengths must be ({x.shape[0]},) to match x, got shape {lengths.shape}")
        steps = x.shape[1]
        lengths = jnp.clip(jnp.asarray(lengths, jnp.int32), 1, steps)
        mask = time_mask(lengths, steps)[:, :, None]
        kernel_init = _kernel_init(cfg.keras_init)
        h = jnp.where(mask, x, 0.0)  # garbage (even NaN) in padding must not leak through the convs

        for i, (filters, width) in enumerate(zip(cfg.conv_filters, cfg.conv_kernels)):
            h = nn.Conv(filters, (width,), padding="SAME", kernel_init=kernel_init, name=f"conv_{i}")(h)
            h = nn.relu(h)
            h = nn.BatchNorm(
                use_running_average=not train,
                momentum=0.99,
                epsilon=1e-3 if cfg.keras_init else 1e-5,
                use_fast_variance=False,  # unscaled features: avoid E[x^2] - E[x]^2 cancellation
                name=f"bn_{i}",
            )(h, mask=mask)
            h = nn.Dropout(cfg.conv_dropout, deterministic=not train)(h)
            h = jnp.where(mask, h, 0.0)
        if cfg.conv_filters and cfg.pool_size > 1:
            pool = cfg.pool_size
            if steps // pool < 1:
                raise ValueError(f"crnn: {steps} frames is fewer than crnn.pool_size={pool}")
            # Padding must not win a max: fill it with the lowest float, pool, then zero it again.
            h = jnp.where(mask, h, jnp.finfo(h.dtype).min)
            steps = steps // pool  # 'valid' pooling drops the remainder, as Keras does
            # An elementwise maximum over a reshape: the same values as nn.max_pool, but its
            # gradient is a cheap select on the CPU instead of reduce-window bookkeeping. Not a
            # reduce-max (``.max(axis=2)``): XLA on CPU (jax 0.10.2) compiled a wrong gradient for
            # the conv layer under that one (tests/models/test_models.py checks against finite differences).
            r = h[:, : steps * pool].reshape(h.shape[0], steps, pool, h.shape[2])
            h = functools.reduce(jnp.maximum, [r[:, :, i] for i in range(pool)])
            lengths = jnp.maximum(1, lengths // pool)
            mask = time_mask(lengths, steps)[:, :, None]
            h = jnp.where(mask, h, 0.0)

        for i in range(cfg.lstm_layers):
            h = BiLSTM(
                cfg.lstm_units,
                dropout=cfg.lstm_dropout,
                recurrent_dropout=cfg.lstm_recurrent_dropout,
                keras_init=cfg.keras_init,
                unroll=cfg.unroll,
                name=f"bilstm_{i}",
            )(h, lengths, train=train)

        if cfg.attention:
            scores = nn.Dense(1, kernel_init=kernel_init, name="attention")(h)[..., 0]
            weights = jax.nn.softmax(jnp.tanh(scores), axis=-1, where=mask[..., 0])
            self.sow("intermediates", "attention_weights", weights)
            h = jnp.einsum("bt,btd->bd", weights, h)
        else:
            h = jnp.sum(h * mask, axis=1) / lengths[:, None].astype(h.dtype)

        for i, units in enumerate(cfg.dense_units):
            h = nn.Dense(units, kernel_init=kernel_init, name=f"dense_{i}")(h)
            h = nn.relu(h)
            h = nn.Dropout(cfg.dense_dropout, deterministic=not train)(h)
        return nn.Dense(cfg.num_classes, kernel_init=kernel_init, name="logits")(h)
